"""Write: stream a shard's tables into staged Parquet files, grouped by landing date.

In:  Arrow tables of articles and quarantine rows (``records.ARTICLE_SCHEMA`` /
     ``QUARANTINE_SCHEMA``), input bytes (``RAW_SCHEMA``, with keep_raw), the batch key of each row
     (its landing date, or ``undated``), a shard folder, a ``WriteConfig``.
Out: hive-partitioned, zstd Parquet under the shard folder, in the published layout::

    articles/year=YYYY/month=MM/<key>.part-NNNNN.parquet   (one file per shard; see partition_dates)
    quarantine/landing=<key>/<key>.part-NNNNN.parquet
    raw/landing=<key>/<key>.part-NNNNN.parquet              (input bytes, with keep_raw)

and, per key, the files written and their rows (``Stager.keys``). Publishing those files, whole
landing dates at a time and atomically, is the job of an ``output.Output``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .config import WriteConfig
from .output import file_key
from .records import ARTICLE_SCHEMA, QUARANTINE_SCHEMA, RAW_SCHEMA

UNDATED = "undated"


def key_of(landing: dt.date | None) -> str:
    return landing.isoformat() if landing else UNDATED


def partition_dates(table: pa.Table) -> tuple[list[int], list[int]]:
    """The ``year``/``month`` partition of each article: its publication date (``published_at``,
    UTC) when the document states one, else its landing date (``date_source = none``: the month
    the file reached us, which claims nothing about publication; filter on ``published_at`` to
    select by publication date). ``steps.dates`` rejects an article that has neither."""
    stated = pc.cast(table.column("published_at"), pa.timestamp("us", tz="UTC"))
    when = pc.coalesce(pc.cast(stated, pa.date32()), table.column("landing_date"))
    return pc.year(when).to_pylist(), pc.month(when).to_pylist()


@dataclass
class StagedKey:
    key: str
    article_files: dict[str, int] = field(default_factory=dict)  # relative path -> rows
    quarantine_files: dict[str, int] = field(default_factory=dict)
    raw_files: dict[str, int] = field(default_factory=dict)

    @property
    def articles(self) -> int:
        return sum(self.article_files.values())

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_files.values())


class Stager:
    """Streams tables into the staged Parquet files of one shard (``root``).

    Files are named ``<key>.part-<shard>.parquet``; one writer per (key, partition) stays open
    until ``close``; rows keep the order in which they arrive (input order).
    """

    def __init__(self, root: Path, shard: int, config: WriteConfig):
        self.root = Path(root)
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.shard = shard
        self.config = config
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.keys: dict[str, StagedKey] = {}

    def _writer(self, rel: str, schema: pa.Schema) -> pq.ParquetWriter:
        w = self._writers.get(rel)
        if w is None:
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            w = pq.ParquetWriter(
                path,
                schema,
                compression=self.config.compression,
                compression_level=self.config.compression_level,
                write_statistics=True,
            )
            self._writers[rel] = w
        return w

    def _key(self, key: str) -> StagedKey:
        return self.keys.setdefault(key, StagedKey(key))

    def add_articles(self, table: pa.Table, keys: list[str]) -> None:
        if table.num_rows == 0:
            return
        years, months = partition_dates(table)
        groups: dict[str, list[int]] = {}
        for i, (k, y, m) in enumerate(zip(keys, years, months)):
            groups.setdefault(f"articles/year={y:04d}/month={m:02d}/{k}.part-{self.shard:05d}.parquet", []).append(i)
        for rel, idx in groups.items():
            part = table.take(pa.array(idx, pa.int32())) if len(idx) != table.num_rows else table
            self._writer(rel, ARTICLE_SCHEMA).write_table(part, row_group_size=self.config.row_group_rows)
            staged = self._key(file_key(rel))
            staged.article_files[rel] = staged.article_files.get(rel, 0) + len(idx)

    def add_quarantine(self, table: pa.Table | pa.RecordBatch, keys: list[str]) -> None:
        if table.num_rows == 0:
            return
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        groups: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        for k, idx in groups.items():
            rel = f"quarantine/landing={k}/{k}.part-{self.shard:05d}.parquet"
            part = table.take(pa.array(idx, pa.int32())) if len(idx) != table.num_rows else table
            self._writer(rel, QUARANTINE_SCHEMA).write_table(part)
            staged = self._key(k)
            staged.quarantine_files[rel] = staged.quarantine_files.get(rel, 0) + len(idx)

    def add_raw(self, by_key: dict[str, list]) -> None:
        """Input bytes, kept so that a rerun can be replayed even if the source changed."""
        for k, rows in by_key.items():
            rel = f"raw/landing={k}/{k}.part-{self.shard:05d}.parquet"
            table = pa.table(
                {
                    "source_uri": [r[0] for r in rows],
                    "source_path": [r[1] for r in rows],
                    "raw_sha256": [r[2] for r in rows],
                    "size_bytes": [len(r[3]) for r in rows],
                    "raw": pa.array([r[3] for r in rows], pa.large_binary()),
                },
                schema=RAW_SCHEMA,
            )
            self._writer(rel, RAW_SCHEMA).write_table(table)
            staged = self._key(k)
            staged.raw_files[rel] = staged.raw_files.get(rel, 0) + len(rows)

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()
