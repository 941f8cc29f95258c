"""Write: stage Parquet, then publish whole landing dates atomically.

In:  Arrow tables of articles and quarantine rows (``records.ARTICLE_SCHEMA`` /
     ``QUARANTINE_SCHEMA``), the batch key of each row (its landing date, or ``undated``), an
     output folder, a ``WriteConfig``.
Out: the datasets readers use, hive-partitioned, zstd Parquet::

    OUT/articles/year=YYYY/month=MM/<key>.part-NNNNN.parquet   (by publication date; one file per shard)
    OUT/quarantine/landing=<key>/<key>.part-NNNNN.parquet
    OUT/raw/landing=<key>/<key>.part-NNNNN.parquet                (input bytes, with keep_raw)
    OUT/_manifests/<key>.json, <key>.SUCCESS                     (rows, files, checksums of one key)

How publishing stays atomic on a local filesystem: every published state is an immutable
snapshot folder ``OUT/.snapshots/NNNNNNNN/``; ``OUT/current`` is a symbolic link to the live one
and ``OUT/articles``, ``OUT/quarantine`` and ``OUT/_manifests`` link through it. A publish builds
the next snapshot from hard links to the files of the live one (all keys but those being
replaced) plus the newly staged files, then swaps ``current`` with one ``rename`` — atomic on
POSIX. A reader sees the old snapshot or the new one, never a mix and never a partial file. A
publish killed half way leaves an orphan snapshot folder, which the next publish removes. A lock
file serialises publishers (parallel backfill runs).

Rerunning a key replaces exactly that key's files; other keys are carried over untouched.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .config import WriteConfig
from .errors import PublishError
from .records import ARTICLE_SCHEMA, QUARANTINE_SCHEMA, RAW_SCHEMA, SCHEMA_VERSION

UNDATED = "undated"
DATASETS = ("articles", "quarantine", "raw", "_manifests")


def key_of(landing: dt.date | None) -> str:
    return landing.isoformat() if landing else UNDATED


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
                path, schema, compression=self.config.compression,
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
        ts = table.column("published_at")
        years = pc.year(ts).to_pylist()
        months = pc.month(ts).to_pylist()
        groups: dict[str, list[int]] = {}
        for i, (k, y, m) in enumerate(zip(keys, years, months)):
            groups.setdefault(f"articles/year={y:04d}/month={m:02d}/{k}.part-{self.shard:05d}.parquet", []).append(i)
        for rel, idx in groups.items():
            part = table.take(pa.array(idx, pa.int32())) if len(idx) != table.num_rows else table
            self._writer(rel, ARTICLE_SCHEMA).write_table(part, row_group_size=self.config.row_group_rows)
            staged = self._key(_file_key(rel))
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
            table = pa.table({"source_uri": [r[0] for r in rows], "source_path": [r[1] for r in rows],
                              "raw_sha256": [r[2] for r in rows], "size_bytes": [len(r[3]) for r in rows],
                              "raw": pa.array([r[3] for r in rows], pa.large_binary())}, schema=RAW_SCHEMA)
            self._writer(rel, RAW_SCHEMA).write_table(table)
            staged = self._key(k)
            staged.raw_files[rel] = staged.raw_files.get(rel, 0) + len(rows)

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()


# ---------------------------------------------------------------------------------------------
# Publishing


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def publish_lock(output: Path):
    output.mkdir(parents=True, exist_ok=True)
    with open(output / ".publish.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_snapshot(output: Path) -> Path | None:
    link = output / "current"
    if not link.is_symlink():
        return None
    target = output / os.readlink(link)
    return target if target.is_dir() else None


def _file_key(rel: str) -> str:
    """The landing-date key a published file belongs to: ``2016-12-07.part-00003.parquet``,
    ``2016-12-07.json`` and ``2016-12-07.SUCCESS`` all belong to ``2016-12-07``."""
    return rel.rsplit("/", 1)[-1].split(".", 1)[0]


def _ensure_links(output: Path) -> None:
    for name in DATASETS:
        link = output / name
        if link.is_symlink():
            continue
        if link.exists():
            raise PublishError(
                f"{link.name} exists and is not news-etl's link into the current snapshot",
                source=str(link),
                hint="point --output at an empty folder or at one news-etl wrote",
            )
        tmp = output / f".{name}.link-{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(f"current/{name}", tmp)
        os.replace(tmp, link)


def manifest_document(manifest: dict, listing: dict[str, dict], staged_name=lambda rel: rel) -> dict:
    """A key's manifest as published: the run's fields, plus every file of ``listing`` (published
    path -> sha256, bytes) with its rows (``rows_by_file`` is keyed by staged path;
    ``staged_name`` maps a published path back to it) and the schema version."""
    manifest = dict(manifest)
    rows = manifest.pop("rows_by_file", {})
    for rel, info in listing.items():
        info["rows"] = rows.get(staged_name(rel))
    manifest["files"] = dict(sorted(listing.items()))
    manifest["schema_version"] = SCHEMA_VERSION
    return manifest


def publish(
    output: Path,
    files: dict[str, list[tuple[Path, str]]],
    manifests: dict[str, dict],
    config: WriteConfig,
    *,
    _crash_after_links: bool = False,
) -> str:
    """Publish the staged files of each key in ``files`` ({key: [(staged path, relative
    destination)]}) in one snapshot swap; returns the snapshot name.

    Staged files are hard-linked, not moved, so a publish that dies can be retried from staging.
    Each key gets its manifest (with every file's rows, size and sha256) and a ``.SUCCESS`` marker.
    """
    output = Path(output)
    snapshots = output / ".snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    replace = set(files)
    with publish_lock(output):
        live = current_snapshot(output)
        # Orphans of a publish killed before its swap: any snapshot that is not live and newer.
        numbers = sorted(int(p.name) for p in snapshots.iterdir() if p.name.isdigit())
        live_no = int(live.name) if live else 0
        for n in numbers:
            if n > live_no:
                shutil.rmtree(snapshots / f"{n:08d}", ignore_errors=True)
        new_no = live_no + 1
        new = snapshots / f"{new_no:08d}"
        for name in DATASETS:
            (new / name).mkdir(parents=True, exist_ok=True)

        def link(src: Path, dst: Path) -> None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:  # a filesystem without hard links: copy
                shutil.copy2(src, dst)

        if live:
            for dirpath, _dirs, names in os.walk(live):
                for fname in names:
                    src = Path(dirpath, fname)
                    rel = src.relative_to(live).as_posix()
                    if _file_key(rel) not in replace:
                        link(src, new / rel)
        for key, entries in files.items():
            listing = {}
            for src, rel in entries:
                link(src, new / rel)
                listing[rel] = {"sha256": _sha256_file(new / rel), "bytes": (new / rel).stat().st_size}
            manifest = manifest_document(manifests.get(key, {}), listing)
            with open(new / "_manifests" / f"{key}.json", "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=2, sort_keys=True, default=str)
            (new / "_manifests" / f"{key}.SUCCESS").write_text(manifest.get("run_id", "") + "\n")
        if _crash_after_links:  # tests: a publish killed before its swap
            raise KeyboardInterrupt("simulated crash before the snapshot swap")

        tmp = output / f".current.swap-{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(os.path.relpath(new, output), tmp)
        os.replace(tmp, output / "current")  # the atomic step
        _ensure_links(output)

        keep = sorted((int(p.name) for p in snapshots.iterdir() if p.name.isdigit()), reverse=True)
        for n in keep[config.keep_snapshots + 1:]:
            if n < new_no:
                shutil.rmtree(snapshots / f"{n:08d}", ignore_errors=True)
    return new.name


def read_manifest(output: Path, key: str) -> dict | None:
    path = Path(output) / "_manifests" / f"{key}.json"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
