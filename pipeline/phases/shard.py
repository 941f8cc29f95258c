"""Shard: fetch, decode, parse, clean, date, describe and row-validate one shard of a plan.

In:  a ``RunConfig``, a run id and a shard index (the plan says which files).
Out: the shard's staged Parquet (``write.Stager``), its index (``records.INDEX_SCHEMA``: ids,
     hashes and signatures in input order, what finalize de-duplicates from) and a
     ``ShardSummary`` (``summary.json``, shared last: its presence says the shard is complete).
     Idempotent: a retry starts the shard over.

Worker processes run the tasks (``tasks.results``); this process validates chunks of about
``validate.chunk_rows`` articles with the row suite, quarantines the rows that fail and stages
the rest.
"""

from __future__ import annotations

import collections
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import RunConfig
from ..fetch import Source
from ..output import output_for
from ..records import ARTICLE_SCHEMA, INDEX_SCHEMA, QUARANTINE_SCHEMA, Quarantined, to_batch
from ..validate import Validator
from ..write import Stager, key_of
from .plan import load_plan, shard_items
from .report import reason_key, tally
from .tasks import TaskResult, make_tasks, release_memory, results


@dataclass
class ShardSummary:
    shard: int
    files: int
    workers: int
    documents: int = 0
    quarantined: int = 0
    articles: int = 0
    bytes_read: int = 0
    skipped: list[dict] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_by_stage: dict[str, int] = field(default_factory=dict)
    quarantine_ledger: list[list] = field(default_factory=list)  # [source_uri, article_id, reason]
    encodings: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # landing dates with a staged row
    # Staged files per landing date: {key: {relative path: rows}}
    article_files: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantine_files: dict[str, dict[str, int]] = field(default_factory=dict)
    raw_files: dict[str, dict[str, int]] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    hostname: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> ShardSummary:
        return cls(**json.loads(text))


