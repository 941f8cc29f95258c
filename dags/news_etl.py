"""The daily news-etl DAG: one landing date of article files in, validated Parquet out.

Thin by design: each task turns the Airflow context into plain arguments, calls the library
(``pipeline``, which never imports Airflow) and returns small values (a run id, a shard number,
counts): paths and ids travel through XCom, never data. Top-level imports come from
``airflow.sdk`` only; the library is imported inside the tasks so that the DAG file parses fast.

    plan_date  ->  process_shard (dynamic task mapping, one per shard)  ->  publish_date
                                                                            (asset event)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Asset, BaseHook, CronDataIntervalTimetable, Param, dag, task

REPO = Path(__file__).resolve().parent.parent
# Defaults: the sample landing zone bundled with the project and a local output folder. Both can
# be overridden per deployment with NEWS_ETL_SOURCE / NEWS_ETL_OUTPUT, and per run in the trigger
# form (params).
DEFAULT_SOURCE = os.environ.get("NEWS_ETL_SOURCE", str(REPO / "samples" / "landing"))
DEFAULT_OUTPUT = os.environ.get("NEWS_ETL_OUTPUT", str(REPO / "output"))

# The published articles dataset: pipeline.notify.ARTICLES_ASSET (tests/test_dag.py keeps the two equal).
ARTICLES = Asset(name="news_etl_articles", uri="file:///news-etl/articles", group="news-etl")

DOC = """
### news_etl: a day of article files in, validated, partitioned Parquet out

Each run processes **one landing date**: the run's logical date, i.e. the start of its data
interval for scheduled and backfill runs. Its files (`SOURCE/YYYY-MM-DD/` or `SOURCE/YYYY/MM/DD/`)
are cut into *shards* that run as mapped `process_shard` tasks (on many workers with Celery or
Kubernetes); `publish_date` then de-duplicates across shards, validates the date as a batch and
publishes it in one atomic step. A rerun of a date replaces exactly that date's output; readers
never see a partial date. A date that breaks a batch expectation fails `publish_date`, names the
expectation, publishes nothing and leaves a Data Docs page (its path is in the task log).

* **Trigger one date**: *Trigger* ▸ pick the logical date ▸ adjust the parameters.
* **Backfill**: *Trigger* ▸ *Backfill* with a date range, or
  `airflow backfill create --dag-id news_etl --from-date 2016-12-05 --to-date 2016-12-09`.
