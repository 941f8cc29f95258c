"""Report: what a run did, every input accounted for, the last phase of a run.

In:  the counts each phase adds to a ``RunReport`` and the ledger entries of each document.
Out: ``OUT/_runs/<run_id>.json`` (the ``RunReport``) and ``OUT/_runs/<run_id>.ledger.parquet``
     (``records.LEDGER_SCHEMA``: one row per input document, written, quarantined or duplicate),
     saved through the output. Written even when the run fails: the report says why.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..faults import fault_point
from ..output import Output
from ..records import LEDGER_SCHEMA, LedgerEntry, to_batch

log = logging.getLogger("news_etl")


@dataclass
class RunReport:
    run_id: str
    status: str  # succeeded | failed | empty
    source: str
    output: str
    date: str | None
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    workers: int = 1
    shards: int = 1
    pipeline_version: str = __version__
    files_seen: int = 0
    documents_seen: int = 0
    articles_written: int = 0
    quarantined: int = 0
    duplicates: int = 0
    duplicate_kinds: dict[str, int] = field(default_factory=dict)
    published_indexed: int = 0
    bytes_read: int = 0
    files_skipped: list[dict] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_by_stage: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    date_sources: dict[str, int] = field(default_factory=dict)
    date_precisions: dict[str, int] = field(default_factory=dict)
    repaired_documents: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    batches: dict[str, dict] = field(default_factory=dict)  # per landing date: counts, published
    published_snapshot: str | None = None
    partitions: list[str] = field(default_factory=list)
    data_docs: str | None = None
    ledger: str | None = None
    error: str | None = None

    def balanced(self) -> bool:
        return self.documents_seen == self.articles_written + self.quarantined + self.duplicates

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        return cls(**json.loads(text))


def reason_group(stage: str | None, reason: str | None, expectation: str | None) -> str:
    """The quarantine reason counted in reports and plotted: the expectation, else the stage and
    the reason's first words, numbers replaced by N. Positions vary from record to record ("line
    2, column 7", "item 12"): one count per kind of error, never one per broken line of a file."""
    if expectation:
        return expectation
    return re.sub(r"\d+", "N", f"{stage}: {(reason or '').split(':')[0].split('(')[0].strip()}")


def tally(counter: dict[str, int], values) -> None:
    for v in values:
        if v is None:
            continue
        counter[str(v)] = counter.get(str(v), 0) + 1


def add_counts(into: dict[str, int], other: dict[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


class Ledger:
    """The run's ledger, one row per input document, written as it grows (a run of millions of
    articles must not hold an object per article until the end)."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._writer: pq.ParquetWriter | None = None

    def add(self, entries: list[LedgerEntry]) -> None:
        if entries:
            self.write(to_batch(entries, LEDGER_SCHEMA))

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, LEDGER_SCHEMA, compression="zstd")
        self._writer.write_batch(batch)

    def close(self) -> Path | None:
        """The ledger's path, or None if nothing was written."""
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        os.replace(self._tmp, self.path)
        return self.path


def write_report(out: Output, report: RunReport, ledger: Ledger | None) -> None:
    """Close the ledger and save it and the report to ``OUT/_runs/``; never raises (the report
    must not hide the run's own error)."""
    fault_point("report:before_write")
    try:
        runs = out.work / "_runs"
        runs.mkdir(parents=True, exist_ok=True)
        path = ledger.close() if ledger else None
        if path:
            report.ledger = out.save(path, f"_runs/{path.name}")
        tmp = runs / f".{report.run_id}.json.tmp"
        tmp.write_text(report.to_json(), encoding="utf-8")
        out.save(tmp, f"_runs/{report.run_id}.json")
    except Exception as exc:
        log.warning("could not write the run report: %s", exc)
    fault_point("report:after_write")
