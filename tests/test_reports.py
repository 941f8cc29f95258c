"""Reports downstream of a publish (pipeline/reports.py): the daily counts, written once per
publish even when two writers overlap."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow.parquet as pq

from pipeline.config import RunConfig
from pipeline.run import run

DATE = "2016-12-05"

# A writer of the daily counts that starts when the file GO appears (so that all start at once).
_COUNTS_WRITER = """
import sys, time
from pathlib import Path
from pipeline.reports import daily_counts
out, date, go = sys.argv[1:]
while not Path(go).exists():
    time.sleep(0.005)
print(daily_counts(out, date)[1])
"""


def test_overlapping_daily_counts_writers_leave_one_file_and_one_record_per_date(samples, tmp_path):
    """Runs of the counts DAG counting the same date at once (a retried run beside a new one): one
    counts file and one record for the date's publish, whatever the interleaving."""
    out, go = tmp_path / "out", tmp_path / "go"
    run(RunConfig(source=str(samples), output=str(out), date=DATE, workers=1))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _COUNTS_WRITER, str(out), DATE, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(1.0)  # every writer imported and waiting
    go.touch()
    results = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0] * 4, [err[-800:] for _, err in results]
    groups = {stdout.strip() for stdout, _ in results}
    assert len(groups) == 1 and int(groups.pop()) > 0  # every writer answers with the same counts
    manifest = json.loads((out / "_manifests" / f"{DATE}.json").read_text())
    records = [json.loads(p.read_text()) for p in (out / "daily_counts" / "_computed").glob("*.json")]
    assert [(r["date"], r["run_id"]) for r in records] == [(DATE, manifest["run_id"])]
    folder = out / "daily_counts" / f"landing_date={DATE}"
    assert [p.name for p in folder.iterdir()] == ["counts.parquet"]  # no temporary file left behind
    t = pq.read_table(folder / "counts.parquet")
    assert sum(t.column("articles").to_pylist()) == manifest["articles"]
    assert t.schema.metadata[b"news_etl.run_id"].decode() == manifest["run_id"]
