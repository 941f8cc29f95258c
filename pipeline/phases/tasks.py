"""Tasks: the unit of work of a shard, run in a pool of worker processes.

In:  the source, the shard's files cut into tasks (``make_tasks``: bounded in files and bytes), a
     ``RunConfig``.
Out: one ``TaskResult`` per task, in task order (``results``): the task's articles as one Arrow
     batch, its quarantine rows, skipped files, raw bytes (with keep_raw) and counts.

At most ``2 x workers`` tasks are in flight, so memory stays bounded whatever the corpus size,
and the output is the same with one worker or many (results are consumed in task order).
"""

from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from ..config import RunConfig
from ..document import process_document
from ..fetch import FetchFailure, FetchItem, RawDocument, Skipped, Source, read_item
from ..metadata import article_id
from ..records import ARTICLE_SCHEMA, QUARANTINE_KEEP_RAW_BYTES, Article, Quarantined, to_batch
from ..write import key_of
from .memory import release_memory

log = logging.getLogger("news_etl")


@dataclass
class TaskResult:
    articles: pa.RecordBatch
    quarantined: list[Quarantined]
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
    if multiprocessing.parent_process() is not None:  # a pool worker: keep its footprint flat
        release_memory()
    return TaskResult(batch, quarantined, raw, skipped, len(items), documents, nbytes, time.perf_counter() - t0)


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


def _process_state(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from ``/proc``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields[0].decode(), fields[19].decode()


def watch_run(pid: int, every: float = 0.5) -> None:
    """End this worker (SIGKILL) as soon as the run's process ``pid`` is dead (a zombie counts:
    its parent may wait for our pipes to close before it reaps it). The workers' parent is the
    forkserver, which lives as long as any worker holds its pipe, so the kernel's parent-death
    signal cannot do this. No ``/proc``: nothing is watched."""
    first = _process_state(pid)
    if first is None:
        return

    def watch() -> None:
        while True:
            time.sleep(every)
            now = _process_state(pid)
            if now is None or now[0] in ("Z", "X") or now[1] != first[1]:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="news-etl-run-watch", daemon=True).start()


def _worker_init(run_pid: int) -> None:
    watch_run(run_pid)  # a worker never outlives its run, even a run killed with SIGKILL
    # Workers stay quiet: their errors come back as quarantine rows, not log noise.
    logging.getLogger().setLevel(logging.WARNING)
    # The coordinating process is the serial part of a shard (row validation, writing, feeding
    # the pool): workers yield the CPU to it, so it never starves the pool it feeds.
    try:
        os.nice(5)
    except OSError:
        pass


def results(source: Source, tasks: Iterable[list[FetchItem]], config: RunConfig, workers: int) -> Iterator[TaskResult]:
    """Task results in task order, with at most 2 x workers tasks in flight (bounded memory)."""
    tasks = iter(tasks)
    first = list(itertools.islice(tasks, 2))
    tasks = itertools.chain(first, tasks)
    if workers <= 1 or len(first) <= 1:
        for task in tasks:
            yield process_task(source, task, config)
        return
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    window = 2 * workers
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    ) as pool:
        pending: collections.deque[Future] = collections.deque()
        it = iter(tasks)
        try:
            for task in it:
                pending.append(pool.submit(process_task, source, task, config))
                if len(pending) >= window:
                    break
            while pending:
                result = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(process_task, source, nxt, config))
                yield result
        except BaseException:  # interrupted, or the consumer stopped: run no queued task
            pool.shutdown(wait=False, cancel_futures=True)
            raise
