"""Store locks: one run per landing date of an object-store output.

In:  an ``storage.ObjectStore``, landing-date keys, a run id; ``NEWS_ETL_LOCK_TIMEOUT`` (seconds a
     run waits for a busy date, default 0: fail at once, as for a local output) and
     ``NEWS_ETL_STORE_LOCK_EXPIRY`` (seconds, default 600).
Out: ``store_locks``: a lock object per date, ``OUT/_locks/<key>.json``, naming its owner (run id,
     pid, host) and when it expires; a second run of a date fails at once (or after the timeout)
     with a line naming the owner. The owner refreshes its locks every quarter of the expiry and
     deletes them at the end; a lock whose owner died (not refreshed for the expiry) is taken over.

What it guarantees, honestly:
- On S3 (s3fs; AWS, MinIO and other stores that honour conditional writes) a lock is created with
  ``If-None-Match: *`` and refreshed or taken over with ``If-Match: <etag>``: exactly one run holds
  a date at a time, as long as the holder refreshes it (its process lives; a stall longer than
  the expiry, such as a suspended machine, lets another run take the date over). The holder then
  reads its lock back, so a store that ignores the headers is caught when the other write landed
  first.
- On other fsspec stores (no conditional write in fsspec's interface) a lock is written, then
  read back after ``SETTLE`` seconds and kept only if it is still this run's: two runs can both
  hold a date only if one of them stalls for longer than the settle time between finding the
  date free and writing its lock.
- A lock never outlives its expiry by more than a refresh; a run that dies leaves its dates busy
  for up to ``NEWS_ETL_STORE_LOCK_EXPIRY`` seconds.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from .errors import OutputBusyError
from .storage import ObjectStore

log = logging.getLogger("news_etl.locks")

LOCKS = "_locks"
SETTLE = 1.0  # seconds between writing a lock and reading it back where writes are not conditional

_held: dict[str, list] = {}  # uri -> [depth, lock]: re-entrant within a process


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


class StoreLock:
    """The lock object of one date; ``acquire`` once, then ``refresh`` and ``release``."""

    def __init__(self, store: ObjectStore, key: str, run_id: str, expiry: float):
        self.store, self.key, self.expiry = store, key, expiry
        self.rel = f"{LOCKS}/{key}.json"
        self.path = store.path(self.rel)
        self.token = secrets.token_hex(8)
        self.owner = f"run {run_id}, pid {os.getpid()} on {os.uname().nodename}"
        self.conditional = store.protocol in ("s3", "s3a")
        self.etag: str | None = None

    def _body(self) -> bytes:
        expires = time.time() + self.expiry
        return json.dumps(
            {
                "owner": self.owner,
                "token": self.token,
                "expires_at": expires,
                "expires": dt.datetime.fromtimestamp(expires, dt.UTC).isoformat(timespec="seconds"),
            }
        ).encode()

    def _read(self) -> tuple[dict | None, str | None]:
        """The lock object now and its ETag; (None, None) when there is none."""
        fs = self.store.fs
        fs.invalidate_cache(self.path)
        try:
            etag = fs.info(self.path).get("ETag")
            return json.loads(fs.cat_file(self.path)), etag
        except FileNotFoundError:
            return None, None
        except ValueError:  # a garbage lock object: treat it as expired
            return {"owner": "unreadable lock", "expires_at": 0}, etag

    def _put(self, **condition) -> bool:
        """Write this run's lock; False when the condition failed (another run wrote first)."""
        fs = self.store.fs
        try:
            if self.conditional:
                result = fs.pipe_file(self.path, self._body(), **condition)
                self.etag = (result or {}).get("ETag")
            else:
                fs.pipe_file(self.path, self._body())
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # s3fs: PreconditionFailed (If-Match)
                return False
            raise
        return True

    def try_acquire(self) -> str | None:
        """None when this run now holds the date, else the owner who does."""
        current, etag = self._read()
        if current is None:
            written = self._put(mode="create") if self.conditional else self._put()
        elif float(current.get("expires_at", 0)) < time.time():
            log.warning("taking over the lock of %s from %s (expired)", self.key, current.get("owner"))
            written = self._put(IfMatch=etag) if self.conditional else self._put()
        else:
            return str(current.get("owner", "unknown"))
        if written and not self.conditional:
            time.sleep(SETTLE)
        mine, _ = self._read() if written else (None, None)
        if mine is not None and mine.get("token") == self.token:
            return None
        current, _ = self._read()
        return str((current or {}).get("owner", "unknown"))

    def refresh(self) -> bool:
        """Push the expiry on; False when the lock is no longer this run's."""
        current, etag = self._read()
        if current is None or current.get("token") != self.token:
            return False
        return self._put(IfMatch=etag) if self.conditional else self._put()

    def release(self) -> None:
        current, _ = self._read()
        if current is not None and current.get("token") == self.token:
            self.store.fs.rm(self.path)
            self.store.fs.invalidate_cache(self.path)


@contextmanager
def _refreshing(locks: list[StoreLock], every: float) -> Iterator[None]:
    """Refresh ``locks`` every ``every`` seconds in a daemon thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            for lock in locks:
                try:
                    if not lock.refresh():
                        log.error("the lock of landing date %s is no longer this run's", lock.key)
                except Exception as exc:  # a network hiccup: try again at the next beat
                    log.warning("could not refresh the lock of %s: %s", lock.key, exc)

    thread = threading.Thread(target=loop, name="news-etl-store-locks", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _acquire(store: ObjectStore, key: str, run_id: str, location: str) -> StoreLock:
    expiry = _env_seconds("NEWS_ETL_STORE_LOCK_EXPIRY", 600.0)
    deadline = time.monotonic() + _env_seconds("NEWS_ETL_LOCK_TIMEOUT", 0.0)
    lock = StoreLock(store, key, run_id, expiry)
    waited = False
    while (owner := lock.try_acquire()) is not None:
        if not waited and time.monotonic() < deadline:
            log.info("landing date %s is held by %s: waiting up to NEWS_ETL_LOCK_TIMEOUT", key, owner)
            waited = True
        if time.monotonic() >= deadline:
            raise OutputBusyError(
                f"landing date {key} is being published by another run ({owner})",
                source=location,
                hint=f"wait for it to finish, then rerun; the lock of a run that died ({lock.rel}) is taken over "
                f"{expiry:.0f} s after its last refresh (NEWS_ETL_STORE_LOCK_EXPIRY)",
            )
        time.sleep(min(1.0, max(0.1, deadline - time.monotonic())))
    return lock


@contextmanager
def store_locks(store: ObjectStore, keys: Iterable[str], run_id: str, location: str) -> Iterator[None]:
    """Locks on every landing date of ``keys`` (sorted: overlapping runs cannot deadlock), refreshed
    while the block runs and deleted at its end."""
    taken: list[StoreLock] = []
    with ExitStack() as stack:
        for key in sorted(set(keys)):
            uri = store.uri(f"{LOCKS}/{key}.json")
            if uri in _held:
                _held[uri][0] += 1
                stack.callback(_leave, uri)
                continue
            lock = _acquire(store, key, run_id, location)
            _held[uri] = [1, lock]
            stack.callback(_leave, uri)
            taken.append(lock)
        if taken:
            stack.enter_context(_refreshing(taken, max(0.05, taken[0].expiry / 4)))
        yield


def _leave(uri: str) -> None:
    entry = _held[uri]
    entry[0] -= 1
    if entry[0] == 0:
        del _held[uri]
        try:
            entry[1].release()
        except Exception as exc:  # it expires on its own
            log.warning("could not remove the lock %s: %s", uri, exc)
