"""Reports built on the published dataset (downstream of a publish).

``daily_counts``: articles per language and source for one landing date, written as
``OUT/daily_counts/landing_date=YYYY-MM-DD/counts.parquet`` (replaced atomically), stamped with the
run id of the manifest it was computed from. ``stale_dates`` lists the published dates whose counts
are missing or older than their manifest: the downstream DAG computes those too, so an asset event
that Airflow failed to turn into a run (seen on SQLite when several dates publish at once) is
caught up by the next run, and no date is computed twice for one publish.

Works on a local output and on object storage alike: the date's articles are the files its
manifest lists, and the counts file is replaced in one step (a rename locally, one PUT on an
object store).
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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


def daily_counts(output, date: str, storage_options=None) -> tuple[str, int]:
    out = open_output(str(output), storage_options)
    manifest = out.read_manifests().get(date, {})
    run_id = manifest.get("run_id")
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
    counts = counts.replace_schema_metadata({"news_etl.run_id": run_id or "", "news_etl.date": date})
    buf = io.BytesIO()
    pq.write_table(counts, buf, compression="zstd")
    rel = f"daily_counts/landing_date={date}/counts.parquet"
    out.write_atomic(rel, buf.getvalue())
    # One record per computation (an audit trail: each publish is counted once).
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
