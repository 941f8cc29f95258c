"""Locks: one run per landing date of an output, and the staging of runs that died.

In:  a local folder (the output, or an object store's local work folder), landing-date keys, a
     run id.
Out: ``date_locks``: an exclusive ``flock`` per landing date, ``OUT/.locks/<key>.lock``, holding the
     owner's pid, host and run id; a second run of a date fails at once with a line naming the
     owner (or waits up to ``NEWS_ETL_LOCK_TIMEOUT`` seconds). ``alive``: a lock held for the life
     of a run next to its staging folder; ``clean_dead_staging`` removes the staging of every
     run whose lock is no longer held.

``flock`` is released by the kernel when its owner dies (SIGKILL included), so a crashed run
never blocks the next one. It holds on one machine and on NFS v4; it does not hold between
machines that share a bucket: object-store outputs add a lock object per date on the store
(``store_locks``; ``Output.date_locks`` takes both).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .errors import OutputBusyError

_held: dict[str, tuple[int, object]] = {}  # path -> (depth, file): re-entrant within a process


def _try(path: Path, owner: str) -> object | None:
    """An open file holding an exclusive flock on ``path``, or None if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fh = open(path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:  # the path may have been removed (a cleaner) between open and flock: lock it again
            if os.fstat(fh.fileno()).st_ino != os.stat(path).st_ino:
                fh.close()
                continue
        except FileNotFoundError:
            fh.close()
            continue
        fh.seek(0)
        fh.truncate()
        fh.write(owner + "\n")
        fh.flush()
        return fh


@contextmanager
def hold(path: Path, owner: str, busy: Callable[[str], Exception], timeout: float = 0.0) -> Iterator[None]:
    key = str(path)
    if key in _held:
        depth, fh = _held[key]
        _held[key] = (depth + 1, fh)
    else:
        deadline = time.monotonic() + timeout
        while (fh := _try(path, owner)) is None:
            if time.monotonic() >= deadline:
                try:
                    who = path.read_text(encoding="utf-8").strip() or "unknown"
                except OSError:
                    who = "unknown"
                raise busy(who)
            time.sleep(0.2)
        _held[key] = (1, fh)
    try:
        yield
    finally:
        depth, fh = _held[key]
        if depth > 1:
            _held[key] = (depth - 1, fh)
        else:
            del _held[key]
            fh.close()  # closing releases the flock


def _owner(run_id: str) -> str:
    return f"run {run_id}, pid {os.getpid()} on {os.uname().nodename}"


def _timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("NEWS_ETL_LOCK_TIMEOUT", "0")))
    except ValueError:
        return 0.0


@contextmanager
def date_locks(root: Path, keys: Iterable[str], run_id: str, location: str) -> Iterator[None]:
    """Exclusive locks on every landing date of ``keys`` (in sorted order: two runs of overlapping
    dates cannot deadlock), held until the block ends."""
    with ExitStack() as stack:
        for key in sorted(set(keys)):

            def busy(who: str, key: str = key) -> Exception:
                return OutputBusyError(
                    f"landing date {key} is being published by another run ({who})",
                    source=location,
                    hint="wait for it to finish, then rerun; a run that died releases its lock at once",
                )

            stack.enter_context(hold(Path(root) / ".locks" / f"{key}.lock", _owner(run_id), busy, _timeout()))
        yield


def alive_path(staging_root: Path, run_id: str) -> Path:
    return Path(staging_root) / f"{run_id}.alive"


@contextmanager
def alive(staging_root: Path, run_id: str) -> Iterator[None]:
    """Say that ``run_id`` is running, for as long as this process lives."""

    def busy(who: str) -> Exception:
        return OutputBusyError(f"run {run_id} is already running ({who})", hint="pass another --run-id")

    path = alive_path(staging_root, run_id)
    with hold(path, _owner(run_id), busy):
        try:
            yield
        finally:  # removed while still held: a cleaner that opened it finds it gone and moves on
            path.unlink(missing_ok=True)


def clean_dead_staging(staging_root: Path, drop: Callable[[str], None]) -> list[str]:
    """Drop the staging of every run whose ``.alive`` lock no process holds (it was killed or
    failed); returns their run ids. Staging folders without a lock (a DAG's, between its tasks)
    are left alone."""
    staging_root = Path(staging_root)
    if not staging_root.is_dir():
        return []
    dead = []
    for lock in sorted(staging_root.glob("*.alive")):
        run_id = lock.name[: -len(".alive")]
        if str(lock) in _held:
            continue
        fh = _try(lock, "cleaner")
        if fh is None:  # its run is alive
            continue
        try:
            drop(run_id)
            shutil.rmtree(staging_root / run_id, ignore_errors=True)
            lock.unlink(missing_ok=True)
            dead.append(run_id)
        finally:
            fh.close()
    return dead
