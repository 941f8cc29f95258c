"""Storage: where a run's output lives, a local folder or an object store (any fsspec URL).

In:  an output location (``/data/news`` or ``s3://bucket/news``) and fsspec storage options
     (credentials, endpoint) from ``RunConfig.storage_options``, an Airflow connection or the
     standard environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...).
Out: an ``ObjectStore`` for remote outputs (``None`` for local ones), a local work folder, and
     the helpers the DAGs and the CLI need (credentials from a connection, DuckDB's S3 secret).

A local output is its own work folder and publishes by snapshot swap (``snapshot.LocalOutput``).

An object store publishes by manifest commit (``remote.StoreOutput``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PublishError

log = logging.getLogger("news_etl.storage")


def is_remote(url: str) -> bool:
    return "://" in str(url) and not str(url).startswith("file://")


def local_path(url: str) -> Path:
    url = str(url)
    return Path(url[len("file://") :] if url.startswith("file://") else url).expanduser().resolve()


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
            dst = Path(local) / path[len(prefix) :]
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
        return sorted(p[len(self.root) + 1 :] for p in found)

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
        raise PublishError(
            f"cannot open output: {exc}",
            source=url,
            hint="install the fsspec backend for this protocol (s3fs for s3://: pip install 'news-etl[s3]')",
        ) from exc
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


def read_manifests(output: str, storage_options: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """Every published key's manifest, local output or object store."""
    from .output import open_output

    return open_output(output, storage_options).read_manifests()


def published_files(
    output: str,
    dataset: str = "articles",
    storage_options: Mapping[str, Any] | None = None,
    keys: Iterable[str] | None = None,
) -> list[str]:
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
    endpoint = (
        client.get("endpoint_url")
        or opts.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or ""
    )
    region = (
        client.get("region_name") or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    )
    parts = ["TYPE s3", f"KEY_ID '{key}'", f"SECRET '{secret}'", f"REGION '{region}'"]
    if endpoint:
        use_ssl = not endpoint.startswith("http://")
        host = re.sub(r"^https?://", "", endpoint).rstrip("/")
        parts += [f"ENDPOINT '{host}'", "URL_STYLE 'path'", f"USE_SSL {'true' if use_ssl else 'false'}"]
    return f"CREATE OR REPLACE SECRET news_etl_s3 ({', '.join(parts)})"
