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
import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from .errors import OutputError
from .records import MIGRATES_FROM, SCHEMA_VERSION

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


def parse_manifest(rel: str, text: str | None, where: str, check_version: bool = True) -> dict:
    """A published manifest, or an ``OutputError`` in one line when it is not valid JSON or (with
    ``check_version``) was written by another schema version (mixing versions in one output is
    refused; an older one is migrated by ``news-etl migrate``, never silently)."""
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
    if check_version:
        problem = version_problem(manifest.get("schema_version"), [file_key(rel)], where)
        if problem is not None:
            raise problem
    return manifest


def parse_manifests(texts: Mapping[str, str | None], where: str, migrating: bool = False) -> dict[str, dict]:
    """Every manifest of ``texts`` (path -> text) by key; one ``OutputError`` for all the dates of
    another schema version (the worst such version: how many dates, and what to do). With
    ``migrating``, dates of a version ``news-etl migrate`` can bring up to date are no problem."""
    manifests = {file_key(rel): parse_manifest(rel, text, where, check_version=False) for rel, text in texts.items()}
    by_version: dict[Any, list[str]] = {}
    for key, manifest in sorted(manifests.items()):
        by_version.setdefault(manifest.get("schema_version"), []).append(key)
    # The worst first: a newer version (migrating would not help), one that cannot be migrated.
    problems = [
        version_problem(version, keys, where)
        for version, keys in by_version.items()
        if not (migrating and migratable(version))
    ]
    problems = [p for p in problems if p is not None]
    if problems:
        raise min(problems, key=lambda p: ("newer" not in p.message, "cannot migrate" not in p.message))
    return manifests


def migratable(version: Any) -> bool:
    """Whether ``news-etl migrate`` can bring files of schema ``version`` to this one."""
    return isinstance(version, int) and not isinstance(version, bool) and MIGRATES_FROM <= version < SCHEMA_VERSION


def unversioned(rel: str) -> str:
    """A published file's name without the version an object-store publish puts in it
    (``2016-12-07.v1a2b3c4d5e6f.part-00000.parquet`` -> ``2016-12-07.part-00000.parquet``)."""
    folder, name = rel.rsplit("/", 1)
    parts = name.split(".")
    if len(parts) >= 3 and re.fullmatch(r"v[0-9a-f]{12}", parts[1]):  # remote.StoreOutput.publish's
        del parts[1]
    return f"{folder}/{'.'.join(parts)}"


def version_problem(version: Any, keys: list[str], where: str) -> OutputError | None:
    """Why dates ``keys`` of schema ``version`` cannot be read or published over as they are, or
    None for this news-etl's version."""
    if version == SCHEMA_VERSION:
        return None
    span = ", ".join(keys) if len(keys) <= 3 else f"{keys[0]}..{keys[-1]}"
    dates = f"{len(keys)} published date{'s' if len(keys) != 1 else ''} ({span})"
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return OutputError(
            f"{dates} of schema version {version}, newer than this news-etl's ({SCHEMA_VERSION})",
            source=where,
            hint="use the news-etl that wrote them or a newer one; an output is never downgraded",
        )
    if migratable(version):
        return OutputError(
            f"{dates} of schema version {version}, this news-etl writes version {SCHEMA_VERSION}",
            source=where,
            hint=f"migrate them first with: news-etl migrate {where}",
        )
    return OutputError(
        f"{dates} of schema version {version}, which this news-etl cannot migrate (it writes version "
        f"{SCHEMA_VERSION}, migrates from {MIGRATES_FROM})",
        source=where,
        hint="publish to a new output folder, or rerun every date of this one with the news-etl version "
        "that wrote it; versions are never mixed in one output",
    )


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
    def date_locks(self, keys: Iterable[str], run_id: str) -> AbstractContextManager[None]: ...
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
