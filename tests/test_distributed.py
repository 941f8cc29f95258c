"""The same DAG on Airflow's production setup: PostgreSQL metadata database, CeleryExecutor over
Redis, two named Celery workers, every component its own process. A backfill over several dates
of a generated landing zone must succeed, spread each date's shards over both workers, publish
exactly what a LocalExecutor run of the same dates publishes, pass ``news-etl check``, and leave no
database, Redis key or process behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from airflow_cluster import Cluster

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench import build_landing  # noqa: E402

pytestmark = [pytest.mark.services("postgresql", "redis"), pytest.mark.airflow]

FIRST, LAST = "2016-12-01", "2016-12-03"
WORKERS = ("worker-a", "worker-b")


def _published(out: Path):
    articles = pq.read_table(out / "articles", partitioning="hive").sort_by("article_id")
    quarantine = pq.read_table(out / "quarantine", partitioning="hive").sort_by("source_path")
    return articles.drop_columns(["pipeline_version"]), quarantine.select(["source_path", "stage", "reason"])


def _backfill(tmp: Path, name: str, executor: str, landing: Path, workers=()) -> tuple[Path, list, Cluster]:
    out = tmp / f"out-{name}"
    cluster = Cluster(
        tmp / f"airflow-{name}",
        executor,
        workers,
        env_extra={"NEWS_ETL_SOURCE": str(landing), "NEWS_ETL_OUTPUT": str(out)},
    )
    try:
        cluster.start()
        # One date at a time: its two shards are queued together while both workers are free,
        # so that they run side by side (with dates in parallel, a worker may take both shards
        # of one date while the other works on another date: a spread that proves nothing).
        runs = cluster.backfill("news_etl", FIRST, LAST, max_active_runs=1)
        shards = {
            r["logical_date"][:10]: [
                ti for ti in cluster.task_instances("news_etl", r["dag_run_id"]) if ti["task_id"] == "process_shard"
            ]
            for r in runs
        }
        return out, [(r, shards[r["logical_date"][:10]]) for r in runs], cluster
    finally:
        cluster.cleanup()
        left = cluster.leftovers()
        artifacts = Path(__file__).resolve().parent.parent / ".artifacts" / f"cluster-{name}"
        shutil.rmtree(artifacts, ignore_errors=True)
        shutil.copytree(cluster.logs, artifacts)
        assert not left, f"left behind: {left}"


def test_celery_backfill_spreads_shards_over_two_workers_and_matches_local_executor(tmp_path):
    landing = tmp_path / "landing"
    built = build_landing(landing, 600, days=3)
    assert built["days"] == 3
    # Files each executor must quarantine the same way, whatever the generated text (with the
    # shared corpora absent, the generated articles all pass): at parse, and at GX's row suite.
    for day in ("2016-12-01", "2016-12-03"):
        (landing / day / "empty.txt").write_bytes(b"")
        (landing / day / "readings.csv").write_text(
            "station,value\n" + "".join(f"{i},{i * 7 % 13}\n" for i in range(40))
        )

    local_out, local_runs, _ = _backfill(tmp_path, "local", "LocalExecutor", landing)
    celery_out, celery_runs, cluster = _backfill(tmp_path, "celery", "CeleryExecutor", landing, WORKERS)

    for runs in (local_runs, celery_runs):
        assert sorted(r["logical_date"][:10] for r, _ in runs) == ["2016-12-01", "2016-12-02", "2016-12-03"]
        assert [r["state"] for r, _ in runs] == ["success"] * 3, [r["state"] for r, _ in runs]
    spread = {}
    for run, shards in celery_runs:
        assert len(shards) == 2 and all(ti["state"] == "success" for ti in shards)
        spread[run["logical_date"][:10]] = sorted({ti["hostname"] for ti in shards})
    # Every shard ran on one of the two workers, and both took part.
    assert {h for hosts in spread.values() for h in hosts} == set(WORKERS), spread
    # The shards of one date ran side by side on both workers.
    assert any(hosts == list(WORKERS) for hosts in spread.values()), spread
    for _, shards in local_runs:
        assert {ti["hostname"] for ti in shards}.isdisjoint(WORKERS)

    a_articles, a_quarantine = _published(local_out)
    b_articles, b_quarantine = _published(celery_out)
    assert a_articles.num_rows > 500 and a_articles.equals(b_articles)
    assert a_quarantine.equals(b_quarantine)
    quarantined = set(zip(a_quarantine["source_path"].to_pylist(), a_quarantine["stage"].to_pylist()))
    for day in ("2016-12-01", "2016-12-03"):
        assert {(f"{day}/empty.txt", "parse"), (f"{day}/readings.csv", "validate")} <= quarantined, quarantined
    check = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "check", "--output", str(celery_out), "--start", FIRST, "--end", LAST],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "3 dates: 3 ok" in check.stdout
