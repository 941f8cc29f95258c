"""Pool: a shard's tasks on worker processes, results in task order.

In:  the source, the shard's tasks (``tasks.make_tasks``), a ``RunConfig``, a worker count.
Out: one ``TaskResult`` per task, in task order (``results``).

At most ``2 x workers`` tasks are in flight, so memory stays bounded whatever the corpus size,
and the output is the same with one worker or many (results are consumed in task order).
Workers never outlive their run (``watch_run``), even one killed with SIGKILL.
"""

from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from ..config import RunConfig
from ..fetch import FetchItem, Source
from .tasks import TaskResult, process_task

WARM = "pipeline.phases.warm"


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


def context() -> multiprocessing.context.BaseContext:
    """The workers' start method: forkserver (a fork of a clean process, never of this one and
    its threads), spawn where there is none. The forkserver loads what workers need first
    (``phases.warm``: the stages, 0.3 s, and the language model, 0.8 s), so that each worker is
    forked with it instead of loading it again; that takes effect when this process starts its
    forkserver (at its first pool)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # The preload list is the process's: keep what a caller put there (a private attribute; a
    # Python without it gets ours alone).
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    theirs = list(getattr(server, "_preload_modules", None) or [])
    if WARM not in theirs:
        ctx.set_forkserver_preload([*theirs, WARM])
    return ctx


def results(source: Source, tasks: Iterable[list[FetchItem]], config: RunConfig, workers: int) -> Iterator[TaskResult]:
    """Task results in task order, with at most 2 x workers tasks in flight (bounded memory)."""
    tasks = iter(tasks)
    first = list(itertools.islice(tasks, 2))
    tasks = itertools.chain(first, tasks)
    if workers <= 1 or len(first) <= 1:
        for task in tasks:
            yield process_task(source, task, config)
        return
    ctx = context()
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
