"""Reports built on the published dataset (downstream of a publish).

``daily_counts``: articles per language and source for one landing date, written as
``OUT/daily_counts/landing_date=YYYY-MM-DD/counts.parquet`` (replaced atomically), stamped with the
run id of the manifest it was computed from. ``stale_dates`` lists the published dates whose counts
are missing or older than their manifest: the downstream DAG computes those too, so an asset event
that Airflow failed to turn into a run (seen on SQLite when several dates publish at once) is
caught up by the next run, and no date is computed twice for one publish.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def _manifest_run(output: Path, date: str) -> str | None:
    path = output / "_manifests" / f"{date}.json"
    if not path.exists() or not (output / "_manifests" / f"{date}.SUCCESS").exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("run_id")


def _counts_run(output: Path, date: str) -> str | None:
    path = output / "daily_counts" / f"landing_date={date}" / "counts.parquet"
    if not path.exists():
        return None
    meta = pq.read_schema(path).metadata or {}
    return meta.get(b"news_etl.run_id", b"").decode() or None


def stale_dates(output: str | Path) -> list[str]:
    output = Path(output)
    folder = output / "_manifests"
    if not folder.is_dir():
        return []
    dates = sorted(p.stem for p in folder.glob("*.json"))
    return [d for d in dates if _manifest_run(output, d) and _counts_run(output, d) != _manifest_run(output, d)]


def daily_counts(output: str | Path, date: str) -> tuple[Path, int]:
    output = Path(output)
    run_id = _manifest_run(output, date)
    day = dt.date.fromisoformat(date)
    dataset = ds.dataset(output / "articles", format="parquet", partitioning="hive")
    t = dataset.to_table(columns=["language", "source_name", "format"], filter=ds.field("landing_date") == pa.scalar(day, pa.date32()))
    if t.num_rows:
        t = t.set_column(1, "source_name", pc.fill_null(t.column("source_name"), "(unknown)"))
        counts = t.group_by(["language", "source_name", "format"]).aggregate([("language", "count")]) \
            .rename_columns(["language", "source_name", "format", "articles"])
    else:
        counts = pa.table({"language": pa.array([], pa.string()), "source_name": pa.array([], pa.string()),
                           "format": pa.array([], pa.string()), "articles": pa.array([], pa.int64())})
    counts = counts.sort_by([("articles", "descending"), ("language", "ascending"), ("source_name", "ascending")])
    counts = counts.replace_schema_metadata({"news_etl.run_id": run_id or "", "news_etl.date": date})
    folder = output / "daily_counts" / f"landing_date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".counts.parquet.tmp-{os.getpid()}"
    pq.write_table(counts, tmp, compression="zstd")
    os.replace(tmp, folder / "counts.parquet")
    with open(output / "daily_counts" / "_computed.jsonl", "a", encoding="utf-8") as fh:  # one line per computation
        fh.write(json.dumps({"date": date, "run_id": run_id, "groups": counts.num_rows,
                             "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}) + "\n")
    return folder / "counts.parquet", counts.num_rows
