"""Stage: row-validate a shard's articles in chunks, stage them and index them.

In:  the ``TaskResult`` of each task of a shard, in task order; the shard's folder and summary.
Out: the shard's staged Parquet (``write.Stager``): articles that pass the row suite, quarantine
     rows (the tasks' and the row suite's, with the failed expectations); its index
     (``records.INDEX_SCHEMA``, in input order); the ``ShardSummary`` counts.

Chunks of about ``validate.chunk_rows`` articles: GX costs about 55 ms a call on top of its
per-row cost, and a chunk's memory stays bounded whatever the shard's size.

Staging runs on a thread of its own, in the order results arrive, while the caller goes on with
the next tasks (with one worker, the next articles): Parquet encoding and compression, Arrow's
regexes and conversions release the GIL, so they use a second core. At most ``QUEUED_RESULTS``
results and ``QUEUED_BYTES`` of input wait for it (bounded memory); its first error is raised by
the next call.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import RunConfig
from ..records import (
    ARTICLE_SCHEMA,
    INDEX_SCHEMA,
    QUARANTINE_LEDGER_SCHEMA,
    QUARANTINE_SCHEMA,
    Quarantined,
    to_batch,
)
from ..validate import Validator
from ..write import Stager, key_of
from .memory import release_memory
from .report import reason_group, tally
from .tasks import TaskResult

if TYPE_CHECKING:
    from .shard import ShardSummary


QUARANTINE_LEDGER = "quarantine_ledger.parquet"  # in the shard's folder
_QUARANTINE_SLICE = 10_000
QUEUED_RESULTS = 16  # task results waiting for the staging thread (a task: tens of articles)
QUEUED_BYTES = 64 * 2**20  # and at most this many bytes of input in them (a task may be 16 MiB)


class ShardStager:
    """Row-validates, stages and indexes a shard's results as they arrive, in chunks."""

    def __init__(self, root: Path, index: int, config: RunConfig, summary: ShardSummary):
        self.config = config
        self.summary = summary
        self.stager = Stager(root, index, config.write)
        self.validator = Validator(config.validate) if config.validate.enabled else None
        self.gx_loading = (
            self.validator.load_in_background(ARTICLE_SCHEMA) if self.validator and summary.workers > 1 else None
        )
        self.stage: collections.Counter = collections.Counter()
        # Written as it grows, in row groups whose landing_key statistics let finalize read one date.
        self.index = pq.ParquetWriter(root / "index.parquet", INDEX_SCHEMA, compression="zstd")
        # One row per quarantined document, on disk as it grows (``summaries.merge_summaries``
        # streams it into the run's ledger): the summary stays small whatever the shard quarantines.
        self.quarantine_ledger = pq.ParquetWriter(
            root / QUARANTINE_LEDGER, QUARANTINE_LEDGER_SCHEMA, compression="zstd"
        )
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.seq = 0
        self.keys: set[str] = set()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="news-etl-stage")
        self._queued: collections.deque[tuple[Future, int]] = collections.deque()
        self._queued_bytes = 0

    def _submit(self, fn, *args, nbytes: int = 0) -> None:
        """Run ``fn`` on the staging thread after what is queued (at most ``QUEUED_RESULTS`` calls
        and ``QUEUED_BYTES`` of input); raise a queued call's error."""
        while self._queued and (
            self._queued[0][0].done()
            or len(self._queued) >= QUEUED_RESULTS
            or self._queued_bytes + nbytes > QUEUED_BYTES
        ):
            done, size = self._queued.popleft()
            self._queued_bytes -= size
            done.result()
        self._queued.append((self._thread.submit(fn, *args), nbytes))
        self._queued_bytes += nbytes

    def _drain(self) -> None:
        """Wait for everything queued; raise the first error."""
        try:
            while self._queued:
                done, size = self._queued.popleft()
                self._queued_bytes -= size
                done.result()
        except BaseException:
            for f, _ in self._queued:
                f.cancel()
            self._queued.clear()
            self._queued_bytes = 0
            raise

    def add(self, result: TaskResult) -> None:
        """Stage one task's result (on the staging thread, in order)."""
        self._submit(self._add, result, nbytes=result.bytes_read)

    def flush(self) -> None:
        """Validate and stage what is buffered, and wait until everything queued is staged."""
        self._submit(self._flush)
        self._drain()

    def quarantine(self, rows: list[Quarantined] | pa.Table) -> None:
        """Stage, count and ledger quarantine rows (``QUARANTINE_SCHEMA``), a slice at a time: a
        file of many broken records is one row per record, never copied all at once."""
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_batches([to_batch(rows, QUARANTINE_SCHEMA)])
        for start in range(0, table.num_rows, _QUARANTINE_SLICE):
            self._quarantine(table.slice(start, _QUARANTINE_SLICE))
        if table.num_rows > _QUARANTINE_SLICE:  # hand that memory back once staged
            release_memory()

    def _quarantine(self, part: pa.Table) -> None:
        if part.num_rows == 0:
            return
        s = self.summary
        keys = [key_of(d) for d in part.column("landing_date").to_pylist()]
        self.stager.add_quarantine(part, keys)
        s.quarantined += part.num_rows
        self.keys.update(keys)
        stages = part.column("stage").to_pylist()
        for stage, reason, expectation in zip(
            stages, part.column("reason").to_pylist(), part.column("expectation").to_pylist()
        ):
            key = reason_group(stage, reason, expectation)
            s.quarantine_reasons[key] = s.quarantine_reasons.get(key, 0) + 1
        tally(s.quarantine_by_stage, stages)
        self.quarantine_ledger.write_table(
            pa.Table.from_arrays(
                [part.column(name) for name in QUARANTINE_LEDGER_SCHEMA.names], schema=QUARANTINE_LEDGER_SCHEMA
            )
        )

    def _add(self, result: TaskResult) -> None:
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
                self._flush()

    def _failed_rows(self, table: pa.Table) -> pa.Table:
        """Quarantine the rows of ``table`` that break the row suite; the others."""
        if self.gx_loading is not None and self.gx_loading.is_alive():  # import time is counted by the thread
            self.gx_loading.join()
        elif self.validator and self.gx_loading is None and "gx import" not in self.stage:
            self.validator.load(ARTICLE_SCHEMA)  # GX's import apart from the rows' validation
            self.stage["gx import"] = self.validator.load_seconds
        t0 = time.perf_counter()
        failures = self.validator.rows(table) if self.validator else []
        self.stage["validate rows"] += time.perf_counter() - t0
        if not failures:
            return table
        bad = {f.index: f for f in failures}
        rows = table.take(pa.array(list(bad), pa.int64())).to_pylist()
        self.quarantine(
            [
                Quarantined(
                    source_uri=r["source_uri"],
                    source_path=r["source_path"],
                    landing_date=r["landing_date"],
                    stage="validate",
                    reason=f.reason,
                    expectation=", ".join(f.expectations),
                    article_id=r["article_id"],
                    encoding=r["encoding"],
                    size_bytes=len(r["text"].encode()),
                    raw_sha256=r["raw_sha256"],
                    raw=None,
                    text_excerpt=r["text"][:2000],
                )
                for f, r in zip(bad.values(), rows)
            ]
        )
        return table.filter(pa.array([i not in bad for i in range(table.num_rows)]))

    def _flush(self) -> None:
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
        self.index.write_table(
            pa.Table.from_pydict(
                {
                    "seq": list(range(self.seq, self.seq + table.num_rows)),
                    "article_id": table.column("article_id"),
                    "source_uri": table.column("source_uri"),
                    "landing_key": keys,
                    "content_sha256": table.column("content_sha256"),
                    "minhash": table.column("minhash"),
                    "raw_sha256": table.column("raw_sha256"),
                },
                schema=INDEX_SCHEMA,
            )
        )
        self.seq += table.num_rows
        del table
        release_memory()
        self.stage["write"] += time.perf_counter() - t0

    def abort(self) -> None:
        """Stop staging: what is queued is dropped, what runs finishes; then the writers close."""
        for f, _ in self._queued:
            f.cancel()
        self._queued.clear()
        self._queued_bytes = 0
        self._thread.shutdown(wait=True, cancel_futures=True)
        for close in (self.stager.close, self.index.close, self.quarantine_ledger.close):
            try:
                close()
            except Exception:  # the run's own error is the one to report
                pass

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._thread.shutdown(wait=True, cancel_futures=True)
        if self.gx_loading is not None:
            self.gx_loading.join()
            self.stage["gx import (background)"] = self.validator.load_seconds
        self.stager.close()
        self.index.close()
        self.quarantine_ledger.close()
        s = self.summary
        s.articles = self.seq
        s.keys = sorted(self.keys)
        s.article_files = {k: v.article_files for k, v in self.stager.keys.items()}
        s.quarantine_files = {k: v.quarantine_files for k, v in self.stager.keys.items()}
        s.raw_files = {k: v.raw_files for k, v in self.stager.keys.items()}
