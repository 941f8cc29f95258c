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
import errno
import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack

from .config import RunConfig
from .errors import PublishError, StageError
from .locks import alive, clean_dead_staging
from .output import output_for
from .phases.finalize import finalize
from .phases.plan import Plan, new_run_id, plan
from .phases.report import RunReport, write_report
from .phases.shard import ShardSummary, process_shard
from .phases.tasks import TaskResult, make_tasks, process_task
from .validate import Validator

log = logging.getLogger("news_etl")

__all__ = [
    "Plan",
    "RunReport",
    "ShardSummary",
    "TaskResult",
    "finalize",
    "make_tasks",
    "new_run_id",
    "plan",
    "process_shard",
    "process_task",
    "run",
]


def run(config: RunConfig, on_progress: Callable[[dict], None] | None = None) -> RunReport:
    """Run the pipeline once, in this process and its workers: plan, one shard, finalize.

    Before any work: the output must be one a run may publish over (``Output.verify``), the
    staging of runs that died is removed, and every landing date of the plan is locked (a second
    run of a date fails at once, naming the owner). A run that fails or is interrupted removes its
    staging; one that cannot write says where and how much space is free."""
    started = time.perf_counter()
    out = output_for(config)
    run_id = config.run_id or new_run_id(config.date)
    config = config.with_(run_id=run_id)
    staging_root = out.staging(run_id).parent
    try:
        with ExitStack() as stack:
            try:
                if config.validate.enabled:
                    Validator(config.validate)  # a missing or broken suite fails before any work
                out.work.mkdir(parents=True, exist_ok=True)
                staging_root.mkdir(parents=True, exist_ok=True)
                stack.enter_context(alive(staging_root, run_id))
                stack.callback(_drop_quietly, out, run_id)  # whatever happens: the run's staging goes
                clean_dead_staging(staging_root, lambda dead: _drop_dead(out, dead))
                planned = plan(config, shards=1)  # the first write: where a missing bucket shows
                out.verify()  # a lost `current`, a garbage or foreign manifest: stop, touch nothing
                stack.enter_context(out.date_locks(planned.keys, run_id))
                process_shard(config, run_id, 0, on_progress)
            except StageError as exc:
                report = RunReport(
                    run_id=run_id,
                    status="failed",
                    source=config.source,
                    output=out.location,
                    date=config.date,
                    started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    error=str(exc),
                )
                write_report(out, report, None)
                raise
            return finalize(config, run_id, started)
    except OSError as exc:
        raise _cannot_write(exc, out) from exc


def _drop_quietly(out, run_id: str) -> None:
    """Remove a run's staging; a failure here must not hide the run's own error."""
    try:
        out.drop_staging(run_id)
    except Exception as exc:
        log.warning("could not remove the staging of run %s: %s", run_id, exc)


def _drop_dead(out, run_id: str) -> None:
    """The leftovers of a run that died: its staging and its unfinished ledger and report."""
    out.drop_staging(run_id)
    for tmp in (out.work / "_runs").glob(f".{run_id}.*"):
        tmp.unlink(missing_ok=True)


NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _cannot_write(exc: OSError, out) -> Exception:
    """An ``OSError`` of the output as one line: the path, why, and the free space; anything
    else unchanged."""
    code = exc.errno
    text = str(exc)
    if code is None:  # Arrow's IO errors carry the errno in their text only
        code = next((c for c in NO_SPACE if os.strerror(c) in text), None)
    if code not in NO_SPACE:
        return exc
    where = exc.filename or out.work
    try:
        free = shutil.disk_usage(out.work).free
        space = f"; {free / 1e6:,.1f} MB free on {out.work}"
    except OSError:
        space = ""
    hint = (
        "free space on it (a run needs about twice the size of the dates it publishes while it publishes) and rerun"
        if code in (errno.ENOSPC, errno.EDQUOT)
        else "make the output writable for this user, or pass another --output"
    )
    return PublishError(
        f"cannot write {where}: {os.strerror(code)}{space}",
        source=out.location,
        hint=hint + "; the published dates are unchanged",
    )
