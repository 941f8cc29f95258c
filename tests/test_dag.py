"""The Airflow DAG: integrity (real DagBag), and a real `airflow dags test` on SQLite in a fresh
AIRFLOW_HOME that writes the same rows as the CLI."""

from __future__ import annotations

import ast
import subprocess

import pyarrow.parquet as pq
import pytest
from airflow_server import DAGS, airflow_env

from pipeline.config import RunConfig
from pipeline.run import run

pytestmark = pytest.mark.airflow


def test_dag_files_import_only_the_task_sdk_at_top_level():
    for path in DAGS.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("airflow"):
                assert node.module == "airflow.sdk", f"{path.name}: {node.module}"
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
                pytest.fail(f"{path.name}: import the library inside tasks, not at parse time")


def test_both_dags_declare_the_library_s_articles_asset():
    """The DAG files may import only the Task SDK at parse time, so each declares the asset with
    literal values: they must be the library's definition, or the downstream DAG never runs."""
    from pipeline.notify import ARTICLES_ASSET

    for name in ("news_etl.py", "news_etl_daily_counts.py"):
        tree = ast.parse((DAGS / name).read_text())
        (call,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "ARTICLES"]
        assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == ARTICLES_ASSET, name


def test_dagbag_has_no_import_errors(tmp_path, monkeypatch):
    for k, v in airflow_env(tmp_path).items():
        if k.startswith("AIRFLOW"):
            monkeypatch.setenv(k, v)
    from airflow.dag_processing.dagbag import DagBag

    bag = (
        DagBag(dag_folder=str(DAGS), include_examples=False)
        if "include_examples" in DagBag.__init__.__code__.co_varnames
        else DagBag(dag_folder=str(DAGS))
    )
    assert bag.import_errors == {}
    dag = bag.dags.get("news_etl")
    assert dag is not None
    assert dag.catchup is False and "news-etl" in dag.tags and "backfill" in dag.doc_md
    assert set(dag.params.keys()) >= {"source", "output", "workers"}
    assert dag.default_args["retries"] >= 1


def test_airflow_dags_test_writes_the_same_rows_as_the_cli(samples, tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    env = airflow_env(home)
    out_af, out_cli = tmp_path / "out_af", tmp_path / "out_cli"
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    p = subprocess.run(
        ["airflow", "dags", "test", "news_etl", "2016-12-06", "-c", f'{{"source": "{samples}", "output": "{out_af}"}}'],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    run(RunConfig(source=str(samples), output=str(out_cli), date="2016-12-06"))
    cols = ["article_id", "content_sha256", "title", "published_at", "language", "encoding"]
    a = pq.read_table(out_af / "articles", partitioning="hive", columns=cols).sort_by("article_id")
    b = pq.read_table(out_cli / "articles", partitioning="hive", columns=cols).sort_by("article_id")
    assert a.num_rows > 0 and a.equals(b)
    qa = pq.read_table(out_af / "quarantine", columns=["source_path", "reason"]).sort_by("source_path")
    qb = pq.read_table(out_cli / "quarantine", columns=["source_path", "reason"]).sort_by("source_path")
    assert qa.equals(qb)


def test_a_batch_failure_fails_the_task_naming_the_expectation_and_posts_to_the_webhook(samples, tmp_path):
    import http.server
    import json
    import shutil
    import threading

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(samples, src)
    (src / "2016-12-19").mkdir()
    (src / "2016-12-19" / "empty.txt").write_bytes(b"")
    (src / "2016-12-19" / "numbers.csv").write_bytes(b"1,2,3\n4,5,6\n")
    home = tmp_path / "airflow"
    home.mkdir()
    env = airflow_env(home)
    env["AIRFLOW_CONN_NEWS_ETL_WEBHOOK"] = f"http://127.0.0.1:{server.server_port}/hooks/news-etl"
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    try:
        p = subprocess.run(
            [
                "airflow",
                "dags",
                "test",
                "news_etl",
                "2016-12-19",
                "-c",
                json.dumps({"source": str(src), "output": str(out), "shards": 1}),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
    log = p.stdout + p.stderr
    assert "expect_table_row_count_to_be_between" in log
    assert "state=failed" in log or "failed" in log.lower()
    assert not (out / "_manifests" / "2016-12-19.json").exists()  # nothing of the date published
    docs = list((out / "_docs").glob("*/index.html"))
    assert (
        len(docs) == 1
        and "FAILED" in docs[0].read_text()
        and "expect_table_row_count_to_be_between" in docs[0].read_text()
    )
    assert received, "the failure callback posted nothing to the webhook connection"
    assert received[0]["task_id"] == "publish_date" and "expect_table_row_count_to_be_between" in received[0]["error"]
    assert received[0]["date"] == "2016-12-19"
