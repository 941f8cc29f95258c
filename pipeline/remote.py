"""Remote: the ``Output`` of an object store (any fsspec URL), published by manifest commit.

In:  an output URL, its ``storage.ObjectStore`` and a local work folder; at publish, the staged
     files of each landing date and its manifest fields.
Out: the layout of ``pipeline.output`` on the store.

An object store has no atomic rename, so publishing is manifest-based. Shards stage their files in
a local work folder and upload them to ``OUT/_staging/<run_id>/`` (a prefix readers never glob);
the publish step fetches the staged shards and, for each landing date (``StoreOutput.publish``):

1. uploads the date's files under names no earlier publish used
   (``<date>.<version>.part-NNNNN.parquet``);
2. replaces ``OUT/_manifests/<date>.json``, one object PUT, atomic on S3, GCS and Azure: this is
   the commit. The manifest lists every file of the date with its rows, bytes and sha256;
3. deletes the date's files that the new manifest does not list (the previous version, and
   files of any publish that died between 1 and 2).

A reader that goes through the manifests (``Output.published``; ``news-etl files``) always sees
one whole version of each date. A reader that globs ``OUT/articles/**/*.parquet`` sees the same
once a publish has finished; during the seconds between steps 1 and 3 it may see a date twice.

Two runs of one date from two machines: each takes the date's lock object
``OUT/_locks/<date>.json`` (``store_locks``: a conditional create on S3, an owner, an expiry
refreshed while the run lives) before it plans; the second fails at once naming the owner, or waits
up to ``NEWS_ETL_LOCK_TIMEOUT``. ``store_locks`` says what that guarantees on which stores. Even
without it a date is never mixed: each manifest lists one run's whole files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq

from .locks import date_locks
from .output import (
    DATA_DATASETS,
    MANIFESTS,
    STAGING,
    Files,
    file_key,
    listed_files,
    manifest_document,
    parse_manifests,
    sha256_file,
    unversioned,
)
from .storage import ObjectStore
from .store_locks import store_locks

log = logging.getLogger("news_etl.storage")


def _versioned(rel: str, version: str) -> str:
    folder, name = rel.rsplit("/", 1)
    key, rest = name.split(".", 1)
    return f"{folder}/{key}.{version}.{rest}"


class StoreOutput:
    """An object-store output: shards stage in a local ``work`` folder and travel through
    ``OUT/_staging/<run_id>/``; publishes by manifest commit."""

    def __init__(self, url: str, store: ObjectStore, work: Path):
        self.location = url
        self.store = store
        self.work = work

    def _remote(self, run_id: str, rel: str = "") -> str:
        return f"{STAGING}/{run_id}" + (f"/{rel}" if rel else "")

    # Staging
    def staging(self, run_id: str) -> Path:
        return self.work / ".staging" / run_id

    def share(self, run_id: str, paths: Iterable[Path]) -> None:
        """Upload staged files, in the order given, for the other machines of the run."""
        local = self.staging(run_id)
        for path in paths:
            self.store.put_file(path, self._remote(run_id, Path(path).relative_to(local).as_posix()))

    def release(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def fetch(self, run_id: str, rel: str) -> Path:
        """A staged file, downloaded when it was staged on another machine."""
        path = self.staging(run_id) / rel
        if not path.exists():
            try:
                self.store.get_file(self._remote(run_id, rel), path)
            except FileNotFoundError:
                pass
        return path

    def fetch_all(self, run_id: str) -> None:
        """Every shard's staged files, wherever they ran."""
        local = self.staging(run_id)
        shutil.rmtree(local, ignore_errors=True)
        self.store.fs.invalidate_cache()
        self.store.get_dir(self._remote(run_id), local)

    def drop_staging(self, run_id: str) -> None:
        shutil.rmtree(self.staging(run_id), ignore_errors=True)
        self.store.rm_prefix(self._remote(run_id))

    @contextmanager
    def date_locks(self, keys: Iterable[str], run_id: str) -> Iterator[None]:
        """One run per landing date: a ``flock`` in the local work folder (runs of this machine),
        then a lock object per date on the store (runs of any machine, ``store_locks``)."""
        keys = sorted(set(keys))
        with date_locks(self.work, keys, run_id, self.location), store_locks(self.store, keys, run_id, self.location):
            yield

    def publish(
        self, files: Files, manifests: dict[str, dict], run_id: str, *, _crash_after_upload: bool = False
    ) -> str:
        """Publish each key's staged files; the manifest PUT is each key's commit. Returns the
        version string (derived from the run id: a rerun of one run writes the same names)."""
        store = self.store
        version = re.sub(r"[^A-Za-z0-9-]+", "-", "v" + hashlib.sha256(run_id.encode()).hexdigest()[:12])
        for key, entries in files.items():
            listing = {}
            for src, rel in entries:
                dst = _versioned(rel, version)
                store.put_file(src, dst)
                listing[dst] = {"sha256": sha256_file(src), "bytes": Path(src).stat().st_size}
            if _crash_after_upload:  # tests: a publish that dies before its commit
                raise KeyboardInterrupt("simulated crash before the manifest is written")
            manifest = manifest_document(manifests.get(key, {}), listing, unversioned)
            manifest["version"] = version
            store.write_text(f"{MANIFESTS}/{key}.json", json.dumps(manifest, indent=2, sort_keys=True, default=str))
            store.write_text(f"{MANIFESTS}/{key}.SUCCESS", manifest.get("run_id", "") + "\n")
            # The commit is done; what the manifest does not list is garbage now.
            stale = [rel for rel in self._files_of_key(key) if rel not in listing]
            if stale:
                store.rm(stale)
                log.info("publish %s: replaced %d files of the previous version", key, len(stale))
        store.fs.invalidate_cache()
        return version

    def _files_of_key(self, key: str) -> list[str]:
        self.store.fs.invalidate_cache()
        return [rel for dataset in DATA_DATASETS for rel in self.store.find(dataset) if file_key(rel) == key]

    def save(self, local: Path, rel: str) -> str:
        self.store.put_file(local, rel)
        Path(local).unlink()
        return self.store.uri(rel)

    def save_dir(self, folder: Path, rel: str) -> str:
        self.store.put_dir(folder, rel)
        return self.store.uri(rel)

    # Reading what is published: through the manifests.
    def read_manifests(self) -> dict[str, dict]:
        self.store.fs.invalidate_cache()
        texts = {rel: self.store.read_text(rel) for rel in self.store.find(MANIFESTS) if rel.endswith(".json")}
        return parse_manifests(texts, self.location)

    def verify_layout(self) -> None:
        pass  # no link to lose: the manifests are the layout

    def verify(self) -> None:
        self.read_manifests()

    def published(self, dataset: str = "articles", keys: Iterable[str] | None = None) -> list[str]:
        return listed_files(self.read_manifests(), dataset, keys)

    def files(self) -> dict[str, int]:
        self.store.fs.invalidate_cache()
        found: dict[str, int] = {}
        for prefix in (*DATA_DATASETS, MANIFESTS):
            for path, info in self.store.fs.find(self.store.path(prefix), detail=True).items():
                found[path[len(self.store.root) + 1 :]] = int(info.get("size") or 0)
        return found

    def uri(self, rel: str) -> str:
        return self.store.uri(rel)

    def exists(self, rel: str) -> bool:
        return self.store.exists(rel)

    def read_text(self, rel: str) -> str | None:
        return self.store.read_text(rel)

    def sha256(self, rel: str) -> str:
        h = hashlib.sha256()
        with self.store.fs.open(self.store.path(rel), "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def parquet(self, rel: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.store.path(rel), filesystem=self.store.fs)

    def write_atomic(self, rel: str, data: bytes) -> None:
        """One PUT: a reader sees the old object or the new one."""
        with self.store.fs.open(self.store.path(rel), "wb") as fh:
            fh.write(data)

    def add_record(self, folder: str, name: str, record: str) -> None:
        """One small object ``folder/name.json``: object stores have no appends."""
        self.write_atomic(f"{folder}/{name}.json", record.encode())
