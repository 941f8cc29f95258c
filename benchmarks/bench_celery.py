"""Scale-out benchmark: one Celery worker against two, on the production setup (PostgreSQL metadata
database, Redis broker, api-server, scheduler, dag-processor and workers as local processes; the
harness of tests/test_distributed.py).

    ./dev bench celery                      # 20,000 articles over 2 days, 2 shards a date
    ./dev bench celery --articles 4000      # quicker

Each worker runs one task at a time and each shard one process, so one worker uses one core and
two workers two. The time measured is the backfill's: from its creation through the REST API to
its last run finishing (cluster start-up excluded). Prints articles/s for one and two workers,
the speed-up, and checks that both published the same rows; writes JSON to benchmarks/results/.
Needs PostgreSQL and Redis on localhost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from airflow_cluster import Cluster  # noqa: E402
from bench import build_landing, save_results  # noqa: E402


def one(tmp: Path, landing: Path, workers: tuple[str, ...], first: str, last: str, shards: int) -> dict:
    out = tmp / f"out-{len(workers)}"
    cluster = Cluster(
        tmp / f"airflow-{len(workers)}",
        "CeleryExecutor",
        workers,
        env_extra={"NEWS_ETL_SOURCE": str(landing), "NEWS_ETL_OUTPUT": str(out)},
    )
    try:
        cluster.start()
        cluster.wait_for(lambda: cluster._dag_known("news_etl"), 180, what="DAG parsed")
        t0 = time.perf_counter()
        runs = cluster.backfill("news_etl", first, last, conf={"shards": shards, "workers": 1})
        seconds = time.perf_counter() - t0
        states = sorted(r["state"] for r in runs)
        tis = [ti for r in runs for ti in cluster.task_instances("news_etl", r["dag_run_id"])]
        hosts = sorted({ti["hostname"] for ti in tis if ti["task_id"] == "process_shard"})
        task_seconds: dict[str, float] = {}
        for ti in tis:
            task_seconds[ti["task_id"]] = round(
                task_seconds.get(ti["task_id"], 0.0) + float(ti.get("duration") or 0), 1
            )
    finally:
        cluster.cleanup()
    articles = pq.read_table(out / "articles", partitioning="hive", columns=["article_id", "content_sha256"])
    timeline = sorted(
        (
            ti["start_date"],
            ti["end_date"],
            ti.get("queued_when"),
            ti["task_id"],
            ti["map_index"],
            ti["logical_date"][:10],
            ti["hostname"],
        )
        for ti in tis
    )
    return {
        "workers": len(workers),
        "seconds": round(seconds, 1),
        "runs": states,
        "hosts": hosts,
        "task_seconds": task_seconds,
        "timeline": timeline,
        "articles_published": articles.num_rows,
        "out": out,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=2, help="landing dates (default 2: two days of 10,000 articles)")
    ap.add_argument("--shards", type=int, default=2, help="process_shard tasks per date")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="news-etl-bench-celery-"))
    try:
        landing = tmp / "landing"
        built = build_landing(landing, args.articles, days=args.days)
        first = dt.date(2016, 12, 1)
        last = first + dt.timedelta(days=args.days - 1)
        print(
            f"landing zone: {built['articles']:,} articles, {built['bytes'] / 1e6:.0f} MB over {args.days} days "
            f"({built['text']}); {args.shards} shards a date",
            flush=True,
        )
        results = []
        for workers in (("worker-a",), ("worker-a", "worker-b")):
            r = one(tmp, landing, workers, first.isoformat(), last.isoformat(), args.shards)
            r["articles_per_s"] = round(args.articles / r["seconds"], 1)
            print(
                f"  {r['workers']} worker(s): {r['seconds']:7.1f} s  {r['articles_per_s']:8.1f} articles/s  "
                f"runs {r['runs'].count('success')}/{len(r['runs'])} ok  shards ran on {', '.join(r['hosts'])}",
                flush=True,
            )
            print(
                "      task seconds (sum over dates): " + ", ".join(f"{k} {v}" for k, v in r["task_seconds"].items()),
                flush=True,
            )
            results.append(r)
        a = (
            pq.read_table(results[0].pop("out") / "articles", partitioning="hive")
            .drop_columns(["pipeline_version"])
            .sort_by("article_id")
        )
        b = (
            pq.read_table(results[1].pop("out") / "articles", partitioning="hive")
            .drop_columns(["pipeline_version"])
            .sort_by("article_id")
        )
        info = {
            "landing": built,
            "days": args.days,
            "shards_per_date": args.shards,
            "results": results,
            "speedup_2_over_1": round(results[0]["seconds"] / results[1]["seconds"], 2),
            "same_rows": a.equals(b),
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        print(f"  speed-up, 2 workers over 1: {info['speedup_2_over_1']:.2f}x   same rows: {info['same_rows']}")
        save_results(args.results, f"bench-celery-{args.articles}", info)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
