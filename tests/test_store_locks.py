"""Same-date locks on object storage (pipeline/store_locks.py), against a real S3-compatible server:
a second run of a date fails at once naming the owner or waits for it, a held lock is refreshed,
a crashed owner's lock is taken over after its expiry, and of many runs racing for a date exactly
one wins."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipeline import storage
from pipeline.cli import main as cli
from pipeline.store_locks import StoreLock

DATE = "2016-12-07"


@pytest.fixture
def s3(s3_server):
    return s3_server


@pytest.fixture
def bucket(s3, samples, monkeypatch, request):
    for k, v in s3.env.items():
        monkeypatch.setenv(k, v)
    name = "l-" + "".join(ch for ch in request.node.name.lower() if ch.isalnum())[:40]
    s3.create_bucket(name)
    s3.filesystem().put(str(samples / DATE), f"{name}/landing/{DATE}", recursive=True)
    return name


def _holder(s3, bucket: str, expiry: float, die: bool = False) -> subprocess.Popen:
    """Another process (another machine, as far as the store can tell) that holds the date's lock
    until its stdin is closed, then releases it; or is killed with SIGKILL once it holds it."""
    code = (
        "import os, signal, sys\n"
        "from pipeline import storage\n"
        "from pipeline.store_locks import store_locks\n"
        f"store = storage.open_store('s3://{bucket}/news')\n"
        f"with store_locks(store, [{DATE!r}], 'holder', 's3://{bucket}/news'):\n"
        "    print('held', flush=True)\n"
        + ("    os.kill(os.getpid(), signal.SIGKILL)\n" if die else "    sys.stdin.read()\n")
    )
    env = {**os.environ, **s3.env, "NEWS_ETL_STORE_LOCK_EXPIRY": str(expiry)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


class _OnWaiting(logging.Handler):
    def __init__(self, then):
        super().__init__(logging.INFO)
        self.then, self.seen = then, False

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting up to NEWS_ETL_LOCK_TIMEOUT" in record.getMessage() and not self.seen:
            self.seen = True
            self.then()


def _run(bucket: str, tmp_path) -> list[str]:
    return [
        "run",
        "--source",
        f"s3://{bucket}/landing",
        "--output",
        f"s3://{bucket}/news",
        "--date",
        DATE,
        "--workers",
        "1",
        "--work-dir",
        str(tmp_path / "work"),
    ]


def _lock(s3, bucket: str) -> dict | None:
    fs = s3.filesystem()
    fs.invalidate_cache()
    path = f"{bucket}/news/_locks/{DATE}.json"
    return json.loads(fs.cat_file(path)) if fs.exists(path) else None


def test_a_second_run_of_a_date_fails_at_once_naming_the_owner_or_waits(s3, bucket, tmp_path, capsys, monkeypatch):
    holder = _holder(s3, bucket, expiry=1)  # refreshed every 0.25 s: never expires while held
    try:
        time.sleep(2)  # twice its expiry: a lock that was not refreshed would be taken over now
        assert cli(_run(bucket, tmp_path)) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert f"landing date {DATE} is being published by another run (run holder, pid {holder.pid} on" in err
        assert "NEWS_ETL_STORE_LOCK_EXPIRY" in err
        assert not s3.filesystem().exists(f"{bucket}/news/_manifests/{DATE}.json")
        monkeypatch.setenv("NEWS_ETL_LOCK_TIMEOUT", "120")
        waiting = _OnWaiting(holder.stdin.close)  # the holder finishes once the run waits for it
        logger = logging.getLogger("news_etl.locks")
        level = logger.level
        logger.addHandler(waiting)
        logger.setLevel(logging.INFO)
        try:
            assert cli(_run(bucket, tmp_path)) == 0
        finally:
            logger.removeHandler(waiting)
            logger.setLevel(level)
        assert waiting.seen  # it did wait, then published
    finally:
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=60)
    assert holder.returncode == 0
    assert s3.filesystem().exists(f"{bucket}/news/_manifests/{DATE}.json")
    assert _lock(s3, bucket) is None  # released at the end of the run


def test_a_crashed_owner_s_lock_is_taken_over_after_its_expiry(s3, bucket, tmp_path, capsys):
    dead = _holder(s3, bucket, expiry=3, die=True)
    dead.wait(timeout=30)
    assert dead.returncode == -signal.SIGKILL
    assert _lock(s3, bucket)["owner"].startswith("run holder")  # left behind
    assert cli(_run(bucket, tmp_path)) == 1 and "run holder" in capsys.readouterr().err
    time.sleep(3.5)
    assert cli(_run(bucket, tmp_path)) == 0
    assert s3.filesystem().exists(f"{bucket}/news/_manifests/{DATE}.json")
    assert _lock(s3, bucket) is None


def test_of_many_runs_racing_for_a_date_exactly_one_holds_it(s3, bucket):
    store = storage.open_store(f"s3://{bucket}/news", s3.storage_options)
    locks = [StoreLock(store, DATE, f"racer-{i}", expiry=60) for i in range(8)]
    results: list = [None] * len(locks)
    start = threading.Barrier(len(locks))

    def race(i: int) -> None:
        start.wait()
        results[i] = locks[i].try_acquire()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(locks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [i for i, owner in enumerate(results) if owner is None]
    assert len(winners) == 1, results
    assert all(owner == locks[winners[0]].owner for owner in results if owner is not None)
    locks[winners[0]].release()
    assert _lock(s3, bucket) is None
