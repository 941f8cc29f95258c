"""Run: compose the phases into one batch run. The one entry point of the CLI and the DAGs.

In:  a ``RunConfig`` (source, output, optional landing date, stage configs).
Out: published Parquet (through ``pipeline.output``), a run report ``OUT/_runs/<run_id>.json`` and
     a ledger ``OUT/_runs/<run_id>.ledger.parquet`` with one row per document (written,
     quarantined or duplicate: nothing an input held goes unaccounted for); returns the
     ``RunReport``. Raises ``StageError`` when the run cannot complete (the report still says why).

A run is three phases (``pipeline.phases``), which the DAG runs as separate tasks, on as many
machines as it likes, and ``run`` runs in this process and its workers::

    plan(config, shards)            -> Plan           list the source, cut it into shards
    process_shard(config, run, i)   -> ShardSummary   fetch .. row-validate shard i, stage its Parquet
    finalize(config, run)           -> RunReport      de-duplicate, validate each date, publish, report

Flow inside a shard: worker processes fetch, decode, parse, clean, date and describe each
document and send back one Arrow batch per task; this process validates chunks with the row
suite and stages Parquet. Finalize drops duplicates (same or nearly the same text; the first in
path order wins), validates each landing date with the batch suite, and publishes the dates that
passed in one atomic step. At most ``2 x workers`` tasks are in flight, so memory stays bounded
whatever the corpus size, and the output is the same with one worker or many.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from .config import RunConfig
from .errors import StageError
from .output import output_for
from .phases.finalize import finalize
from .phases.plan import Plan, new_run_id, plan
from .phases.report import RunReport, write_report
from .phases.shard import ShardSummary, process_shard
from .phases.tasks import TaskResult, make_tasks, process_task
from .validate import Validator

__all__ = ["Plan", "RunReport", "ShardSummary", "TaskResult", "finalize", "make_tasks", "new_run_id", "plan",
           "process_shard", "process_task", "run"]


def run(config: RunConfig, on_progress: Callable[[dict], None] | None = None) -> RunReport:
    """Run the pipeline once, in this process and its workers: plan, one shard, finalize."""
    started = time.perf_counter()
    out = output_for(config)
    run_id = config.run_id or new_run_id(config.date)
    config = config.with_(run_id=run_id)
    try:
        if config.validate.enabled:
            Validator(config.validate)  # a missing or broken suite fails before any work
        out.work.mkdir(parents=True, exist_ok=True)
        plan(config, shards=1)
        process_shard(config, run_id, 0, on_progress)
    except StageError as exc:
        report = RunReport(run_id=run_id, status="failed", source=config.source, output=out.location,
                           date=config.date, started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                           error=str(exc))
        write_report(out, report, None)
        raise
    return finalize(config, run_id, started)
