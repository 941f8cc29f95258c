"""The daily news-etl DAG: one landing date of article files in, validated Parquet out.

Thin by design: each task turns the Airflow context into plain arguments, calls the library
(``pipeline``, which never imports Airflow) and returns a path or a small summary. Top-level
imports come from ``airflow.sdk`` only; the library is imported inside the tasks so that the
DAG file parses in milliseconds.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

REPO = Path(__file__).resolve().parent.parent
# Defaults: the sample landing zone bundled with the project and a local output folder. Both can
# be overridden per deployment with NEWS_ETL_SOURCE / NEWS_ETL_OUTPUT, and per run in the trigger
# form (params).
DEFAULT_SOURCE = os.environ.get("NEWS_ETL_SOURCE", str(REPO / "samples" / "landing"))
DEFAULT_OUTPUT = os.environ.get("NEWS_ETL_OUTPUT", str(REPO / "output"))

DOC = """
### news_etl: a day of article files in, validated, partitioned Parquet out

Each run processes **one landing date**, the run's data interval start: the files under
`SOURCE/YYYY-MM-DD/` (or `SOURCE/YYYY/MM/DD/`). A rerun of a date replaces exactly that date's
output, atomically: readers never see a partial date.

* **Trigger one date**: *Trigger DAG* ▸ pick the logical date ▸ adjust *source* / *output*.
* **Backfill**: *Trigger DAG* ▸ *Backfill* with a date range, or
  `airflow backfill create --dag-id news_etl --from-date 2016-12-05 --to-date 2016-12-07`.
* **Test without the scheduler**: `airflow dags test news_etl 2016-12-05`.
* **Same thing without Airflow**: `news-etl run --source SRC --output OUT --date 2016-12-05`.

Output: `OUTPUT/articles/year=YYYY/month=MM/` (articles), `OUTPUT/quarantine/` (rejected documents
with a reason), `OUTPUT/_runs/<run_id>.json` (the run report: every input accounted for).
"""


@dag(
    dag_id="news_etl",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2016, 12, 1, tzinfo=timezone.utc),
    catchup=False,  # backfills are explicit (UI or `airflow backfill create`)
    max_active_runs=4,
    doc_md=DOC,
    tags=["news-etl", "etl", "parquet"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,  # I/O hiccups (network source, busy disk)
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "source": Param(DEFAULT_SOURCE, type="string", title="Source",
                        description="Landing zone: a folder or an fsspec URL holding YYYY-MM-DD/ folders."),
        "output": Param(DEFAULT_OUTPUT, type="string", title="Output",
                        description="Output folder: articles/, quarantine/ and _runs/ are written here."),
        "workers": Param(0, type="integer", minimum=0, title="Worker processes",
                         description="Processes for this date; 0 means one per core of the worker."),
    },
    render_template_as_native_obj=True,
)
def news_etl():
    @task(task_id="process_date")
    def process_date(params: dict, logical_date=None, data_interval_start=None, run_id: str | None = None) -> dict:
        """Run the pipeline for the run's landing date; returns the report's path and counts.

        The landing date is the logical date: for scheduled and backfill runs that is the data
        interval's start; for a manual run it is the date the user picked (where Airflow would
        otherwise give the interval that *ends* there).
        """
        import logging

        from pipeline.config import RunConfig
        from pipeline.run import run

        log = logging.getLogger("news_etl.dag")
        landing = (logical_date or data_interval_start).date().isoformat()
        safe_run_id = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (run_id or ""))
        config = RunConfig(
            source=params["source"],
            output=params["output"],
            date=landing,
            workers=int(params.get("workers") or 0),
            run_id=f"{landing}-{safe_run_id}" if safe_run_id else None,
        )
        report = run(config)
        summary = {
            "date": landing,
            "status": report.status,
            "report": str(Path(report.output) / "_runs" / f"{report.run_id}.json"),
            "documents_seen": report.documents_seen,
            "articles_written": report.articles_written,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "seconds": report.seconds,
        }
        log.info(
            "news-etl %s: %s documents, %s articles, %s quarantined, %s duplicates in %.1fs; report %s",
            landing, report.documents_seen, report.articles_written, report.quarantined,
            report.duplicates, report.seconds, summary["report"],
        )
        return summary

    process_date()


news_etl()
