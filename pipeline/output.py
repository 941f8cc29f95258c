"""Output: where a run's results live and how a landing date is published, one interface for a
local folder and an object store.

In:  an output location (a folder, a ``file://`` URL or any fsspec URL such as ``s3://bucket/news``),
     fsspec storage options and, for an object store, a local work folder.
Out: an ``Output`` (``open_output``). The layout is the same on both::

    OUT/articles/year=YYYY/month=MM/<key>.*.parquet   OUT/quarantine/landing=<key>/<key>.*.parquet
    OUT/raw/landing=<key>/<key>.*.parquet             OUT/_manifests/<key>.json, <key>.SUCCESS
    OUT/_runs/<run_id>.json, .ledger.parquet          OUT/_docs/<run_id>/index.html

Two implementations: ``snapshot.LocalOutput`` publishes by an atomic snapshot swap,
``remote.StoreOutput`` by a manifest commit (one PUT per date). The phases, ``check``, ``dedup``,
``reports`` and the CLI use this interface only; neither knows which implementation it has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from .errors import OutputError
from .records import SCHEMA_VERSION

DATA_DATASETS = ("articles", "quarantine", "raw")
MANIFESTS = "_manifests"
STAGING = "_staging"

# {landing key: [(staged local file, relative destination)]}: what a publish makes live.
Files = dict[str, list[tuple[Path, str]]]


def file_key(rel: str) -> str:
    """The landing-date key a published file belongs to: ``2016-12-07.part-00003.parquet``,
    ``2016-12-07.json`` and ``2016-12-07.SUCCESS`` all belong to ``2016-12-07``."""
    return rel.rsplit("/", 1)[-1].split(".", 1)[0]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def parse_manifest(rel: str, text: str | None, where: str) -> dict:
    """A published manifest, or an ``OutputError`` in one line when it is not valid JSON or was
    written by another schema version (mixing versions in one output is refused, never migrated
    silently)."""
    try:
        manifest = json.loads(text or "")
        if not isinstance(manifest, dict):
            raise ValueError(f"a JSON {type(manifest).__name__}, not an object")
    except ValueError as exc:
        raise OutputError(
            f"manifest {rel} is unreadable ({str(exc).splitlines()[0][:120] or 'empty'})",
            source=where,
            hint=f"delete it and rerun its date (news-etl run --date {file_key(rel)}); "
            "news-etl check lists every problem",
        ) from None
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise OutputError(
            f"manifest {rel} was written with schema version {version}, this news-etl writes version {SCHEMA_VERSION}",
            source=where,
            hint="publish to a new output folder, or rerun every date of this one with the news-etl "
            "version that wrote it; versions are never mixed in one output",
        )
    return manifest


def parquet_schema_version(file: pq.ParquetFile) -> str | None:
    """The schema version a published Parquet file says it was written with."""
    metadata = file.schema_arrow.metadata or {}
    value = metadata.get(b"news_etl.schema_version")
    return value.decode() if value is not None else None


def listed_files(manifests: Mapping[str, dict], dataset: str, keys: Iterable[str] | None = None) -> list[str]:
    """The files of ``dataset`` that the manifests list, key by key, in path order."""
    wanted = set(keys) if keys is not None else None
    return [
        rel
        for key, manifest in sorted(manifests.items())
        if wanted is None or key in wanted
        for rel in sorted(manifest.get("files", {}))
        if rel.startswith(dataset + "/")
    ]


class Output(Protocol):
    """A run's output. ``rel`` arguments are paths relative to the output's root."""

    location: str  # what reports and logs name: the folder, or the URL as given
    work: Path  # the local folder where shards stage (a local output is its own)

    # Staging, shared between the machines of one run (plan, shards, finalize).
    def staging(self, run_id: str) -> Path: ...
    def share(self, run_id: str, paths: Iterable[Path]) -> None: ...
    def release(self, folder: Path) -> None: ...
    def fetch(self, run_id: str, rel: str) -> Path: ...
    def fetch_all(self, run_id: str) -> None: ...
    def drop_staging(self, run_id: str) -> None: ...

    # Publishing a run's results.
    def publish(self, files: Files, manifests: dict[str, dict], run_id: str) -> str: ...
    def save(self, local: Path, rel: str) -> str: ...
    def save_dir(self, folder: Path, rel: str) -> str: ...

    # Reading what is published.
    def verify_layout(self) -> None: ...  # raises OutputError (local: a missing ``current`` link)
    def verify(self) -> None: ...  # raises OutputError when publishing over the output is unsafe
    def read_manifests(self) -> dict[str, dict]: ...  # raises OutputError on a garbage or foreign manifest
    def published(self, dataset: str = "articles", keys: Iterable[str] | None = None) -> list[str]: ...
    def files(self) -> dict[str, int]: ...
    def uri(self, rel: str) -> str: ...
    def exists(self, rel: str) -> bool: ...
    def read_text(self, rel: str) -> str | None: ...
    def sha256(self, rel: str) -> str: ...
    def parquet(self, rel: str) -> pq.ParquetFile: ...
    def write_atomic(self, rel: str, data: bytes) -> None: ...
    def add_record(self, folder: str, name: str, record: str) -> None: ...


def open_output(
    url: str, storage_options: Mapping[str, Any] | None = None, work_dir: str | None = None, write=None
) -> Output:
    """The ``Output`` of ``url``: a ``LocalOutput`` for a folder, a ``StoreOutput`` for an fsspec URL
    (shards then stage under ``work_dir``, default: the system's temporary folder)."""
    from .config import WriteConfig
    from .remote import StoreOutput
    from .snapshot import LocalOutput
    from .storage import is_remote, local_path, open_store
    from .storage import work_dir as store_work_dir

    if not is_remote(str(url)):
        return LocalOutput(local_path(str(url)), write or WriteConfig())
    return StoreOutput(str(url), open_store(str(url), storage_options), store_work_dir(str(url), work_dir))


def output_for(config) -> Output:
    """The output of a ``RunConfig``."""
    return open_output(config.output, config.storage_options, config.work_dir, config.write)
