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
import os
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .storage import local_path, open_store, read_manifests


class _Output:
    """An output folder or object store, as an fsspec filesystem and a root path."""

    def __init__(self, output: str, storage_options: Mapping[str, Any] | None):
        self.store = open_store(str(output), storage_options)
        if self.store is None:
            import fsspec

            self.fs, self.root = fsspec.filesystem("file"), str(local_path(str(output)))
        else:
            self.fs, self.root = self.store.fs, self.store.root

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def write_atomic(self, rel: str, data: bytes) -> None:
        if self.store is not None:  # one PUT
            with self.fs.open(self.path(rel), "wb") as fh:
                fh.write(data)
            return
        path = local_path(self.path(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _published_runs(output: str, storage_options) -> dict[str, str]:
    """{date: run id} of every date whose manifest and SUCCESS marker are published."""
    out = _Output(output, storage_options)
    runs = {}
    for date, manifest in read_manifests(str(output), storage_options).items():
        if out.fs.exists(out.path(f"_manifests/{date}.SUCCESS")):
            runs[date] = manifest.get("run_id")
    return runs


def _counts_run(out: _Output, date: str) -> str | None:
    path = out.path(f"daily_counts/landing_date={date}/counts.parquet")
    if not out.fs.exists(path):
        return None
    with out.fs.open(path, "rb") as fh:
        meta = pq.read_schema(fh).metadata or {}
    return meta.get(b"news_etl.run_id", b"").decode() or None


def stale_dates(output, storage_options=None) -> list[str]:
    out = _Output(output, storage_options)
    return [d for d, run in sorted(_published_runs(output, storage_options).items()) if run and _counts_run(out, d) != run]


def daily_counts(output, date: str, storage_options=None) -> tuple[str, int]:
    out = _Output(output, storage_options)
    manifest = read_manifests(str(output), storage_options).get(date, {})
    run_id = manifest.get("run_id")
    files = [out.path(rel) for rel in sorted(manifest.get("files", {})) if rel.startswith("articles/")]
    columns = ["language", "source_name", "format"]
    t = pa.concat_tables([pq.read_table(f, columns=columns, filesystem=out.fs) for f in files]) if files else None
    if t is not None and t.num_rows:
        t = t.set_column(1, "source_name", pc.fill_null(t.column("source_name"), "(unknown)"))
        counts = t.group_by(["language", "source_name", "format"]).aggregate([("language", "count")]) \
            .rename_columns(["language", "source_name", "format", "articles"])
    else:
        counts = pa.table({"language": pa.array([], pa.string()), "source_name": pa.array([], pa.string()),
                           "format": pa.array([], pa.string()), "articles": pa.array([], pa.int64())})
    counts = counts.sort_by([("articles", "descending"), ("language", "ascending"), ("source_name", "ascending")])
    counts = counts.replace_schema_metadata({"news_etl.run_id": run_id or "", "news_etl.date": date})
    buf = io.BytesIO()
    pq.write_table(counts, buf, compression="zstd")
    rel = f"daily_counts/landing_date={date}/counts.parquet"
    out.write_atomic(rel, buf.getvalue())
    # One record per computation (an audit trail: each publish is counted once).
    record = json.dumps({"date": date, "run_id": run_id, "groups": counts.num_rows,
                         "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    if out.store is None:
        with open(local_path(out.path("daily_counts/_computed.jsonl")), "a", encoding="utf-8") as fh:
            fh.write(record + "\n")
    else:  # no appends on object storage: one small object per computation
        out.write_atomic(f"daily_counts/_computed/{date}.{run_id}.json", record.encode())
    return (out.store.uri(rel) if out.store else out.path(rel)), counts.num_rows
