"""Object storage: a landing zone read from and output published to an S3-compatible server
(moto, started here), atomic reruns through the manifests, DuckDB reading back through its own
S3 settings, and the DAG taking its credentials from an Airflow connection."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import pyarrow.parquet as pq
import pytest
from airflow_server import airflow_env
from s3_server import duckdb_with_httpfs

from pipeline import remote, storage
from pipeline.check import check
from pipeline.cli import main as cli
from pipeline.config import RunConfig
from pipeline.run import run

DATE = "2016-12-07"
COLS = ["article_id", "content_sha256", "title", "published_at", "language", "text"]


@pytest.fixture
def s3(s3_server):
    return s3_server


@pytest.fixture
def aws_env(s3, monkeypatch):
    """Standard credentials: what a user on AWS or MinIO sets, nothing news-etl specific."""
    for k, v in s3.env.items():
        monkeypatch.setenv(k, v)
    return s3


def _bucket(s3, request) -> str:
    name = "t-" + "".join(ch for ch in request.node.name.lower() if ch.isalnum())[:40]
    s3.create_bucket(name)
    return name


def _upload(s3, local, url_path: str) -> None:
    s3.filesystem().put(str(local), url_path, recursive=True)


def _duckdb_rows(s3, sql_from: str):
    con = duckdb_with_httpfs()
    con.execute(storage.duckdb_s3_secret(s3.storage_options))
    return con.execute(f"SELECT article_id, title FROM {sql_from} ORDER BY article_id").fetchall()


def test_s3_round_trip_matches_a_local_run_and_duckdb_reads_it(aws_env, samples, tmp_path, request):
    s3 = aws_env
    bucket = _bucket(s3, request)
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    out = f"s3://{bucket}/news"

    report = run(
        RunConfig(source=f"s3://{bucket}/landing", output=out, date=DATE, workers=1, work_dir=str(tmp_path / "work"))
    )
    local = run(RunConfig(source=str(samples), output=str(tmp_path / "local"), date=DATE, workers=1))
    assert report.status == "succeeded" and report.articles_written == local.articles_written > 0
    assert report.balanced() and report.quarantined == local.quarantined
    assert report.output == out and report.ledger.startswith(f"s3://{bucket}/news/_runs/")

    fs = s3.filesystem()
    assert fs.exists(f"{bucket}/news/_runs/{report.run_id}.json")
    assert not fs.exists(f"{bucket}/news/_staging/{report.run_id}"), "staging is removed after publish"
    files = storage.published_files(out)
    assert files and all(f.startswith(f"s3://{bucket}/news/articles/year=") for f in files)
    remote = pq.read_table([f[len("s3://") :] for f in files], filesystem=fs, columns=COLS).sort_by("article_id")
    mine = pq.read_table(tmp_path / "local" / "articles", columns=COLS).sort_by("article_id")
    # Same rows; source_uri differs (s3:// vs file://) but article ids are made from the relative path.
    assert remote.equals(mine)

    statuses = check(out, dt.date.fromisoformat(DATE), dt.date.fromisoformat(DATE))
    assert [s.ok for s in statuses] == [True], statuses[0].problems
    # DuckDB, through httpfs and an S3 secret, globbing the hive layout as any analyst would.
    glob = f"read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true)"
    rows = _duckdb_rows(s3, glob)
    assert len(rows) == report.articles_written
    assert rows == sorted(zip(mine.column("article_id").to_pylist(), mine.column("title").to_pylist()))


def test_s3_rerun_replaces_the_date_atomically_and_a_crashed_publish_changes_nothing(
    aws_env, samples, tmp_path, request, monkeypatch
):
    s3 = aws_env
    bucket = _bucket(s3, request)
    fs = s3.filesystem()
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    out = f"s3://{bucket}/news"
    cfg = RunConfig(source=f"s3://{bucket}/landing", output=out, date=DATE, workers=1, work_dir=str(tmp_path / "work"))
    first = run(cfg)
    before = storage.published_files(out)
    manifest_before = storage.read_manifests(out)[DATE]

    # The source changes: one more article lands for the date.
    extra = tmp_path / "extra.txt"
    extra.write_text(
        "date 2016-12-07\n\nUne dépêche arrivée en retard\n\n" + "Le texte de la dépêche tardive. " * 30,
        encoding="utf-8",
    )
    fs.put_file(str(extra), f"{bucket}/landing/{DATE}/zz-late.txt")

    # A publish that dies after uploading its files, before its manifest: readers of the
    # manifests see the first version, whole.
    real = remote.StoreOutput.publish
    monkeypatch.setattr(remote.StoreOutput, "publish", lambda *a, **k: real(*a, **k, _crash_after_upload=True))
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    assert storage.published_files(out) == before
    assert storage.read_manifests(out)[DATE] == manifest_before
    con_rows = _duckdb_rows(s3, "read_parquet([" + ", ".join(f"'{f}'" for f in before) + "])")
    assert len(con_rows) == first.articles_written
    orphans = check(out, dt.date.fromisoformat(DATE), dt.date.fromisoformat(DATE))[0].problems
    assert orphans and all(p.startswith("not in manifest") for p in orphans), orphans

    # The rerun commits the new version and removes the old one and the orphans.
    monkeypatch.setattr(remote.StoreOutput, "publish", real)
    second = run(cfg)
    assert second.articles_written == first.articles_written + 1
    after = storage.published_files(out)
    assert not set(after) & set(before)
    assert all(not fs.exists(f[len("s3://") :]) for f in before)
    rows = _duckdb_rows(s3, f"read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true)")
    assert len(rows) == second.articles_written
    status = check(out, dt.date.fromisoformat(DATE), dt.date.fromisoformat(DATE))[0]
    assert status.ok and status.run_id == second.run_id and status.articles == second.articles_written


def test_files_command_prints_a_duckdb_query_over_the_manifest(aws_env, samples, tmp_path, request, capsys):
    s3 = aws_env
    bucket = _bucket(s3, request)
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    out = f"s3://{bucket}/news"
    report = run(RunConfig(source=f"s3://{bucket}/landing", output=out, date=DATE, workers=1, work_dir=str(tmp_path)))
    capsys.readouterr()
    assert cli(["files", "--output", out, "--sql"]) == 0
    sql = capsys.readouterr().out
    con = duckdb_with_httpfs()
    statements = [s for s in sql.split(";\n") if s.strip()]
    assert statements[0].strip() == "LOAD httpfs"
    for stmt in statements[1:-1]:
        con.execute(stmt)
    assert len(con.execute(statements[-1].rstrip(";\n")).fetchall()) == report.articles_written
    assert cli(["files", "--output", f"s3://{bucket}/nothing-here"]) == 1


def test_daily_counts_on_object_storage_once_per_publish(aws_env, samples, tmp_path, request):
    from pipeline.reports import daily_counts, stale_dates

    s3 = aws_env
    bucket = _bucket(s3, request)
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    out = f"s3://{bucket}/news"
    report = run(RunConfig(source=f"s3://{bucket}/landing", output=out, date=DATE, workers=1, work_dir=str(tmp_path)))
    assert stale_dates(out) == [DATE]
    path, groups = daily_counts(out, DATE)
    assert path == f"{out}/daily_counts/landing_date={DATE}/counts.parquet" and groups > 0
    assert stale_dates(out) == []
    counts = pq.read_table(path[len("s3://") :], filesystem=s3.filesystem())
    assert sum(counts.column("articles").to_pylist()) == report.articles_written
    assert counts.schema.metadata[b"news_etl.run_id"].decode() == report.run_id


def test_storage_options_from_an_airflow_style_connection():
    class Conn:  # the attributes the DAGs read from an Airflow Connection
        login, password = "AKIA", "s3cr3t"
        extra_dejson = {
            "endpoint_url": "http://minio:9000",
            "region_name": "eu-west-1",
            "storage_options": {"anon": False},
        }

    assert storage.options_from_connection(Conn()) == {
        "key": "AKIA",
        "secret": "s3cr3t",
        "anon": False,
        "client_kwargs": {"endpoint_url": "http://minio:9000", "region_name": "eu-west-1"},
    }
    sql = storage.duckdb_s3_secret(storage.options_from_connection(Conn()))
    assert "KEY_ID 'AKIA'" in sql and "ENDPOINT 'minio:9000'" in sql and "USE_SSL false" in sql


def test_check_reports_a_missing_object(aws_env, samples, tmp_path, request):
    s3 = aws_env
    bucket = _bucket(s3, request)
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    out = f"s3://{bucket}/news"
    run(RunConfig(source=f"s3://{bucket}/landing", output=out, date=DATE, workers=1, work_dir=str(tmp_path)))
    victim = storage.published_files(out)[0]
    s3.filesystem().rm(victim[len("s3://") :])
    status = check(out, dt.date.fromisoformat(DATE), dt.date.fromisoformat(DATE))[0]
    assert not status.ok and any(p.startswith("missing articles/") for p in status.problems)


@pytest.mark.airflow
def test_dag_reads_and_publishes_s3_with_credentials_from_an_airflow_connection(s3, samples, tmp_path, request):
    """No AWS variables at all: the news_etl_storage connection carries key, secret and endpoint."""
    bucket = _bucket(s3, request)
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    home = tmp_path / "airflow"
    home.mkdir()
    env = {k: v for k, v in airflow_env(home).items() if not k.startswith("AWS_")}
    env["AIRFLOW_CONN_NEWS_ETL_STORAGE"] = json.dumps(
        {
            "conn_type": "aws",
            "login": s3.storage_options["key"],
            "password": s3.storage_options["secret"],
            "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"},
        }
    )
    env["TMPDIR"] = str(tmp_path)
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    conf = json.dumps({"source": f"s3://{bucket}/landing", "output": f"s3://{bucket}/news"})
    p = subprocess.run(
        ["airflow", "dags", "test", "news_etl", DATE, "-c", conf], env=env, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    status = check(
        f"s3://{bucket}/news",
        dt.date.fromisoformat(DATE),
        dt.date.fromisoformat(DATE),
        storage_options=s3.storage_options,
    )[0]
    assert status.ok and status.articles > 0, status.problems
    shutil.rmtree(home, ignore_errors=True)


def test_an_output_bucket_that_does_not_exist_is_a_clear_error(aws_env, samples, tmp_path, capsys):
    rc = cli(
        [
            "run",
            "--source",
            str(samples),
            "--output",
            "s3://no-such-bucket-here/news",
            "--date",
            DATE,
            "-q",
            "--work-dir",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1
    assert "[write] cannot write to the output" in err and "bucket does not exist" in err
    assert "check that the bucket exists" in err and "Traceback" not in err


def test_plan_shards_and_publish_each_on_its_own_machine(aws_env, samples, tmp_path, request):
    """Nothing local is shared: the plan, each shard and the publish run with their own work
    folders, so each reads what it needs (the plan, its shard's file list, the staged shards) from
    the bucket, and the result is that of one run."""
    from pipeline.run import finalize, plan, process_shard

    s3 = aws_env
    bucket = _bucket(s3, request)
    _upload(s3, samples / DATE, f"{bucket}/landing/{DATE}")
    out = f"s3://{bucket}/news"

    def on(machine: str) -> RunConfig:
        return RunConfig(
            source=f"s3://{bucket}/landing",
            output=out,
            date=DATE,
            workers=1,
            run_id="r-apart",
            work_dir=str(tmp_path / machine),
        )

    planned = plan(on("planner"), shards=2)
    assert [s.files for s in planned.shards] and all(s.files for s in planned.shards)
    summaries = [process_shard(on(f"worker-{i}"), "r-apart", i) for i in range(2)]
    assert sum(s.files for s in summaries) == sum(s.files for s in planned.shards)
    report = finalize(on("publisher"), "r-apart")
    local = run(RunConfig(source=str(samples), output=str(tmp_path / "local"), date=DATE, workers=1))
    assert report.status == "succeeded" and report.balanced()
    assert (report.articles_written, report.quarantined, report.duplicates) == (
        local.articles_written,
        local.quarantined,
        local.duplicates,
    )
    remote = pq.read_table(
        [f[len("s3://") :] for f in storage.published_files(out)], filesystem=s3.filesystem(), columns=COLS
    ).sort_by("article_id")
    assert remote.equals(pq.read_table(tmp_path / "local" / "articles", columns=COLS).sort_by("article_id"))
