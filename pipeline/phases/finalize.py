"""Finalize: merge a plan's shards into a published run, the last phase of a run.

In:  a ``RunConfig`` and a run id whose shards have all been processed (wherever they ran).
Out: the ``RunReport`` (saved with the ledger whatever happens). In order: merge the shards'
     summaries; de-duplicate across shards and filter the staged files (``duplicates``); validate
     each landing date as a batch (``batches``); publish the dates that pass in one atomic step
     (``publish``); remove the run's staging. Raises ``BatchValidationError`` if a date failed
     (the others are published).
"""

from __future__ import annotations

import collections
import datetime as dt
import time

from ..config import RunConfig
from ..errors import BatchValidationError, StageError
from ..faults import fault_point
from ..output import Output, output_for
from .batches import validate_batches
from .duplicates import drop_duplicates, dropped_ids, final_files, write_ledger
from .memory import collection_due, release_memory
from .plan import Plan, load_plan
from .publish import publish_dates
from .report import Ledger, RunReport, write_report
from .summaries import load_summaries, merge_summaries


def _merge(
    config: RunConfig, out: Output, planned: Plan, report: RunReport, stage: collections.Counter, ledger: Ledger
) -> RunReport:
    summaries = load_summaries(out, planned)
    merge_summaries(report, planned, summaries, stage, ledger, out.staging(planned.run_id))
    if report.documents_seen == 0:
        report.status = "empty"
        out.drop_staging(planned.run_id)
        return report
    # What the shards' processing left in reference cycles.
    release_memory(collect=collection_due(report.documents_seen))
    staging = out.staging(planned.run_id)
    index_paths = [staging / f"shard-{i:05d}" / "index.parquet" for i in range(len(planned.shards))]
    # A date that fails its batch expectations is not published, so nothing may be dropped as a
    # duplicate of its articles: de-duplicate again without the failed dates until none fails anew
    # (one pass when every date passes).
    excluded: frozenset[str] = frozenset()
    while True:
        t0 = time.perf_counter()
        found = drop_duplicates(config, out, planned.keys, index_paths, report, excluded)
        dropped = dropped_ids(index_paths, found, excluded)
        fault_point("dedup:after_find")
        stage["dedup"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        staged = final_files(config, staging, summaries, dropped)
        stage["write"] += time.perf_counter() - t0
        staged.keys = [k for k in staged.keys if k not in excluded]
        failed_before = {k: v for k, v in report.batches.items() if k in excluded}
        _reset_counts(report)
        passed, failed = validate_batches(config, out, planned.run_id, staged, dropped, report, stage)
        report.batches.update(failed_before)
        fault_point("validate:after_batches")
        if not failed or not found:
            break
        excluded |= frozenset(failed)
        fault_point("dedup:redo")
    failed = {k: report.batches[k]["failures"] for k in sorted(set(failed) | excluded)}
    for key in failed:  # every article of a failed date is quarantined, none a duplicate
        info = report.batches[key]
        info["articles"], info["duplicates"] = info["articles"] + info["duplicates"], 0
    write_ledger(index_paths, found, frozenset(failed), ledger)
    fault_point("publish:before")
    t0 = time.perf_counter()
    publish_dates(out, planned, passed, failed, staged, index_paths, report)
    stage["publish"] += time.perf_counter() - t0
    fault_point("finalize:before_drop_staging")
    out.drop_staging(planned.run_id)
    if failed:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(failed.items()))
        raise BatchValidationError(
            [details], source=planned.source, report_path=f"{planned.output.rstrip('/')}/_runs/{planned.run_id}.json"
        )
    report.status = "succeeded"
    return report


def _reset_counts(report: RunReport) -> None:
    """What ``validate_batches`` tallies, before it runs again."""
    report.languages, report.date_sources, report.date_precisions = {}, {}, {}
    report.repaired_documents = 0


def finalize(config: RunConfig, run_id: str, started: float | None = None) -> RunReport:
    """Merge the shards of ``run_id``: de-duplicate (input order), validate each landing date as a
    batch, publish the dates that pass in one atomic step, write the run report and ledger.

    ``started``: the ``time.perf_counter()`` at which the run started, when one process ran it all."""
    started_given = started is not None
    started = started if started is not None else time.perf_counter()
    out = output_for(config)
    out.fetch_all(run_id)  # every shard's staged files, wherever they ran
    planned = load_plan(out, run_id)
    report = RunReport(
        run_id=run_id,
        status="failed",
        source=planned.source,
        output=planned.output,
        date=planned.date,
        started_at=planned.planned_at,
        shards=len(planned.shards),
    )
    stage: collections.Counter = collections.Counter()
    ledger = Ledger(out.work / "_runs" / f"{run_id}.ledger.parquet")
    try:
        with out.date_locks(planned.keys, run_id):  # re-entrant: run() holds them already
            return _merge(config, out, planned, report, stage, ledger)
    except StageError as exc:
        report.error = str(exc)
        raise
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        now = dt.datetime.now(dt.UTC)
        report.finished_at = now.isoformat(timespec="seconds")
        # Called by run(): time since run() started. Called on its own (the DAG's publish task): time
        # since the plan was made, so that the report covers every shard, wherever it ran.
        report.seconds = (
            round(time.perf_counter() - started, 3)
            if started_given
            else round((now - dt.datetime.fromisoformat(planned.planned_at)).total_seconds(), 3)
        )
        report.stage_seconds = {k: round(v, 3) for k, v in stage.items()}
        write_report(out, report, ledger)
