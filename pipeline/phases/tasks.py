"""Tasks: the unit of work of a shard, run in a pool of worker processes.

In:  the source, the shard's files cut into tasks (``make_tasks``: bounded in files and bytes), a
     ``RunConfig``.
Out: one ``TaskResult`` per task (``process_task``): the task's articles as one Arrow batch, its
     quarantine rows, skipped files, raw bytes (with keep_raw) and counts. ``phases.pool`` runs
     them on worker processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from ..config import RunConfig
from ..document import iter_document
from ..fetch import FetchFailure, FetchItem, RawDocument, Skipped, Source, read_item
from ..metadata import article_id
from ..records import ARTICLE_SCHEMA, QUARANTINE_KEEP_RAW_BYTES, QUARANTINE_SCHEMA, Article, Quarantined, to_batch
from ..write import key_of
from .memory import release_memory

log = logging.getLogger("news_etl")


@dataclass
class TaskResult:
    articles: pa.RecordBatch
    # Quarantine rows as Arrow (``QUARANTINE_SCHEMA``): a file of 100,000 broken records crosses
    # to the run's process as columns, not as 100,000 Python objects.
    quarantined: pa.Table
    raw: dict[str, list]  # landing key -> [(source_uri, source_path, sha256, bytes)] when keep_raw
    skipped: list[Skipped]
    files: int
    documents: int
    bytes_read: int
    seconds: float


def _failed(got: FetchFailure | RawDocument, stage: str, reason: str, **kept) -> Quarantined:
    """A document that never became an article: quarantined with what is known of it."""
    return Quarantined(
        source_uri=got.source_uri,
        source_path=got.source_path,
        landing_date=got.landing_date,
        stage=stage,
        reason=reason,
        expectation=None,
        article_id=article_id(got.source_path),
        encoding=None,
        text_excerpt=None,
        **kept,
    )


class _Results:
    """A task's (or one input's) results: articles as records, quarantine rows turned into Arrow
    columns every ``slice_rows`` (a file of many broken records never sits as objects)."""

    def __init__(self, slice_rows: int = 10_000):
        self.slice_rows = slice_rows
        self.articles: list[Article] = []
        self.pending: list[Quarantined] = []
        self.batches: list[pa.RecordBatch] = []
        self.count = 0

    def add(self, out: Article | Quarantined) -> None:
        self.count += 1
        if isinstance(out, Article):
            self.articles.append(out)
            return
        self.pending.append(out)
        if len(self.pending) >= self.slice_rows:
            self._convert()

    def extend(self, other: _Results) -> None:
        self.count += other.count
        self.articles.extend(other.articles)
        self.batches.extend(other.batches)
        self.pending.extend(other.pending)
        if len(self.pending) >= self.slice_rows:
            self._convert()

    def _convert(self) -> None:
        self.batches.append(to_batch(self.pending, QUARANTINE_SCHEMA))
        self.pending = []

    def quarantine_table(self) -> pa.Table:
        batches = [*self.batches, to_batch(self.pending, QUARANTINE_SCHEMA)] if self.pending else self.batches
        return pa.Table.from_batches(batches, schema=QUARANTINE_SCHEMA)


def _document_results(got: RawDocument, config: RunConfig) -> _Results:
    """One input's results; a bug must not lose the document: then one ``internal`` row saying so."""
    results = _Results()
    try:
        for out in iter_document(got, config):
            results.add(out)
    except Exception as exc:
        log.exception("unexpected error on %s", got.source_uri)
        results = _Results()
        results.add(
            _failed(
                got,
                "internal",
                f"unexpected error ({type(exc).__name__}: {exc}); please report it",
                size_bytes=len(got.data),
                raw_sha256=got.raw_sha256,
                raw=got.data if len(got.data) <= QUARANTINE_KEEP_RAW_BYTES else None,
            )
        )
    return results


def process_task(source: Source, items: list[FetchItem], config: RunConfig) -> TaskResult:
    t0 = time.perf_counter()
    results = _Results()
    skipped: list[Skipped] = []
    nbytes = 0
    raw: dict[str, list] = {}
    for item in items:
        for got in read_item(source, item, config.fetch):
            if config.fetch.keep_raw and isinstance(got, RawDocument):
                raw.setdefault(key_of(got.landing_date), []).append(
                    (got.source_uri, got.source_path, got.raw_sha256, got.data)
                )
            if isinstance(got, Skipped):
                skipped.append(got)
                continue
            if isinstance(got, FetchFailure):
                results.add(
                    _failed(
                        got, "fetch", got.reason, size_bytes=got.size_bytes, raw_sha256=got.raw_sha256, raw=got.data
                    )
                )
                continue
            nbytes += len(got.data)
            results.extend(_document_results(got, config))
    documents = results.count  # fetch failures and every document of every input
    batch = to_batch(results.articles, ARTICLE_SCHEMA)
    rejected = results.quarantine_table()
    del results
    if multiprocessing.parent_process() is not None:  # a pool worker: keep its footprint flat
        release_memory()
    return TaskResult(batch, rejected, raw, skipped, len(items), documents, nbytes, time.perf_counter() - t0)


def make_tasks(items: Iterable[FetchItem], max_files: int, max_bytes: int) -> Iterator[list[FetchItem]]:
    """Consecutive items cut into tasks of at most ``max_files`` files and ``max_bytes`` bytes
    (a larger file is a task of its own), lazily."""
    current: list[FetchItem] = []
    size = 0
    for item in items:
        if current and (len(current) >= max_files or size + max(item.size, 0) > max_bytes):
            yield current
            current, size = [], 0
        current.append(item)
        size += max(item.size, 0)
    if current:
        yield current
