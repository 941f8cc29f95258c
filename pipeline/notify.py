"""Notify: a failure summary a person can act on, and an optional JSON webhook post.

In:  what failed (DAG, task, date, run, error, log URL) and, optionally, a webhook URL.
Out: one summary line (for the log) and, when a URL is given, a JSON POST to it (bounded timeout,
     never raising: a broken webhook must not hide the failure it reports).

The DAG's failure callback looks the URL up in an Airflow connection (``news_etl_webhook``) and
calls this; the library itself knows nothing of Airflow.
"""

from __future__ import annotations

import json
import logging
import urllib.request

log = logging.getLogger("news_etl.notify")


def failure_summary(dag_id: str, task_id: str, date: str | None, run_id: str | None, error: str | None,
                    log_url: str | None = None) -> dict:
    first = (error or "unknown error").strip().splitlines()[0][:500] if error else "unknown error"
    text = f"news-etl FAILED: {dag_id}.{task_id} for {date or '?'} (run {run_id}): {first}"
    return {"text": text, "dag_id": dag_id, "task_id": task_id, "date": date, "run_id": run_id, "error": first,
            "log_url": log_url}


def post_json(url: str, payload: dict, timeout: float = 10.0) -> bool:
    try:
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "news-etl"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        log.warning("webhook post to %s failed: %s", url.split("?")[0], exc)
        return False
