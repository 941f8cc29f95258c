"""Summaries: what the shards of a run report, read back and added up for ``finalize``.

In:  the run's ``Output`` and ``Plan``; each shard's ``ShardSummary`` (saved by ``process_shard``).
Out: the summaries (``load_summaries``: a missing one is a clear error naming the shard), and the
     ``RunReport`` counts and the ledger rows of quarantined and skipped inputs
     (``merge_summaries``; the quarantined ones streamed from each shard's
     ``quarantine_ledger.parquet`` a batch at a time).
"""

from __future__ import annotations

import collections
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StageError
from ..output import Output
from ..records import LEDGER_SCHEMA, LedgerEntry
from .plan import Plan
from .report import Ledger, RunReport, add_counts
from .shard import ShardSummary
from .stage import QUARANTINE_LEDGER


def load_summaries(out: Output, planned: Plan) -> list[ShardSummary]:
    summaries = []
    for index in range(len(planned.shards)):
        path = out.staging(planned.run_id) / f"shard-{index:05d}" / "summary.json"
        if not path.exists():
            raise _rerun_shard(f"shard {index} of run {planned.run_id} has not been processed", path)
        summaries.append(ShardSummary.from_json(path.read_text(encoding="utf-8")))
    return summaries


def merge_summaries(
    report: RunReport,
    planned: Plan,
    summaries: list[ShardSummary],
    stage: collections.Counter,
    ledger: Ledger,
    staging: Path,
) -> None:
    report.files_skipped = list(planned.skipped)
    report.files_seen = sum(s.files for s in summaries)
    for s in summaries:
        report.documents_seen += s.documents
        report.quarantined += s.quarantined
        report.bytes_read += s.bytes_read
        report.files_skipped.extend(s.skipped)
        report.workers = max(report.workers, s.workers)
        for name in ("quarantine_reasons", "quarantine_by_stage", "encodings", "formats"):
            add_counts(getattr(report, name), getattr(s, name))
        for k, v in s.stage_seconds.items():
            stage[k] += v
        _quarantine_ledger(staging / f"shard-{s.shard:05d}" / QUARANTINE_LEDGER, s, ledger)
    # Files left out (listing or reading: links, FIFOs, unreadable folders) are in the ledger too.
    ledger.add([LedgerEntry(k["source_uri"], "skipped", None, None, k["reason"]) for k in report.files_skipped])


def _rerun_shard(what: str, path: Path) -> StageError:
    return StageError("run", what, source=str(path), hint="rerun its process_shard task, then finalize again")


def _quarantine_ledger(path: Path, summary: ShardSummary, ledger: Ledger) -> None:
    """A shard's quarantined documents into the run's ledger, a batch at a time (a shard may
    quarantine millions: one per broken JSON line)."""
    if not summary.quarantined:
        return
    rows = pq.ParquetFile(path).metadata.num_rows if path.exists() else 0
    if rows != summary.quarantined:  # missing, or of another attempt of the shard: never a silent gap
        raise _rerun_shard(
            f"shard {summary.shard} quarantined {summary.quarantined:,} documents but its ledger has {rows:,}", path
        )
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        n = batch.num_rows
        ledger.write(
            pa.record_batch(
                [
                    batch.column("source_uri"),
                    pa.array(["quarantined"] * n, pa.string()),
                    batch.column("article_id"),
                    pa.nulls(n, pa.string()),
                    batch.column("reason"),
                ],
                schema=LEDGER_SCHEMA,
            )
        )
