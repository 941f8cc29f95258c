"""Shard: fetch, decode, parse, clean, date, describe and row-validate one shard of a plan.

In:  a ``RunConfig``, a run id and a shard index (the plan says which files).
Out: the shard's staged Parquet (``write.Stager``), its index (``records.INDEX_SCHEMA``: ids,
     hashes and signatures in input order, what finalize de-duplicates from) and a
     ``ShardSummary`` (``summary.json``, shared last: its presence says the shard is complete).
     Idempotent: a retry starts the shard over.

Worker processes run the tasks (``pool.results``); this process validates, stages and indexes
their results in chunks (``stage.ShardStager``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..config import RunConfig
from ..faults import fault_point
from ..fetch import Source
from ..output import output_for
from .plan import load_plan, shard_items
from .pool import results
from .stage import ShardStager
from .tasks import make_tasks


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


def process_shard(
    config: RunConfig, run_id: str, index: int, on_progress: Callable[[dict], None] | None = None
) -> ShardSummary:
    """Process shard ``index`` of the plan of ``run_id``; returns its summary."""
    started = time.perf_counter()
    out = output_for(config)
    planned = load_plan(out, run_id)
    n_files = planned.shards[index].files
    root = out.staging(run_id) / f"shard-{index:05d}"
    summary = ShardSummary(shard=index, files=n_files, workers=min(config.effective_workers(), max(1, n_files)))
    writer = ShardStager(root, index, config, summary)
    tasks = make_tasks(shard_items(out, planned, index), config.task_files, config.task_bytes)
    files_done, last = 0, 0.0
    t_process = time.perf_counter()

    def progress() -> dict:
        return {
            "files_done": files_done,
            "files": n_files,
            "documents": summary.documents,
            "articles": writer.seq,
            "quarantined": summary.quarantined,
            "seconds": time.perf_counter() - started,
        }

    try:
        for result in results(Source(planned.source, config.storage_options), tasks, config, summary.workers):
            files_done += result.files
            writer.add(result)
            del result  # the stager holds it until staged (a bounded queue), not this loop
            fault_point("shard:task")
            now = time.perf_counter()
            if on_progress and now - last > 1.0:
                last = now
                on_progress(progress())
        writer.flush()
        if on_progress:  # the counts once everything queued is staged
            on_progress(progress())
    except BaseException:
        # Interrupted or failed: the staging thread stops before the run removes its staging,
        # so that it cannot write a file there afterwards.
        writer.abort()
        raise
    writer.stage["process (wall)"] = time.perf_counter() - t_process
    writer.close()
    summary.stage_seconds = {k: round(v, 3) for k, v in writer.stage.items()}
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.hostname = os.uname().nodename
    fault_point("shard:before_summary")
    tmp = root / ".summary.json.tmp"
    tmp.write_text(summary.to_json(), encoding="utf-8")
    os.replace(tmp, root / "summary.json")
    # The summary goes last: its presence says the shard is complete.
    out.share(run_id, sorted(p for p in root.rglob("*") if p.is_file() and p.name != "summary.json"))
    out.share(run_id, [root / "summary.json"])
    fault_point("shard:after_summary")
    out.release(root)
    return summary