class _ShardWriter:
    """Row-validates, stages and indexes a shard's results as they arrive, in chunks."""

    def __init__(self, root: Path, index: int, config: RunConfig, summary: ShardSummary):
        self.config = config
        self.summary = summary
        self.stager = Stager(root, index, config.write)
        self.validator = Validator(config.validate) if config.validate.enabled else None
        self.gx_loading = self.validator.load_in_background(ARTICLE_SCHEMA) \
            if self.validator and summary.workers > 1 else None
        self.stage: collections.Counter = collections.Counter()
        # Written as it grows, in row groups whose landing_key statistics let finalize read one date.
        self.index = pq.ParquetWriter(root / "index.parquet", INDEX_SCHEMA, compression="zstd")
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.seq = 0
        self.keys: set[str] = set()

    def quarantine(self, rows: list[Quarantined]) -> None:
        if not rows:
            return
        s = self.summary
        self.stager.add_quarantine(to_batch(rows, QUARANTINE_SCHEMA), [key_of(q.landing_date) for q in rows])
        s.quarantined += len(rows)
        for q in rows:
            self.keys.add(key_of(q.landing_date))
            reason = reason_key(q)
            s.quarantine_reasons[reason] = s.quarantine_reasons.get(reason, 0) + 1
            s.quarantine_by_stage[q.stage] = s.quarantine_by_stage.get(q.stage, 0) + 1
            s.quarantine_ledger.append([q.source_uri, q.article_id, q.reason])

    def add(self, result: TaskResult) -> None:
        s = self.summary
        self.stage["process (workers, summed)"] += result.seconds
        s.documents += result.documents
        s.bytes_read += result.bytes_read
        s.skipped.extend({"source_uri": k.source_uri, "reason": k.reason} for k in result.skipped)
        self.quarantine(result.quarantined)
        if result.raw:
            t0 = time.perf_counter()
            self.stager.add_raw(result.raw)
            self.stage["write raw"] += time.perf_counter() - t0
        if result.articles.num_rows:
            batch = result.articles
            self.buffer.append(batch)
            self.buffered += batch.num_rows
            tally(s.encodings, batch.column("encoding").to_pylist())
            tally(s.formats, batch.column("format").to_pylist())
            if self.buffered >= self.config.validate.chunk_rows:
                self.flush()

    def _failed_rows(self, table: pa.Table) -> pa.Table:
        """Quarantine the rows of ``table`` that break the row suite; the others."""
        if self.gx_loading is not None and self.gx_loading.is_alive():  # import time is counted by the thread
            self.gx_loading.join()
        t0 = time.perf_counter()
        failures = self.validator.rows(table) if self.validator else []
        self.stage["validate rows"] += time.perf_counter() - t0
        if not failures:
            return table
        bad = {f.index: f for f in failures}
        rows = table.take(pa.array(list(bad), pa.int64())).to_pylist()
        self.quarantine([
            Quarantined(source_uri=r["source_uri"], source_path=r["source_path"], landing_date=r["landing_date"],
                        stage="validate", reason=f.reason, expectation=", ".join(f.expectations),
                        article_id=r["article_id"], encoding=r["encoding"], size_bytes=len(r["text"].encode()),
                        raw_sha256=r["raw_sha256"], raw=None, text_excerpt=r["text"][:2000])
            for f, r in zip(bad.values(), rows)
        ])
        return table.filter(pa.array([i not in bad for i in range(table.num_rows)]))

    def flush(self) -> None:
        if not self.buffer:
            return
        table = pa.Table.from_batches(self.buffer, schema=ARTICLE_SCHEMA)
        self.buffer, self.buffered = [], 0
        table = self._failed_rows(table)
        if table.num_rows == 0:
            return
        t0 = time.perf_counter()
        keys = [key_of(d) for d in table.column("landing_date").to_pylist()]
        self.keys.update(keys)
        self.stager.add_articles(table, keys)
        self.index.write_table(pa.Table.from_pydict({
            "seq": list(range(self.seq, self.seq + table.num_rows)), "article_id": table.column("article_id"),
            "source_uri": table.column("source_uri"), "landing_key": keys,
            "content_sha256": table.column("content_sha256"), "minhash": table.column("minhash"),
            "raw_sha256": table.column("raw_sha256")}, schema=INDEX_SCHEMA))
        self.seq += table.num_rows
        del table
        release_memory()
        self.stage["write"] += time.perf_counter() - t0

    def close(self) -> None:
        self.flush()
        if self.gx_loading is not None:
            self.gx_loading.join()
            self.stage["gx import (background)"] = self.validator.load_seconds
        self.stager.close()
        self.index.close()
        s = self.summary
        s.articles = self.seq
        s.keys = sorted(self.keys)
        s.article_files = {k: v.article_files for k, v in self.stager.keys.items()}
        s.quarantine_files = {k: v.quarantine_files for k, v in self.stager.keys.items()}
        s.raw_files = {k: v.raw_files for k, v in self.stager.keys.items()}


def process_shard(config: RunConfig, run_id: str, index: int,
                  on_progress: Callable[[dict], None] | None = None) -> ShardSummary:
    """Process shard ``index`` of the plan of ``run_id``; returns its summary."""
    started = time.perf_counter()
    out = output_for(config)
    planned = load_plan(out, run_id)
    n_files = planned.shards[index].files
    root = out.staging(run_id) / f"shard-{index:05d}"
    summary = ShardSummary(shard=index, files=n_files, workers=min(config.effective_workers(), max(1, n_files)))
    writer = _ShardWriter(root, index, config, summary)
    tasks = make_tasks(shard_items(out, planned, index), config.task_files, config.task_bytes)
    files_done, last = 0, 0.0
    t_process = time.perf_counter()
    for result in results(Source(planned.source, config.storage_options), tasks, config, summary.workers):
        files_done += result.files
        writer.add(result)
        now = time.perf_counter()
        if on_progress and (now - last > 1.0 or files_done == n_files):
            last = now
            on_progress({"files_done": files_done, "files": n_files, "documents": summary.documents,
                         "articles": writer.seq, "quarantined": summary.quarantined, "seconds": now - started})
    writer.flush()
    writer.stage["process (wall)"] = time.perf_counter() - t_process
    writer.close()
    summary.stage_seconds = {k: round(v, 3) for k, v in writer.stage.items()}
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.hostname = os.uname().nodename
    tmp = root / ".summary.json.tmp"
    tmp.write_text(summary.to_json(), encoding="utf-8")
    os.replace(tmp, root / "summary.json")
    # The summary goes last: its presence says the shard is complete.
    out.share(run_id, sorted(p for p in root.rglob("*") if p.is_file() and p.name != "summary.json"))
    out.share(run_id, [root / "summary.json"])
    out.release(root)
    return summary
