"""Write: stage Parquet, then publish whole landing dates atomically.

In:  Arrow tables of articles and quarantine rows (``records.ARTICLE_SCHEMA`` /
     ``QUARANTINE_SCHEMA``), the batch key of each row (its landing date, or ``undated``), an
     output folder, a ``WriteConfig``.
Out: the datasets readers use, hive-partitioned, zstd Parquet::

    OUT/articles/year=YYYY/month=MM/<key>.parquet    (by publication date)
    OUT/quarantine/landing=<key>/<key>.parquet
    OUT/_manifests/<key>.json                         (rows, files, checksums of one key)

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
from .records import ARTICLE_SCHEMA, QUARANTINE_SCHEMA, SCHEMA_VERSION

UNDATED = "undated"
DATASETS = ("articles", "quarantine", "_manifests")


def key_of(landing: dt.date | None) -> str:
    return landing.isoformat() if landing else UNDATED


@dataclass
class StagedKey:
    key: str
    article_files: dict[str, int] = field(default_factory=dict)  # relative path -> rows
    quarantine_files: dict[str, int] = field(default_factory=dict)

    @property
    def articles(self) -> int:
        return sum(self.article_files.values())

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_files.values())


class Stager:
    """Streams tables into staged Parquet files under ``OUT/.staging/<run_id>/``.

    One writer per (key, partition) stays open until ``close``; rows of a file keep the order in
    which they arrive, which the run makes the sorted order of source paths.
    """

    def __init__(self, output: Path, run_id: str, config: WriteConfig):
        self.root = Path(output) / ".staging" / run_id
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
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
            groups.setdefault(f"articles/year={y:04d}/month={m:02d}/{k}.parquet", []).append(i)
        for rel, idx in groups.items():
            part = table.take(pa.array(idx, pa.int32())) if len(idx) != table.num_rows else table
            self._writer(rel, ARTICLE_SCHEMA).write_table(part, row_group_size=self.config.row_group_rows)
            staged = self._key(rel.rsplit("/", 1)[1][: -len(".parquet")])
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
            rel = f"quarantine/landing={k}/{k}.parquet"
            part = table.take(pa.array(idx, pa.int32())) if len(idx) != table.num_rows else table
            self._writer(rel, QUARANTINE_SCHEMA).write_table(part)
            staged = self._key(k)
            staged.quarantine_files[rel] = staged.quarantine_files.get(rel, 0) + len(idx)

    def touch(self, key: str) -> StagedKey:
        """Make a key known even if it staged no rows (a date whose files all failed fetch)."""
        return self._key(key)

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)


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


def _file_key(rel: str) -> str | None:
    name = rel.rsplit("/", 1)[-1]
    for suffix in (".parquet", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


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


def publish(
    output: Path,
    stager: Stager,
    keys: list[str],
    manifests: dict[str, dict],
    config: WriteConfig,
    *,
    _crash_after_links: bool = False,
) -> str:
    """Publish the staged files of ``keys`` in one snapshot swap; returns the snapshot name."""
    output = Path(output)
    stager.close()
    snapshots = output / ".snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    replace = set(keys)
    with publish_lock(output):
        live = current_snapshot(output)
        # Orphans of a publish killed before its swap: any snapshot that is not live and newer.
        numbers = sorted(int(p.name) for p in snapshots.iterdir() if p.name.isdigit())
        live_no = int(live.name) if live else 0
        for n in numbers:
            if n > live_no:
                shutil.rmtree(snapshots / f"{n:08d}", ignore_errors=True)
        new_no = max([live_no] + [n for n in numbers if n <= live_no]) + 1
        new = snapshots / f"{new_no:08d}"
        for name in DATASETS:
            (new / name).mkdir(parents=True, exist_ok=True)

        if live:
            for dirpath, _dirs, files in os.walk(live):
                for fname in files:
                    src = Path(dirpath, fname)
                    rel = src.relative_to(live).as_posix()
                    if _file_key(rel) in replace:
                        continue
                    dst = new / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        os.link(src, dst)
                    except OSError:  # a filesystem without hard links: copy
                        shutil.copy2(src, dst)
        for key in keys:
            staged = stager.keys.get(key)
            if staged is None:
                continue
            for rel in list(staged.article_files) + list(staged.quarantine_files):
                dst = new / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stager.root / rel, dst)
            manifest = dict(manifests.get(key, {}))
            manifest["files"] = {
                rel: {"rows": rows, "sha256": _sha256_file(new / rel), "bytes": (new / rel).stat().st_size}
                for rel, rows in sorted({**staged.article_files, **staged.quarantine_files}.items())
            }
            manifest["schema_version"] = SCHEMA_VERSION
            with open(new / "_manifests" / f"{key}.json", "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=2, sort_keys=True, default=str)
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
    shutil.rmtree(stager.root, ignore_errors=True)
    return new.name


def read_manifest(output: Path, key: str) -> dict | None:
    path = Path(output) / "_manifests" / f"{key}.json"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
