"""Batches: validate each landing date of a run as one batch, and render the run's Data Docs.

In:  the staged article files of each landing date (every article that passed row validation),
     the ids of the duplicates dropped, the quarantine rows of each date.
Out: the dates that passed and those that failed (with the failed expectations), each date's
     counts and results in ``RunReport.batches``, the language, date and repair counts of the
     articles kept, and ``OUT/_docs/<run_id>/index.html`` (docs are a view of the results, never a
     reason to fail: an error there is logged and the run goes on).

The batch view of a date is every column but the text, duplicates included and flagged
(``is_duplicate``).
"""

from __future__ import annotations

import collections
import logging
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import RunConfig
from ..docs import DataDocs
from ..output import Output
from ..records import ARTICLE_SCHEMA
from ..validate import Validator
from .duplicates import Staged
from .memory import collection_due, release_memory
from .report import RunReport, tally

log = logging.getLogger("news_etl")
VIEW_COLUMNS = [n for n in ARTICLE_SCHEMA.names if n != "text"]


class _Docs:
    """The run's Data Docs, or nothing once they failed."""

    def __init__(self, out: Output, run_id: str, stage: collections.Counter):
        self.out, self.run_id, self.stage = out, run_id, stage
        try:
            self.docs: DataDocs | None = DataDocs(out.work, run_id)
        except Exception as exc:
            log.warning("could not write data docs: %s", exc)
            self.docs = None

    def add(self, key: str, result) -> None:
        if self.docs:
            t0 = time.perf_counter()
            try:
                self.docs.add(key, result)
            except Exception as exc:
                log.warning("could not write data docs: %s", exc)
                self.docs = None
            self.stage["data docs"] += time.perf_counter() - t0

    def close(self) -> str | None:
        """Where the docs' index is published, or None."""
        if not self.docs:
            return None
        t0 = time.perf_counter()
        where = None
        try:
            index = self.docs.close()
            where = str(index)
            where = self.out.save_dir(index.parent, f"_docs/{self.run_id}") + "/" + index.name
        except Exception as exc:
            log.warning("could not write data docs: %s", exc)
        self.stage["data docs"] += time.perf_counter() - t0
        return where


def _view(staged_files: list[Path], dropped_ids: pa.Array) -> pa.Table:
    view = (
        pq.read_table(staged_files, columns=VIEW_COLUMNS, schema=ARTICLE_SCHEMA)
        if staged_files
        else ARTICLE_SCHEMA.empty_table().select(VIEW_COLUMNS)
    )
    return view.append_column("is_duplicate", pc.is_in(view.column("article_id"), dropped_ids))


def _count_kept(report: RunReport, view: pa.Table) -> None:
    kept = view.filter(pc.invert(view.column("is_duplicate")))
    tally(report.languages, kept.column("language").to_pylist())
    tally(report.date_sources, kept.column("date_source").to_pylist())
    tally(report.date_precisions, kept.column("date_precision").to_pylist())
    report.repaired_documents += pc.sum(pc.greater(pc.list_value_length(kept.column("repairs")), 0)).as_py() or 0


def validate_batches(
    config: RunConfig,
    out: Output,
    run_id: str,
    staged: Staged,
    dropped: set[str],
    report: RunReport,
    stage: collections.Counter,
) -> tuple[list[str], dict[str, list[str]]]:
    """Validate each key's batch view; returns the keys that passed and {key: failures}."""
    validator = Validator(config.validate) if config.validate.enabled else None
    docs = _Docs(out, run_id, stage) if validator else None
    passed: list[str] = []
    failed: dict[str, list[str]] = {}
    for key in staged.keys:
        t0 = time.perf_counter()
        view = _view(staged.shard_files.get(key, []), pa.array(sorted(dropped), pa.string()))
        quarantined = sum(r for rel, r in staged.rows_by_file[key].items() if rel.startswith("quarantine/"))
        published_rows = view.num_rows - pc.sum(view.column("is_duplicate")).as_py() if view.num_rows else 0
        info = {
            "articles": published_rows,
            "duplicates": view.num_rows - published_rows,
            "quarantined": quarantined,
            "published": False,
        }
        _count_kept(report, view)
        stage["batch views"] += time.perf_counter() - t0
        report.batches[key] = info
        if validator:
            t0 = time.perf_counter()
            result = validator.batch(view)
            stage["validate batches"] += time.perf_counter() - t0
            info["expectations"] = result.results
            docs.add(key, result)
            result.raw = None
        rows = view.num_rows
        del view
        t0 = time.perf_counter()
        release_memory(collect=collection_due(rows))  # the date's frame, held in GX's reference cycles
        stage["validate batches"] += time.perf_counter() - t0
        if validator and not result.success:
            failed[key] = info["failures"] = result.failures
            continue
        passed.append(key)
    report.validation = {
        "row_suite": config.validate.row_suite if validator else None,
        "batch_suite": config.validate.batch_suite if validator else None,
        "batches_passed": len(passed),
        "batches_failed": len(failed),
    }
    if docs:
        report.data_docs = docs.close()
    return passed, failed
