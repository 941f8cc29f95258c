"""Data Docs: one self-contained page per landing date, from real GX results, readable offline."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from factories import article

from pipeline.config import RunConfig, ValidateConfig
from pipeline.docs import DataDocs
from pipeline.errors import BatchValidationError
from pipeline.records import ARTICLE_SCHEMA, to_batch
from pipeline.run import run
from pipeline.validate import Validator


def batch_view(rows):
    t = pa.Table.from_batches([to_batch(rows, ARTICLE_SCHEMA)]).drop(["text"])
    return t.append_column("is_duplicate", pa.array([False] * len(rows), pa.bool_()))


def links_resolve(page: Path) -> None:
    for href in re.findall(r'href=["\']([^"\']+)["\']', page.read_text()):
        assert (page.parent / href).is_file(), f"{page.name}: link {href} leads nowhere"


@pytest.fixture(scope="module")
def failed_docs(tmp_path_factory):
    """Two dates, one of them a date whose articles all fail (its batch fails), rendered from one validator."""
    validator = Validator(ValidateConfig())
    out = tmp_path_factory.mktemp("docs")
    docs = DataDocs(out, "run-7")
    rows = [article(i) for i in range(5)]
    docs.add("2016-12-05", validator.batch(batch_view(rows)))
    bad = rows[:3] + [
        dataclasses.replace(rows[3], date_source="guessed"),
        dataclasses.replace(rows[4], date_source="rumour"),
    ]
    docs.add("2016-12-06", validator.batch(batch_view(bad)))
    return docs.close()


def test_a_failed_expectation_is_marked_with_its_column_count_and_failing_values(failed_docs):
    page = (failed_docs.parent / "2016-12-06.html").read_text()
    (row,) = [r for r in re.findall(r"<tr class='failed'>.*?</tr>", page)]
    assert "expect_column_values_to_be_in_set" in row and "date_source" in row
    assert ">2 (40%) of 5<" in row  # failing rows, share, of how many
    assert "guessed" in row and "rumour" in row  # the sample of failing values
    assert "FAILED: 1 of" in page
    assert page.count("<tr class='passed'>") >= 5


def test_pages_name_the_run_and_the_landing_date_and_link_only_to_each_other(failed_docs):
    for name, date in (("2016-12-05.html", "2016-12-05"), ("2016-12-06.html", "2016-12-06")):
        page = (failed_docs.parent / name).read_text()
        assert "<code>run-7</code>" in page and f"landing date {date}" in page
        assert "__none__" not in page and "None</dd>" not in page
    index = failed_docs.read_text()
    assert (
        "2016-12-06.html" in index and "FAILED" in index and "expect_column_values_to_be_in_set(date_source)" in index
    )
    for page in failed_docs.parent.glob("*.html"):
        assert "http" not in page.read_text(), f"{page.name} refers to the network"
        links_resolve(page)


def test_a_run_whose_date_fails_its_batch_writes_its_page(samples, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(samples / "2016-12-05", src / "2016-12-05")
    (src / "2016-12-19").mkdir()
    (src / "2016-12-19" / "numbers.csv").write_bytes(b"1,2,3\n4,5,6\n")
    with pytest.raises(BatchValidationError):
        run(RunConfig(source=str(src), output=str(tmp_path / "out")))
    (report,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "_runs").glob("*.json")]
    assert report["status"] == "failed"
    index = Path(report["data_docs"])
    page = (index.parent / "2016-12-19.html").read_text()
    assert f"<code>{report['run_id']}</code>" in page and "landing date 2016-12-19" in page
    (row,) = re.findall(r"<tr class='failed'>.*?</tr>", page)
    assert "expect_table_row_count_to_be_between" in row
    for p in index.parent.glob("*.html"):
        links_resolve(p)
        assert "http" not in p.read_text()


def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        msg = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("NEWS_ETL_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1500,1000",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_the_failed_row_is_marked_in_a_browser_with_no_network(failed_docs, tmp_path):
    from selenium.webdriver.common.by import By

    b = browser()
    try:
        b.get(failed_docs.as_uri())
        b.find_element(By.LINK_TEXT, "2016-12-06").click()
        row = b.find_element(By.CSS_SELECTOR, "tr.failed")
        assert "expect_column_values_to_be_in_set" in row.text and "FAILED" in row.text
        # Styled by the page itself: the failed row is red, its status cell bold.
        assert row.value_of_css_property("background-color") == "rgba(255, 221, 221, 1)"
        status = row.find_element(By.CSS_SELECTOR, "td.status")
        assert status.value_of_css_property("font-weight") in ("700", "bold")
        artifacts = Path(os.environ.get("NEWS_ETL_ARTIFACTS", tmp_path))
        artifacts.mkdir(parents=True, exist_ok=True)
        b.save_screenshot(str(artifacts / "data-docs-failed-date.png"))
        b.find_element(By.LINK_TEXT, "All dates of this run").click()
        assert b.current_url == failed_docs.as_uri()
    finally:
        b.quit()