* **Check what is published** (Airflow's backfill state can be wrong; the data cannot):
  `news-etl check --output OUTPUT --start 2016-12-05 --end 2016-12-09`.
* **Without Airflow**: `news-etl run --source SOURCE --output OUTPUT --date 2016-12-05`.

Output: `OUTPUT/articles/year=YYYY/month=MM/` (articles), `OUTPUT/quarantine/` (rejected documents
with a reason), `OUTPUT/_runs/<run_id>.json` (the run report: every input accounted for),
`OUTPUT/_docs/<run_id>/index.html` (validation results). Failures post a summary to the HTTP
connection `news_etl_webhook` when it exists. SOURCE and OUTPUT may be `s3://` URLs: credentials come
from the connection `news_etl_storage` (login/password = key/secret, extra `endpoint_url`,
`region_name`) or the standard AWS settings; on object storage the manifests in
`OUTPUT/_manifests/` are the atomic view (`news-etl files --output OUTPUT`).
"""


def _config(params: dict, date: str | None, run_id: str | None):
    from pipeline.config import FetchConfig, RunConfig
    from pipeline.storage import connection_options

    remote = "://" in params["source"] + params["output"]
    return RunConfig(
        source=params["source"],
        output=params["output"],
        date=date,
        workers=int(params.get("workers") or 0),
        run_id=run_id,
        fetch=FetchConfig(keep_raw=bool(params.get("keep_raw"))),
        storage_options=connection_options(BaseHook.get_connection) if remote else {},
    )


def _uri(location: str) -> str:
    return location.rstrip("/") if "://" in location else Path(location).resolve().as_uri()


def _lineage(ti, source: str, published: str) -> None:
    """Report the landing zone read and the dataset published to Airflow's hook-lineage collector,
    and to the OpenLineage provider with their schema facets (news_etl_lineage.py): with a
    transport configured, the task's run events name them as input and output datasets (``file``
    namespace for local paths; an ``s3://`` dataset needs the Amazon provider's converter)."""
    from airflow.sdk.lineage import get_hook_lineage_collector
    from news_etl_lineage import declare

    collector = get_hook_lineage_collector()
    collector.add_input_asset(ti.task if ti else None, uri=_uri(source))
    collector.add_output_asset(ti.task if ti else None, uri=_uri(published))
    declare(ti.task if ti else None, _uri(source), _uri(published))


def notify_failure(context) -> None:
    """On failure: one clear log line, and a JSON post to the news_etl_webhook connection if set."""
    from pipeline.notify import notify_failure as notify

    notify(context, BaseHook.get_connection)


@dag(
    dag_id="news_etl",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2016, 12, 1, tzinfo=UTC),
    catchup=False,  # backfills are explicit (UI or `airflow backfill create`)
    max_active_runs=4,
    doc_md=DOC,
    tags=["news-etl", "etl", "parquet"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,  # I/O hiccups (network source, busy disk)
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": notify_failure,
    },
    params={
        "source": Param(
            DEFAULT_SOURCE,
            type="string",
            title="Source",
            description="Landing zone: a folder or an fsspec URL (s3://bucket/landing) holding YYYY-MM-DD/ folders.",
        ),
        "output": Param(
            DEFAULT_OUTPUT,
            type="string",
            title="Output",
            description="Output folder or object-store URL (s3://bucket/news; credentials: the news_etl_storage "
            "connection): articles/, quarantine/, _runs/ and _docs/ are written here.",
        ),
        "shards": Param(
            2,
            type="integer",
            minimum=1,
            maximum=512,
            title="Shards",
            description="How many process_shard tasks share one date (more for big dates and many workers).",
        ),
        "workers": Param(
            0,
            type="integer",
            minimum=0,
            title="Processes per shard",
            description="Worker processes inside each shard task; 0 means one per core of its worker.",
        ),
        "keep_raw": Param(
            False,
            type="boolean",
            title="Keep raw bytes",
            description="Also publish every input's bytes in OUTPUT/raw/, "
            "so the date can be replayed even if the source changes.",
        ),
    },
)
def news_etl():
    @task(task_id="plan_date")
    def plan_date(
        params: dict, logical_date=None, data_interval_start=None, run_id: str | None = None, ti=None
    ) -> list[dict]:
        """List the date's files and cut them into shards; returns one small dict per shard.

        The landing date is the logical date: for scheduled and backfill runs that is the data
        interval's start; for a manual run it is the date the user picked.
        """
        import logging

        from pipeline.notify import quiet_libraries, skip_summary
        from pipeline.run import plan

        quiet_libraries()
        landing = (logical_date or data_interval_start).date().isoformat()
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (run_id or "manual"))
        # One news-etl run per planning attempt: a cleared Airflow run keeps its run_id, its rerun
        # gets a new plan (and its own report) through the try number.
        attempt = getattr(ti, "try_number", 1) or 1
        planned = plan(
            _config(params, landing, f"{landing}-{safe}-try{attempt}"), shards=int(params.get("shards") or 1)
        )
        files = sum(s.files for s in planned.shards)
        log = logging.getLogger("news_etl.dag")
        log.info(
            "news-etl %s: %d %s in %d %s (run %s)",
            landing,
            files,
            "file" if files == 1 else "files",
            len(planned.shards),
            "shard" if len(planned.shards) == 1 else "shards",
            planned.run_id,
        )
        if not files:  # the run goes on (publish_date records the empty date) but says so now
            log.info(skip_summary(landing, params["source"]))
        return [{"run_id": planned.run_id, "date": landing, "index": i} for i in range(len(planned.shards))]

    @task(task_id="process_shard", map_index_template="{{ task.op_kwargs['shard']['index'] }}")
    def process_shard(shard: dict, params: dict) -> dict:
        """Fetch, decode, clean, date, describe and row-validate one shard; stage its Parquet."""
        import logging
        import socket

        from pipeline.notify import quiet_libraries
        from pipeline.run import process_shard as run_shard

        quiet_libraries()
        s = run_shard(_config(params, shard["date"], shard["run_id"]), shard["run_id"], shard["index"])
        logging.getLogger("news_etl.dag").info(
            "news-etl %s shard %d: %d files, %d documents, %d staged, %d quarantined in %.1fs on %s",
            shard["date"],
            shard["index"],
            s.files,
            s.documents,
            s.articles,
            s.quarantined,
            s.seconds,
            socket.gethostname(),
        )
        return {"index": shard["index"], "documents": s.documents, "hostname": s.hostname}

    @task(task_id="publish_date", outlets=[ARTICLES])
    def publish_date(shards: list[dict], plan_out: list[dict], params: dict, outlet_events=None, ti=None) -> dict:
        """De-duplicate across shards, validate the date as a batch, publish it atomically."""
        import logging

        from pipeline.errors import BatchValidationError
        from pipeline.notify import asset_extra, publish_summary, quiet_libraries, skip_summary
        from pipeline.run import finalize

        quiet_libraries()
        log = logging.getLogger("news_etl.dag")
        first = plan_out[0]
        config = _config(params, first["date"], first["run_id"])

        def plots() -> str | None:
            """Rewrite the plots page over everything published (OUTPUT/_report/index.html)."""
            from pipeline.report_page import write_report_page

            try:
                return write_report_page(config.output, config.storage_options or None)
            except Exception as exc:  # noqa: BLE001 - the data is published; the page is a view of it
                log.warning("news-etl %s: could not rewrite the plots page: %s", first["date"], exc)
                return None

        try:
            report = finalize(config, first["run_id"])
        except BatchValidationError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            docs = f"{params['output'].rstrip('/')}/_docs/{first['run_id']}/index.html"
            log.error(
                "news-etl %s: nothing published; validation results (Data Docs): %s; plots %s",
                first["date"],
                docs,
                plots(),
            )
            # A data-quality failure is not transient: fail now, without retries.
            raise AirflowFailException(str(exc)) from exc
        summary = {
            "date": first["date"],
            "status": report.status,
            "run_id": report.run_id,
            "report": f"{report.output.rstrip('/')}/_runs/{report.run_id}.json",
            "data_docs": report.data_docs,
            "documents_seen": report.documents_seen,
            "articles_written": report.articles_written,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "seconds": report.seconds,
            "validation": report.validation,
            "shards": len(shards),
        }
        if report.status == "empty":
            from airflow.sdk.exceptions import AirflowSkipException

            # Nothing landed for this date: nothing is published and no asset event is emitted.
            reason = skip_summary(first["date"], params["source"])
            log.info(reason)
            raise AirflowSkipException(reason)
        outlet_events[ARTICLES].extra = asset_extra(first["date"], report)
        _lineage(ti, params["source"], f"{report.output.rstrip('/')}/articles")
        summary["plots"] = plots()
        log.info(publish_summary(first["date"], report, summary["plots"]))
        return summary

    planned = plan_date()
    processed = process_shard.partial().expand(shard=planned)
    publish_date(processed, planned)


news_etl()
