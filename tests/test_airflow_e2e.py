"""news-etl operated from a real Airflow: `airflow standalone` on SQLite, a backfill created through
the REST API, the downstream asset DAG, a clear-and-rerun, `news-etl check`, and the UI in Chromium.

Slow by nature (about two minutes): one Airflow for the whole module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_server import Airflow

pytestmark = pytest.mark.airflow
DATES = ["2016-12-05", "2016-12-06", "2016-12-07"]
ARTIFACTS = Path(os.environ.get("NEWS_ETL_ARTIFACTS", Path(__file__).resolve().parent.parent / ".artifacts"))


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, samples):
    home = tmp_path_factory.mktemp("airflow_home")
    out = tmp_path_factory.mktemp("published")
    af = Airflow(home, {"NEWS_ETL_SOURCE": str(samples), "NEWS_ETL_OUTPUT": str(out)})
    af.output = out
    try:
        af.start()
        af.wait_for(lambda: _dag_known(af, "news_etl") and _dag_known(af, "news_etl_daily_counts"), 180, what="DAGs parsed")
        for dag_id in ("news_etl", "news_etl_daily_counts"):  # backfill runs stay queued while a DAG is paused
            af.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        yield af
    finally:
        af.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(home / "standalone.log", ARTIFACTS / "airflow-standalone.log")


def _dag_known(af, dag_id):
    try:
        return af.request("GET", f"/api/v2/dags/{dag_id}")["dag_id"] == dag_id
    except RuntimeError:
        return False


def _runs(af, dag_id, run_type=None):
    runs = af.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
    return [r for r in runs if run_type is None or r["run_type"] == run_type]


def _check(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "check", "--output", str(out),
                           "--start", DATES[0], "--end", DATES[-1]], capture_output=True, text=True, timeout=120)


def _dataset(out: Path):
    t = pq.read_table(out / "articles", partitioning="hive")
    return t.sort_by("article_id")


@pytest.fixture(scope="module")
def backfilled(airflow):
    airflow.request("POST", "/api/v2/backfills", {
        "dag_id": "news_etl", "from_date": f"{DATES[0]}T00:00:00Z", "to_date": f"{DATES[-1]}T00:00:00Z",
        # One date at a time: each publish's asset event then arrives on its own (see
        # pipeline/reports.py for what happens when Airflow drops one).
        "max_active_runs": 1, "reprocess_behavior": "none"})

    def finished():
        runs = _runs(airflow, "news_etl", "backfill")
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return runs if len(runs) == len(DATES) and len(done) == len(DATES) else None

    return airflow.wait_for(finished, 480, every=5, what="three backfill runs finished")


def test_backfill_over_three_dates_through_the_rest_api(airflow, backfilled):
    assert sorted(r["logical_date"][:10] for r in backfilled) == DATES
    assert [r["state"] for r in backfilled] == ["success"] * 3
    p = _check(airflow.output)
    assert p.returncode == 0, p.stdout + p.stderr
    reports = [json.loads(f.read_text()) for f in (airflow.output / "_runs").glob("*.json")]
    published = sorted(r["date"] for r in reports if r["status"] == "succeeded")
    assert published == DATES  # each date published once
    assert all(r["status"] in ("succeeded", "empty") for r in reports)
    for date in DATES:
        manifest = json.loads((airflow.output / "_manifests" / f"{date}.json").read_text())
        assert manifest["articles"] > 0 and manifest["inputs_sha256"]
    # The date was cut into shards that ran as mapped tasks.
    tis = airflow.request("GET", f"/api/v2/dags/news_etl/dagRuns/{backfilled[0]['dag_run_id']}/taskInstances")["task_instances"]
    mapped = [t for t in tis if t["task_id"] == "process_shard"]
    assert len(mapped) == 2 and all(t["state"] == "success" for t in mapped)


def test_downstream_dag_runs_once_per_published_date(airflow, backfilled):
    seen = {}

    def counted():
        runs = _runs(airflow, "news_etl_daily_counts")
        log = airflow.output / "daily_counts" / "_computed.jsonl"
        computed = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        seen["state"] = {"runs": [(r["dag_run_id"], r["state"]) for r in runs], "computed": computed,
                         "emitted": [(e.get("extra") or {}).get("date") for e in
                                     airflow.request("GET", "/api/v2/assets/events?limit=50")["asset_events"]]}
        if not runs or any(r["state"] not in ("success", "failed") for r in runs):
            return None
        return (runs, computed) if sorted({c["date"] for c in computed}) == DATES else None

    try:
        runs, computed = airflow.wait_for(counted, 480, every=5, what="daily counts for every published date")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last seen: {seen.get('state')}") from None
    assert all(r["state"] == "success" for r in runs)
    assert sorted(c["date"] for c in computed) == DATES  # each published date counted exactly once
    for date in DATES:
        manifest = json.loads((airflow.output / "_manifests" / f"{date}.json").read_text())
        counts = pq.read_table(airflow.output / "daily_counts" / f"landing_date={date}" / "counts.parquet")
        assert sum(counts.column("articles").to_pylist()) == manifest["articles"]
        assert counts.schema.metadata[b"news_etl.run_id"].decode() == manifest["run_id"]


def test_clearing_and_rerunning_one_date_leaves_the_dataset_identical(airflow, backfilled):
    before = _dataset(airflow.output)
    manifest = airflow.output / "_manifests" / f"{DATES[1]}.json"
    first_run = json.loads(manifest.read_text())["run_id"]
    run = next(r for r in backfilled if r["logical_date"].startswith(DATES[1]))
    airflow.request("POST", "/api/v2/dags/news_etl/clearTaskInstances", {
        "dry_run": False, "dag_run_id": run["dag_run_id"], "only_failed": False, "reset_dag_runs": True})

    def rerun_done():
        r = airflow.request("GET", f"/api/v2/dags/news_etl/dagRuns/{run['dag_run_id']}")
        again = json.loads(manifest.read_text())["run_id"]
        return (r, again) if r["state"] == "success" and again != first_run else None

    airflow.wait_for(rerun_done, 300, every=5, what="the cleared date rerun")
    assert _dataset(airflow.output).equals(before)
    assert _check(airflow.output).returncode == 0


def test_ui_grid_shows_three_successful_runs(airflow, backfilled):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        msg = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("NEWS_ETL_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1000", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        wait = WebDriverWait(browser, 60)
        browser.get(airflow.base + "/")
        user = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "input[name='username']")))
        user.send_keys("admin")
        browser.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(airflow.password)
        browser.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        wait.until(lambda b: "/auth/login" not in b.current_url)
        # The DAG page (its grid: one column per run, one row per task).
        browser.get(airflow.base + "/dags/news_etl")
        wait.until(lambda b: "process_shard" in b.find_element(By.TAG_NAME, "body").text)
        browser.save_screenshot(str(ARTIFACTS / "airflow-grid.png"))
        # The runs table: the three backfill runs, each Success. It lists a run by "Run After", the
        # end of its data interval, so the backfill of 12-05..12-07 shows as 12-06..12-08.
        browser.get(airflow.base + "/dags/news_etl/runs")
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").text.count("backfill__") >= len(DATES))
        browser.save_screenshot(str(ARTIFACTS / "airflow-runs.png"))
        lines = browser.find_element(By.TAG_NAME, "body").text.splitlines()
        states = {}
        for i, line in enumerate(lines):
            if line.startswith("backfill__"):
                states[line] = next((x for x in lines[i + 1:i + 4] if x in ("Success", "Failed", "Running", "Queued")), None)
        assert len(states) == len(DATES) and set(states.values()) == {"Success"}, states
    finally:
        browser.quit()
