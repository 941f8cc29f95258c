"""Notify: a failure summary a person can act on, and an optional JSON webhook post.

In:  what failed (DAG, task, date, run, error, log URL; or an Airflow callback context) and,
     optionally, a webhook connection.
Out: one summary line (for the log) and, when a webhook is configured, a JSON POST to it (bounded
     timeout, never raising: a broken webhook must not hide the failure it reports); the identity
     of the published-articles asset and the extra of its events; the one-line summaries the tasks
     log at INFO (what was published where, or why a date was skipped), with the libraries' own
     INFO chatter held at WARNING.

The DAGs pass Airflow's objects in (the callback context, ``BaseHook.get_connection``); the
library itself imports nothing of Airflow.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("news_etl.notify")


def failure_summary(
    dag_id: str, task_id: str, date: str | None, run_id: str | None, error: str | None, log_url: str | None = None
) -> dict:
    first = (error or "unknown error").strip().splitlines()[0][:500] if error else "unknown error"
    text = f"news-etl FAILED: {dag_id}.{task_id} for {date or '?'} (run {run_id}): {first}"
    return {
        "text": text,
        "dag_id": dag_id,
        "task_id": task_id,
        "date": date,
        "run_id": run_id,
        "error": first,
        "log_url": log_url,
    }


def post_json(url: str, payload: dict, timeout: float = 10.0) -> bool:
    try:
        req = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "news-etl"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        log.warning("webhook post to %s failed: %s", url.split("?")[0], exc)
        return False


# The published articles dataset as an Airflow asset: news_etl emits one event per published
# landing date, news_etl_daily_counts is scheduled on it. The DAG files declare it with
# ``airflow.sdk.Asset(**ARTICLES_ASSET)`` values (they import nothing but the Task SDK at parse
# time); tests/test_dag.py holds both to this definition.
ARTICLES_ASSET = {"name": "news_etl_articles", "uri": "file:///news-etl/articles", "group": "news-etl"}
WEBHOOK_CONN_ID = "news_etl_webhook"

# Libraries that log at INFO inside a task (GX's context and checkpoint chatter, fsspec/botocore
# requests, NumExpr's thread count, matplotlib's font cache): an operator's task log shows our
# summary lines and Airflow's, not theirs. Held at WARNING, their warnings and errors still show.
NOISY_LOGGERS = (
    "great_expectations",
    "fsspec",
    "s3fs",
    "botocore",
    "aiobotocore",
    "boto3",
    "urllib3",
    "numexpr",
    "matplotlib",
    "PIL",
    "filelock",
    "asyncio",
    "charset_normalizer",
    "httpx",
)


def quiet_libraries() -> None:
    """Raise the noisy libraries' loggers (not the root logger) to WARNING."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 duplicate``, ``2 duplicates``, ``1,200 articles``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def publish_summary(date: str, report, plots: str | None = None) -> str:
    """The one line ``publish_date`` logs: counts, quarantine share, and where everything is."""
    out = report.output.rstrip("/")
    seen = report.documents_seen
    share = f" ({100.0 * report.quarantined / seen:.1f}% of documents)" if seen else ""
    parts = [
        f"news-etl {date}: {report.status}: {plural(seen, 'document')}, {plural(report.articles_written, 'article')} "
        f"published, {plural(report.quarantined, 'quarantined document')}{share}, "
        f"{plural(report.duplicates, 'duplicate')} in {report.seconds:.1f}s",
        f"output {out}/articles",
        f"report {out}/_runs/{report.run_id}.json",
    ]
    if report.data_docs:
        parts.append(f"Data Docs {report.data_docs}")
    if plots:
        parts.append(f"plots {plots}")
    return "; ".join(parts)


def skip_summary(date: str, source: str) -> str:
    """Why a date is skipped (a scheduled or unpaused run for a day nothing landed on)."""
    src = source.rstrip("/")
    return (
        f"news-etl {date}: skipped: no article files under {src}/{date}/ or {src}/{date.replace('-', '/')}/; "
        f"nothing published (pick a landing date that has files, or check the source)"
    )


def asset_extra(date: str, report) -> dict:
    """The extra of a publish's asset event: which date, where, how many rows, which run."""
    return {"date": date, "output": report.output, "articles": report.articles_written, "run_id": report.run_id}


def connection(get_connection: Callable[[str], Any], conn_id: str) -> Any | None:
    """The connection ``conn_id`` (``get_connection``: Airflow's ``BaseHook.get_connection``), or
    None when it is not configured."""
    try:
        return get_connection(conn_id)
    except Exception:  # not configured
        return None


def webhook_url(conn) -> str:
    """The URL to post to, from a connection-like object (``host``, ``conn_type``, ``port``,
    ``schema``, ``get_uri``): the host itself when it is a URL (``AIRFLOW_CONN_X=https://...``)."""
    if (conn.host or "").startswith("http"):
        return conn.host
    if conn.conn_type in ("http", "https") and conn.host:
        port = f":{conn.port}" if conn.port else ""
        return f"{conn.conn_type}://{conn.host}{port}/{(conn.schema or '').lstrip('/')}"
    return conn.get_uri()


def notify_failure(context: Mapping[str, Any], get_connection: Callable[[str], Any]) -> dict:
    """A task's failure (Airflow's callback context): one clear log line, and a JSON post to the
    ``news_etl_webhook`` connection when it exists. Returns the summary."""
    ti = context.get("ti") or context.get("task_instance")
    date = context.get("logical_date") or context.get("data_interval_start")
    summary = failure_summary(
        dag_id=getattr(ti, "dag_id", "news_etl"),
        task_id=getattr(ti, "task_id", "?"),
        date=date.date().isoformat() if date else None,
        run_id=context.get("run_id"),
        error=str(context.get("exception") or ""),
        log_url=getattr(ti, "log_url", None),
    )
    logging.getLogger("news_etl.dag").error(summary["text"])
    conn = connection(get_connection, WEBHOOK_CONN_ID)
    if conn is not None:  # without a webhook the log line is the notification
        post_json(webhook_url(conn), summary)
    return summary
