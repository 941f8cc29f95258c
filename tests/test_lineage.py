"""Lineage: a real `airflow dags test` with the OpenLineage provider's file transport; the run events
name the landing zone as input and the published articles dataset as output, each with the schema
facet of its Arrow schema (pipeline/records.py). No server."""

from __future__ import annotations

import json
import subprocess

import pytest
from airflow_server import airflow_env

pytestmark = pytest.mark.airflow


def test_openlineage_events_name_the_landing_zone_and_the_published_dataset(samples, tmp_path):
    home, out, events = tmp_path / "airflow", tmp_path / "out", tmp_path / "openlineage.jsonl"
    home.mkdir()
    env = airflow_env(
        home,
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        AIRFLOW__OPENLINEAGE__NAMESPACE="news-etl-test",
    )
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    p = subprocess.run(
        [
            "airflow",
            "dags",
            "test",
            "news_etl",
            "2016-12-06",
            "-c",
            json.dumps({"source": str(samples), "output": str(out), "shards": 1}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert events.exists(), "no OpenLineage event written: " + (p.stdout + p.stderr)[-2000:]
    sent = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    publish = [e for e in sent if e["job"]["name"] == "news_etl.publish_date" and e["eventType"] == "COMPLETE"]
    assert len(publish) == 1, [(e["job"]["name"], e["eventType"]) for e in sent]
    (event,) = publish
    assert event["job"]["namespace"] == "news-etl-test"
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("file", str(samples.resolve()))]
    assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [("file", str((out / "articles").resolve()))]
    # The schema facets: the columns and Arrow types of the published articles and of the inputs read.
    from pipeline.records import ARTICLE_SCHEMA, RAW_SCHEMA

    for (d,), schema in ((event["outputs"], ARTICLE_SCHEMA), (event["inputs"], RAW_SCHEMA)):
        fields = d["facets"]["schema"]["fields"]
        assert [(f["name"], f["type"]) for f in fields] == [(f.name, str(f.type)) for f in schema]
        assert len(fields) == len(schema) > 3
    # The DAG run's own event is there too.
    assert "COMPLETE" in {e["eventType"] for e in sent if e["job"]["name"] == "news_etl"}
