"""Storage: where a run's output lives, a local folder or an object store (any fsspec URL).

In:  an output location (``/data/news`` or ``s3://bucket/news``) and fsspec storage options
     (credentials, endpoint) from ``RunConfig.storage_options``, an Airflow connection or the
     standard environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...).
Out: an ``ObjectStore`` for remote outputs (``None`` for local ones), a local work folder, and
     the manifest-based publish of object storage (``publish_remote``).

A local output is its own work folder and publishes by snapshot swap (``write.publish``).

An object store has no atomic rename, so publishing is manifest-based. Shards stage their files in
a local work folder and upload them to ``OUT/_staging/<run_id>/`` (a prefix readers never glob);
the publish step fetches the staged shards and, for each landing date:

1. uploads the date's files under names no earlier publish used
   (``<date>.<version>.part-NNNNN.parquet``);
2. replaces ``OUT/_manifests/<date>.json``, one object PUT, atomic on S3, GCS and Azure: this is
   the commit. The manifest lists every file of the date with its rows, bytes and sha256;
3. deletes the date's files that the new manifest does not list (the previous version, and
   files of any publish that died between 1 and 2).

A reader that goes through the manifests (``published_files``; ``news-etl files``) always sees
one whole version of each date. A reader that globs ``OUT/articles/**/*.parquet`` sees the same
once a publish has finished; during the seconds between steps 1 and 3 it may see a date twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import PublishError
from .write import _file_key as file_key, _sha256_file, manifest_document

log = logging.getLogger("news_etl.storage")

MANIFESTS = "_manifests"
STAGING = "_staging"
DATA_DATASETS = ("articles", "quarantine", "raw")


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


def publish_remote(
    store: ObjectStore,
    files: dict[str, list[tuple[Path, str]]],
    manifests: dict[str, dict],
    version: str,
    *,
    _crash_after_upload: bool = False,
) -> str:
    """Publish each key's staged files ({key: [(local path, relative destination)]}) to the
    object store; the manifest PUT is each key's commit. Returns the version string."""
    version = re.sub(r"[^A-Za-z0-9-]+", "-", version)
    for key, entries in files.items():
        listing = {}
        for src, rel in entries:
            dst = _versioned(rel, version)
            store.put_file(src, dst)
            listing[dst] = {"sha256": _sha256_file(src), "bytes": Path(src).stat().st_size}
        if _crash_after_upload:  # tests: a publish that dies before its commit
            raise KeyboardInterrupt("simulated crash before the manifest is written")
        manifest = manifest_document(manifests.get(key, {}), listing, _unversioned)
        manifest["version"] = version
        store.write_text(f"{MANIFESTS}/{key}.json", json.dumps(manifest, indent=2, sort_keys=True, default=str))
        store.write_text(f"{MANIFESTS}/{key}.SUCCESS", manifest.get("run_id", "") + "\n")
        # The commit is done; what the manifest does not list is garbage now.
        stale = [rel for rel in _files_of_key(store, key) if rel not in listing]
        if stale:
            store.rm(stale)
            log.info("publish %s: replaced %d files of the previous version", key, len(stale))
    store.fs.invalidate_cache()
    return version


def _unversioned(rel: str) -> str:
    folder, name = rel.rsplit("/", 1)
    parts = name.split(".")
    if len(parts) >= 4 and parts[1].startswith("v"):
        del parts[1]
    return f"{folder}/{'.'.join(parts)}"


def _files_of_key(store: ObjectStore, key: str) -> list[str]:
    store.fs.invalidate_cache()
    out = []
    for dataset in DATA_DATASETS:
        out.extend(rel for rel in store.find(dataset) if file_key(rel) == key)
    return out


def read_manifests(output: str, storage_options: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """Every published key's manifest, local output or object store."""
    store = open_store(output, storage_options)
    out: dict[str, dict] = {}
    if store is None:
        folder = local_path(output) / MANIFESTS
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        return out
    store.fs.invalidate_cache()
    for rel in store.find(MANIFESTS):
        if rel.endswith(".json"):
            text = store.read_text(rel)
            if text:
                out[rel.rsplit("/", 1)[-1][:-5]] = json.loads(text)
    return out


def published_files(output: str, dataset: str = "articles", storage_options: Mapping[str, Any] | None = None,
                    keys: Iterable[str] | None = None) -> list[str]:
    """The files of ``dataset`` that the manifests list (one whole version of every date): the
    reading that is atomic on object storage. Full URLs for object stores, paths for folders."""
    wanted = set(keys) if keys is not None else None
    store = open_store(output, storage_options)
    out = []
    for key, manifest in sorted(read_manifests(output, storage_options).items()):
        if wanted is not None and key not in wanted:
            continue
        for rel in sorted(manifest.get("files", {})):
            if rel.startswith(dataset + "/"):
                out.append(store.uri(rel) if store else str(local_path(output) / rel))
    return out


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
