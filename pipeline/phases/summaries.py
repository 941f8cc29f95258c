"""Summaries: what the shards of a run report, read back and added up for ``finalize``.

In:  the run's ``Output`` and ``Plan``; each shard's ``ShardSummary`` (saved by ``process_shard``).
Out: the summaries (``load_summaries``: a missing one is a clear error naming the shard), and the
     ``RunReport`` counts and the ledger rows of quarantined and skipped inputs
     (``merge_summaries``).
"""

from __future__ import annotations

import collections

import pyarrow as pa

from ..errors import StageError
from ..output import Output
from ..records import LEDGER_SCHEMA, LedgerEntry
from .plan import Plan
from .report import Ledger, RunReport, add_counts
from .shard import ShardSummary


def load_summaries(out: Output, planned: Plan) -> list[ShardSummary]:
    summaries = []
    for index in range(len(planned.shards)):
        path = out.staging(planned.run_id) / f"shard-{index:05d}" / "summary.json"
        if not path.exists():
            raise StageError(
                "run",
                f"shard {index} of run {planned.run_id} has not been processed",
                source=str(path),
                hint="rerun its process_shard task, then finalize again",
            )
        summaries.append(ShardSummary.from_json(path.read_text(encoding="utf-8")))
    return summaries


def merge_summaries(
    report: RunReport, planned: Plan, summaries: list[ShardSummary], stage: collections.Counter, ledger: Ledger
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
        rows, s.quarantine_ledger = s.quarantine_ledger, []  # written, then freed: one row per record
        for i in range(0, len(rows), 10_000):  # columns a chunk at a time, never an object per row
            chunk = rows[i : i + 10_000]
            ledger.write(
                pa.record_batch(
                    [
                        [r[0] for r in chunk],
                        ["quarantined"] * len(chunk),
                        [r[1] for r in chunk],
                        [None] * len(chunk),
                        [r[2] for r in chunk],
                    ],
                    schema=LEDGER_SCHEMA,
                )
            )
        del rows
    # Files left out (listing or reading: links, FIFOs, unreadable folders) are in the ledger too.
    ledger.add([LedgerEntry(k["source_uri"], "skipped", None, None, k["reason"]) for k in report.files_skipped])
