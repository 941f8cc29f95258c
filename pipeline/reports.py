"""Reports built on the published dataset (downstream of a publish).

``daily_counts``: articles per language and source for one landing date, written as
``OUT/daily_counts/landing_date=YYYY-MM-DD/counts.parquet`` (replaced atomically), stamped with the
run id of the manifest it was computed from. ``stale_dates`` lists the published dates whose counts
are missing or older than their manifest: the downstream DAG computes those too, so an asset event
that Airflow failed to turn into a run (seen on SQLite when several dates publish at once) is
caught up by the next run, and no date is computed twice for one publish (``daily_counts`` takes a
per-date lock and skips counts already computed from the date's manifest).

Works on a local output and on object storage alike: the date's articles are the files its
manifest lists, and the counts file is replaced in one step (a rename locally, one PUT on an
object store), as is its record ``daily_counts/_computed/DATE.RUN_ID.json`` (one per publish).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import OutputBusyError
from .locks import hold
from .output import Output, open_output


def _published_runs(out: Output) -> dict[str, str]:
    """{date: run id} of every date whose manifest and SUCCESS marker are published."""
    return {
        date: manifest.get("run_id")
        for date, manifest in out.read_manifests().items()
        if out.exists(f"_manifests/{date}.SUCCESS")
    }


def _counts_run(out: Output, date: str) -> str | None:
    rel = f"daily_counts/landing_date={date}/counts.parquet"
    if not out.exists(rel):
        return None
    meta = out.parquet(rel).schema_arrow.metadata or {}
    return meta.get(b"news_etl.run_id", b"").decode() or None


def stale_dates(output, storage_options=None) -> list[str]:
    out = open_output(str(output), storage_options)
    return [d for d, run in sorted(_published_runs(out).items()) if run and _counts_run(out, d) != run]


# How long a caller waits for another computing the same date's counts (they take seconds).
COUNTS_LOCK_WAIT_S = 300.0


def _counts_table(out: Output, date: str, run_id: str | None) -> pa.Table:
    columns = ["language", "source_name", "format"]
    tables = [out.parquet(rel).read(columns=columns) for rel in out.published("articles", [date])]
    t = pa.concat_tables(tables) if tables else None
    if t is not None and t.num_rows:
        t = t.set_column(1, "source_name", pc.fill_null(t.column("source_name"), "(unknown)"))
        counts = (
            t.group_by(["language", "source_name", "format"])
            .aggregate([("language", "count")])
            .rename_columns(["language", "source_name", "format", "articles"])
        )
    else:
        counts = pa.table(
            {
                "language": pa.array([], pa.string()),
                "source_name": pa.array([], pa.string()),
                "format": pa.array([], pa.string()),
                "articles": pa.array([], pa.int64()),
            }
        )
    counts = counts.sort_by([("articles", "descending"), ("language", "ascending"), ("source_name", "ascending")])
    return counts.replace_schema_metadata({"news_etl.run_id": run_id or "", "news_etl.date": date})


def daily_counts(output, date: str, storage_options=None) -> tuple[str, int]:
    """Write the counts of ``date`` (its published articles) and return (their URI, their rows).

    Idempotent per publish, whatever the interleaving of overlapping callers (a retried DAG run
    beside a new one): on one machine they take turns under a per-date lock
    (``WORK/.locks/daily_counts-DATE.lock``) and a caller that finds the counts already computed
    from the date's current manifest leaves them as they are; and, wherever the output is, the
    counts file is keyed by date and the record by date and publish, each replaced in one step,
    so callers on different machines still leave one file per date and one record per publish.
    """
    out = open_output(str(output), storage_options)
    rel = f"daily_counts/landing_date={date}/counts.parquet"

    def busy(who: str) -> Exception:
        return OutputBusyError(f"the daily counts of {date} are being computed by {who}", source=out.location)

    owner = f"daily counts of {date}, pid {os.getpid()} on {os.uname().nodename}"
    with hold(Path(out.work) / ".locks" / f"daily_counts-{date}.lock", owner, busy, COUNTS_LOCK_WAIT_S):
        run_id = out.read_manifests().get(date, {}).get("run_id")
        if run_id and _counts_run(out, date) == run_id:
            return out.uri(rel), out.parquet(rel).metadata.num_rows
        counts = _counts_table(out, date, run_id)
        buf = io.BytesIO()
        pq.write_table(counts, buf, compression="zstd")
        out.write_atomic(rel, buf.getvalue())
        # One record per publish counted (an audit trail), replaced if computed again.
        record = json.dumps(
            {
                "date": date,
                "run_id": run_id,
                "groups": counts.num_rows,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        out.add_record("daily_counts/_computed", f"{date}.{run_id}", record)
    return out.uri(rel), counts.num_rows
