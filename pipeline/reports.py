"""Reports built on the published dataset (downstream of a publish).

``daily_counts``: articles per language and source for one landing date, written as
``OUT/daily_counts/landing_date=YYYY-MM-DD/counts.parquet`` (replaced atomically).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def daily_counts(output: str | Path, date: str) -> tuple[Path, int]:
    output = Path(output)
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
    folder = output / "daily_counts" / f"landing_date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".counts.parquet.tmp-{os.getpid()}"
    pq.write_table(counts, tmp, compression="zstd")
    os.replace(tmp, folder / "counts.parquet")
    return folder / "counts.parquet", counts.num_rows
