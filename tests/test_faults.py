"""Crash anywhere, lose nothing: ``news-etl run`` killed (SIGKILL) at kill points of every phase,
then rerun; each time ``check`` is clean, the output equals a clean run's (ids and rows), and no
staging, temporary file or process of the killed run is left.

The kill points are ``pipeline.faults.POINTS`` (``NEWS_ETL_FAULT_AT``). CI runs one trial per
phase; the long command draws random points (and the n-th time a point is reached)::

    NEWS_ETL_FAULT_TRIALS=60 ./dev test tests/test_faults.py -q -p no:cacheprovider
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from outputs import leftovers

from pipeline.check import check
from pipeline.config import RunConfig
from pipeline.faults import POINTS
from pipeline.run import run

DAYS = ("2016-12-05", "2016-12-06", "2016-12-07")
# One point of each phase, and the n-th task of a shard.
CI_POINTS = (
    "plan:after_list",
    "plan:after_write",
    "shard:task#2",
    "shard:before_summary",
    "dedup:after_find",
    "validate:after_batches",
    "publish:after_build",
    "publish:after_swap",
    "finalize:before_drop_staging",
    "report:before_write",
)
COLUMNS = ["article_id", "content_sha256", "source_path", "title", "published_at", "word_count"]


def _config(src: Path, out: Path, date: str | None = None) -> RunConfig:
    return RunConfig(source=str(src), output=str(out), date=date, workers=2, task_files=2)


def _published(out: Path) -> list[tuple]:
    rows = []
    for manifest in sorted((out / "_manifests").glob("*.json")):
        for rel in json.loads(manifest.read_text())["files"]:
            if rel.startswith(("articles/", "quarantine/")):
                t = pq.read_table(out / rel)
                cols = [c for c in COLUMNS + ["reason"] if c in t.column_names]
                rows += [(rel.split("/", 1)[0], *r.values()) for r in t.select(cols).to_pylist()]
    return sorted(rows, key=repr)


def _survivors(marker: str) -> list[int]:
    """Processes whose environment carries ``marker``: the killed run's forkserver and workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def landing(samples, tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("faults") / "src"
    for day in DAYS:
        shutil.copytree(samples / day, src / day)
    return src


@pytest.fixture(scope="module")
def seeded(landing, tmp_path_factory) -> Path:
    """An output with one date published, as in production: each trial starts from a copy."""
    out = tmp_path_factory.mktemp("seeded") / "out"
    run(_config(landing, out, date=DAYS[0]))
    return out


@pytest.fixture(scope="module")
def reference(landing, tmp_path_factory) -> list[tuple]:
    out = tmp_path_factory.mktemp("reference")
    run(_config(landing, out))
    return _published(out)


def _trials() -> list[str]:
    n = int(os.environ.get("NEWS_ETL_FAULT_TRIALS", "0"))
    if not n:
        return list(CI_POINTS)
    rng = random.Random(int(os.environ.get("NEWS_ETL_FAULT_SEED", "15")))
    picks = list(POINTS)  # every point once, then random points and repetitions
    while len(picks) < n:
        point = rng.choice(POINTS)
        picks.append(f"{point}#{rng.randint(1, 4)}" if point == "shard:task" else point)
    return picks[: max(n, len(POINTS))]


@pytest.mark.parametrize("point", _trials())
def test_a_run_killed_at_any_point_loses_nothing(point, landing, seeded, reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(seeded, out, symlinks=True)
    before = _published(out)
    marker = f"NEWS_ETL_FAULT_TRIAL={uuid.uuid4().hex}"
    env = dict(os.environ, NEWS_ETL_FAULT_AT=point, NEWS_ETL_FAULT_TRIAL=marker.split("=", 1)[1])
    script = (
        "from pipeline.config import RunConfig\nfrom pipeline.run import run\n"
        f"run(RunConfig(source={str(landing)!r}, output={str(out)!r}, workers=2, task_files=2))"
    )
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    killed = proc.returncode == -9
    assert killed or proc.returncode == 0, proc.stderr.decode()[-2000:]  # a point a run may not reach
    if killed and point.startswith(("plan", "shard", "dedup", "validate", "publish:before", "publish:after_build")):
        assert _published(out) == before  # killed before its swap: the published output is untouched
    deadline = time.monotonic() + 10
    while _survivors(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _survivors(marker) == [], "processes of the killed run outlived it"
    report = run(_config(landing, out))
    assert report.status == "succeeded"
    assert _published(out) == reference
    statuses = check(out, dt.date.fromisoformat(DAYS[0]), dt.date.fromisoformat(DAYS[-1]))
    assert all(s.ok for s in statuses), [s.problems for s in statuses]
    assert leftovers(out) == []
