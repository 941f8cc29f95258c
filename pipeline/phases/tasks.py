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
from ..document import process_document
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


def process_task(source: Source, items: list[FetchItem], config: RunConfig) -> TaskResult:
    t0 = time.perf_counter()
    articles: list[Article] = []
    quarantined: list[Quarantined] = []
    skipped: list[Skipped] = []
    documents = 0
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
            documents += 1
            if isinstance(got, FetchFailure):
                quarantined.append(
                    _failed(
                        got, "fetch", got.reason, size_bytes=got.size_bytes, raw_sha256=got.raw_sha256, raw=got.data
                    )
                )
                continue
            nbytes += len(got.data)
            try:
                results = process_document(got, config)
            except Exception as exc:  # a bug must not lose the document: quarantine it, say so
                log.exception("unexpected error on %s", got.source_uri)
                results = [
                    _failed(
                        got,
                        "internal",
                        f"unexpected error ({type(exc).__name__}: {exc}); please report it",
                        size_bytes=len(got.data),
                        raw_sha256=got.raw_sha256,
                        raw=got.data if len(got.data) <= QUARANTINE_KEEP_RAW_BYTES else None,
                    )
                ]
            documents += len(results) - 1
            for out in results:
                (articles if isinstance(out, Article) else quarantined).append(out)
    batch = to_batch(articles, ARTICLE_SCHEMA)
    del articles
    rejected = _quarantine_table(quarantined)
    del quarantined
    if multiprocessing.parent_process() is not None:  # a pool worker: keep its footprint flat
        release_memory()
    return TaskResult(batch, rejected, raw, skipped, len(items), documents, nbytes, time.perf_counter() - t0)


def _quarantine_table(rows: list[Quarantined], slice_rows: int = 10_000) -> pa.Table:
    """Quarantine rows as one Arrow table, converted a slice at a time (bounded temporaries)."""
    batches = [to_batch(rows[i : i + slice_rows], QUARANTINE_SCHEMA) for i in range(0, len(rows), slice_rows)]
    return pa.Table.from_batches(batches, schema=QUARANTINE_SCHEMA)


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
