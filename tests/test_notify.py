"""Notify: the one-line summaries the Airflow tasks log (no Airflow needed)."""

from __future__ import annotations

import logging

from pipeline.notify import publish_summary, quiet_libraries, skip_summary
from pipeline.phases.report import RunReport


def report(**changes) -> RunReport:
    base = dict(
        run_id="r1",
        status="succeeded",
        source="/src",
        output="/out/",
        date="2016-12-05",
        started_at="2016-12-05T00:00:00Z",
        seconds=3.25,
        documents_seen=10,
        articles_written=8,
        quarantined=1,
        duplicates=1,
        data_docs="/out/_docs/r1/index.html",
    )
    base.update(changes)
    return RunReport(**base)


def test_the_publish_line_counts_in_words_and_names_every_path():
    line = publish_summary("2016-12-05", report(), "/out/_report/index.html")
    assert line == (
        "news-etl 2016-12-05: succeeded: 10 documents, 8 articles published, 1 quarantined document "
        "(10.0% of documents), 1 duplicate in 3.2s; output /out/articles; report /out/_runs/r1.json; "
        "Data Docs /out/_docs/r1/index.html; plots /out/_report/index.html"
    )
    assert "\n" not in line


def test_plurals_and_an_empty_date():
    line = publish_summary(
        "2016-12-05", report(documents_seen=1, articles_written=1, quarantined=0, duplicates=2, data_docs=None)
    )
    assert "1 document, 1 article published, 0 quarantined documents (0.0% of documents), 2 duplicates" in line
    assert "Data Docs" not in line and "plots" not in line
    assert "% of" not in publish_summary("2016-12-05", report(documents_seen=0, articles_written=0, quarantined=0))


def test_the_skip_reason_names_both_layouts_of_the_date():
    assert skip_summary("2026-12-01", "/landing/") == (
        "news-etl 2026-12-01: skipped: no article files under /landing/2026-12-01/ or /landing/2026/12/01/; "
        "nothing published (pick a landing date that has files, or check the source)"
    )


def test_quiet_libraries_raises_their_loggers_not_the_root():
    logging.getLogger("great_expectations.data_context").setLevel(logging.INFO)
    root = logging.getLogger().level
    quiet_libraries()
    assert logging.getLogger("great_expectations.data_context").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("fsspec").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger().level == root
    assert logging.getLogger("news_etl.dag").level == logging.NOTSET  # ours untouched
