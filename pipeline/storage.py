"""Storage: where a run's output lives, a local folder or an object store (any fsspec URL).

In:  an output location (``/data/news`` or ``s3://bucket/news``) and fsspec storage options
     (credentials, endpoint) from ``RunConfig.storage_options``, an Airflow connection or the
     standard environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...).
Out: an ``ObjectStore`` for remote outputs (``None`` for local ones), a local work folder, and
     ``StoreOutput``: the ``output.Output`` of an object store, published by manifest commit.

A local output is its own work folder and publishes by snapshot swap (``snapshot.LocalOutput``).

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
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow.parquet as pq

from .errors import PublishError
from .output import DATA_DATASETS, MANIFESTS, STAGING, Files, file_key, listed_files, manifest_document, sha256_file

log = logging.getLogger("news_etl.storage")


def is_remote(url: str) -> bool:
    return "://" in str(url) and not str(url).startswith("file://")


def local_path(url: str) -> Path:
    url = str(url)
    return Path(url[len("file://"):] if url.startswith("file://") else url).expanduser().resolve()


@dataclass(frozen=True)
class ObjectStore:
    """An output on an fsspec filesystem: ``fs`` and the ``root`` path inside it (no protocol)."""

    url: str
    fs: Any
    root: str
    protocol: str

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def uri(self, rel: str) -> str:
        return f"{self.protocol}://{self.path(rel)}"

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

    def read_text(self, rel: str) -> str | None:
        try:
            with self.fs.open(self.path(rel), "rb") as fh:
                return fh.read().decode("utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, rel: str, text: str) -> None:
        """One PUT: on object storage a reader sees the old object or the new one, never a mix."""
        with self.fs.open(self.path(rel), "wb") as fh:
            fh.write(text.encode("utf-8"))

    def put_file(self, local: Path, rel: str) -> None:
        self.fs.put_file(str(local), self.path(rel))

    def get_file(self, rel: str, local: Path) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self.path(rel), str(local))

    def put_dir(self, local: Path, rel: str) -> None:
        for path in sorted(Path(local).rglob("*")):
            if path.is_file():
                self.put_file(path, f"{rel}/{path.relative_to(local).as_posix()}")

    def get_dir(self, rel: str, local: Path) -> int:
        n = 0
        prefix = self.path(rel).rstrip("/") + "/"
        for path in sorted(self.fs.find(self.path(rel))):
            dst = Path(local) / path[len(prefix):]
            dst.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(path, str(dst))
            n += 1
        return n

    def find(self, rel: str) -> list[str]:
        """Paths relative to the root of every object below ``rel``."""
        try:
            found = self.fs.find(self.path(rel))
        except FileNotFoundError:
            return []
        return sorted(p[len(self.root) + 1:] for p in found)

    def rm(self, rels: Iterable[str]) -> None:
        paths = [self.path(r) for r in rels]
        if paths:
            self.fs.rm(paths)

    def rm_prefix(self, rel: str) -> None:
        paths = self.fs.find(self.path(rel))
        if paths:
            self.fs.rm(paths)
        self.fs.invalidate_cache()


def open_store(url: str, storage_options: Mapping[str, Any] | None = None) -> ObjectStore | None:
    """``None`` for a local folder; an ``ObjectStore`` for an fsspec URL."""
    if not is_remote(url):
        return None
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except (ImportError, ValueError) as exc:
        raise PublishError(f"cannot open output: {exc}", source=url,
                           hint="install the fsspec backend for this protocol (s3fs for s3://: pip install 'news-etl[s3]')") from exc
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return ObjectStore(url=url.rstrip("/"), fs=fs, root=root.rstrip("/"), protocol=protocol)


def options_from_connection(conn) -> dict:
    """fsspec options from a connection-like object (Airflow's, duck-typed: ``login``,
    ``password``, ``extra_dejson``): login and password are the access key and secret; extra may
    hold ``endpoint_url``, ``region_name`` and ``storage_options`` (passed to fsspec as they are)."""
    extra = getattr(conn, "extra_dejson", None) or {}
    options: dict = {}
    if getattr(conn, "login", None):
        options["key"] = conn.login
    if getattr(conn, "password", None):
        options["secret"] = conn.password
    client = {k: extra[k] for k in ("endpoint_url", "region_name") if extra.get(k)}
    if client:
        options["client_kwargs"] = client
    options.update(extra.get("storage_options") or {})
    return options


# The Airflow connection that carries the credentials of s3:// (or other fsspec) sources and
# outputs. Optional: without it the backend's standard credentials apply.
STORAGE_CONN_ID = "news_etl_storage"


def connection_options(get_connection) -> dict:
    """fsspec options from the ``news_etl_storage`` connection ({} when it does not exist);
    ``get_connection``: Airflow's ``BaseHook.get_connection``."""
    try:
        conn = get_connection(STORAGE_CONN_ID)
    except Exception:  # not configured: the backend's standard credentials
        return {}
    return options_from_connection(conn)


