"""Downstream of news_etl: daily article counts per language and source, as Parquet.

Scheduled on the ``news_etl_articles`` asset: each published landing date's event carries the
date and the output folder in its extra; this DAG writes
``OUTPUT/daily_counts/landing_date=YYYY-MM-DD/counts.parquet`` for it, replacing it atomically, so a
republished date gets its counts recomputed. Each run also computes any other published date whose
counts are missing or older than its manifest: an event Airflow did not turn into a run is caught
up by the next one, and a date is never computed twice for one publish.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, BaseHook, dag, task

# The published articles dataset: pipeline.notify.ARTICLES_ASSET (tests/test_dag.py keeps the two equal).
ARTICLES = Asset(name="news_etl_articles", uri="file:///news-etl/articles", group="news-etl")


@dag(
    dag_id="news_etl_daily_counts",
    schedule=[ARTICLES],
    start_date=datetime(2016, 12, 1, tzinfo=UTC),
    catchup=False,
    # Unpaused from the start: it runs on news_etl's asset events, with no one to unpause it.
    is_paused_upon_creation=False,
    # A run queued before the scheduler's first start (the demo's asset events) can be handed to a
    # worker before the API server listens, and fail on "connection refused": try again. Safe:
    # the task recomputes only what is stale.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["news-etl", "reporting"],
    doc_md=__doc__,
)
def news_etl_daily_counts():
    @task(task_id="count_articles")
    def count_articles(triggering_asset_events=None) -> list[dict]:
        import logging

        from pipeline.notify import plural, quiet_libraries
        from pipeline.reports import daily_counts, stale_dates
        from pipeline.storage import connection_options, is_remote

        quiet_libraries()

        outputs = {(e.extra or {}).get("output") for e in triggering_asset_events[ARTICLES]} - {None}
        # The same credentials as news_etl (its news_etl_storage connection).
        options = connection_options(BaseHook.get_connection) if any(is_remote(o) for o in outputs) else {}
        done = []
        for output in sorted(outputs):
            for date in stale_dates(output, options):
                path, rows = daily_counts(output, date, options)
                logging.getLogger("news_etl.dag").info(
                    "news-etl daily counts for %s: %s -> %s", date, plural(rows, "group"), path
                )
                done.append({"date": date, "groups": rows, "path": str(path)})
        if not done:
            logging.getLogger("news_etl.dag").info(
                "news-etl daily counts: every published date is up to date in %s",
                ", ".join(sorted(outputs)) or "(no output named by the events)",
            )
        return done

    count_articles()


news_etl_daily_counts()