def work_dir(output: str, base: str | None) -> Path:
    """The local folder a run works in: the output itself, or for an object store a folder named
    after it under ``base`` (RunConfig.work_dir; default: the system's temporary folder)."""
    if not is_remote(output):
        return local_path(output)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", output)[-60:] + "-" + hashlib.sha256(output.encode()).hexdigest()[:8]
    return Path(base or tempfile.gettempdir()).expanduser().resolve() / "news-etl-work" / name


def _versioned(rel: str, version: str) -> str:
    folder, name = rel.rsplit("/", 1)
    key, rest = name.split(".", 1)
    return f"{folder}/{key}.{version}.{rest}"


def _unversioned(rel: str) -> str:
    folder, name = rel.rsplit("/", 1)
    parts = name.split(".")
    if len(parts) >= 4 and parts[1].startswith("v"):
        del parts[1]
    return f"{folder}/{'.'.join(parts)}"


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

    def publish(self, files: Files, manifests: dict[str, dict], run_id: str, *,
                _crash_after_upload: bool = False) -> str:
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
            manifest = manifest_document(manifests.get(key, {}), listing, _unversioned)
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
        out: dict[str, dict] = {}
        for rel in self.store.find(MANIFESTS):
            if rel.endswith(".json"):
                text = self.store.read_text(rel)
                if text:
                    out[rel.rsplit("/", 1)[-1][:-5]] = json.loads(text)
        return out

    def published(self, dataset: str = "articles", keys: Iterable[str] | None = None) -> list[str]:
        return listed_files(self.read_manifests(), dataset, keys)

    def files(self) -> dict[str, int]:
        self.store.fs.invalidate_cache()
        found: dict[str, int] = {}
        for prefix in (*DATA_DATASETS, MANIFESTS):
            for path, info in self.store.fs.find(self.store.path(prefix), detail=True).items():
                found[path[len(self.store.root) + 1:]] = int(info.get("size") or 0)
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


def read_manifests(output: str, storage_options: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """Every published key's manifest, local output or object store."""
    from .output import open_output

    return open_output(output, storage_options).read_manifests()


def published_files(output: str, dataset: str = "articles", storage_options: Mapping[str, Any] | None = None,
                    keys: Iterable[str] | None = None) -> list[str]:
    """The files of ``dataset`` that the manifests list (one whole version of every date): the
    reading that is atomic on object storage. Full URLs for object stores, paths for folders."""
    from .output import open_output

    out = open_output(output, storage_options)
    return [out.uri(rel) for rel in out.published(dataset, keys)]


def duckdb_s3_secret(storage_options: Mapping[str, Any] | None = None) -> str:
    """A ``CREATE SECRET`` statement that gives DuckDB's httpfs the same S3 settings as s3fs
    (explicit options first, then the standard AWS environment variables)."""
    opts = dict(storage_options or {})
    client = dict(opts.get("client_kwargs") or {})
    key = opts.get("key") or os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = opts.get("secret") or os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    endpoint = client.get("endpoint_url") or opts.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") \
        or os.environ.get("AWS_ENDPOINT_URL") or ""
    region = client.get("region_name") or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    parts = ["TYPE s3", f"KEY_ID '{key}'", f"SECRET '{secret}'", f"REGION '{region}'"]
    if endpoint:
        use_ssl = not endpoint.startswith("http://")
        host = re.sub(r"^https?://", "", endpoint).rstrip("/")
        parts += [f"ENDPOINT '{host}'", "URL_STYLE 'path'", f"USE_SSL {'true' if use_ssl else 'false'}"]
    return f"CREATE OR REPLACE SECRET news_etl_s3 ({', '.join(parts)})"
