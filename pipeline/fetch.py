"""Fetch: find the article files of a date under a source and read their bytes.

In:  a source (a local folder, ``file://`` URL or any fsspec URL such as ``s3://bucket/landing``),
     an optional landing date, a ``FetchConfig``.
Out: ``FetchItem``s (listed in the main process, cheap: paths and sizes), then, in a worker,
     ``read_item`` turns one item into ``RawDocument``s (bytes, decompressed; one per archive
     member), ``FetchFailure``s (with a reason, bound for quarantine) and ``Skipped`` entries.

Compressed files (.gz, .bz2, .xz, recognised by their magic bytes, whatever their name) are
decompressed; archives (.zip, .tar, .tar.gz/.tgz/.tar.bz2/.tar.xz) are expanded in memory within
``FetchConfig`` bounds, and a member whose name would escape the archive (absolute, ``..``) is
refused. The source is only ever read.

Not here: decoding bytes to text (``decode``), telling an article from an HTML page (``parse``).
"""

from __future__ import annotations

import bz2
import datetime as dt
import functools
import gzip
import hashlib
import io
import lzma
import os
import posixpath
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Union
from urllib.parse import quote_from_bytes

from .config import FetchConfig
from .errors import SourceError


@dataclass(frozen=True, slots=True)
class FetchItem:
    uri: str  # full URI, shown to users and stored as source_uri
    path: str  # what the filesystem opens
    rel: str  # relative to the source root, '/'-separated
    size: int
    landing_date: dt.date | None


@dataclass(frozen=True, slots=True)
class RawDocument:
    source_uri: str
    source_path: str
    landing_date: dt.date | None
    data: bytes
    raw_sha256: str


@dataclass(frozen=True, slots=True)
class FetchFailure:
    source_uri: str
    source_path: str
    landing_date: dt.date | None
    reason: str
    size_bytes: int
    data: bytes | None  # kept when small, so that nothing is lost


@dataclass(frozen=True, slots=True)
class Skipped:
    source_uri: str
    reason: str


Fetched = Union[RawDocument, FetchFailure, Skipped]


class Source:
    """A listable, readable root: a local folder (fast path) or an fsspec filesystem."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None):
        self.url = url
        self._root_uri: str | None = None
        if "://" not in url or url.startswith("file://"):
            path = url[len("file://"):] if url.startswith("file://") else url
            self.fs = None
            self.root = str(Path(path).expanduser().resolve())
            self.protocol = "file"
        else:
            import fsspec  # only remote sources pay for it

            try:
                self.fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
            except (ImportError, ValueError) as exc:
                raise SourceError(
                    f"cannot open source: {exc}",
                    source=url,
                    hint="install the fsspec backend for this protocol (e.g. s3fs for s3://)",
                ) from exc
            self.root = root.rstrip("/")
            protocol = self.fs.protocol
            self.protocol = protocol[0] if isinstance(protocol, (tuple, list)) else protocol

    @property
    def is_local(self) -> bool:
        return self.fs is None

    def uri_of(self, rel: str) -> str:
        if self.is_local:  # Path(root, rel).as_uri(), without a Path per file
            if self._root_uri is None:
                self._root_uri = Path(self.root).as_uri().rstrip("/")
            return f"{self._root_uri}/{quote_from_bytes(os.fsencode(rel))}" if rel else self._root_uri
        return f"{self.protocol}://{self.root}/{rel}"

    def exists_dir(self, rel: str) -> bool:
        if self.is_local:
            return os.path.isdir(os.path.join(self.root, rel))
        return self.fs.isdir(f"{self.root}/{rel}")

    def walk(self, rel: str = "") -> Iterator[tuple[str, int]]:
        """Yield (path relative to root, size) of every file below ``rel``, sorted."""
        if self.is_local:
            yield from self._walk_local(rel)
            return
        base = f"{self.root}/{rel}".rstrip("/")
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        for path in sorted(found):
            info = found[path]
            if info.get("type") == "directory":
                continue
            yield path[len(self.root) + 1:], int(info.get("size") or 0)

    def _walk_local(self, rel: str) -> Iterator[tuple[str, int]]:
        top = os.path.join(self.root, rel) if rel else self.root
        seen: set[str] = set()
        out: list[tuple[str, int]] = []
        for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:  # a symlink loop: stop descending
                dirnames[:] = []
                continue
            seen.add(real)
            prefix = os.path.relpath(dirpath, self.root).replace(os.sep, "/")  # once a folder, not a file
            prefix = "" if prefix == "." else prefix + "/"
            for name in filenames:
                try:
                    size = os.stat(os.path.join(dirpath, name)).st_size
                except OSError:
                    size = -1  # broken link: read_item reports it
                out.append((prefix + name, size))
        out.sort()
        yield from out

    def read(self, path: str) -> bytes:
        if self.is_local:
            with open(path, "rb") as fh:
                return fh.read()
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    def full_path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if self.is_local else f"{self.root}/{rel}"

    # fsspec filesystems pickle as their constructor arguments, so a Source travels to workers.


# ---------------------------------------------------------------------------------------------
# Landing layouts


@functools.lru_cache(maxsize=64)
def _layout_regex(layout: str) -> re.Pattern[str]:
    pattern = re.escape(layout)
    pattern = pattern.replace(re.escape("{date}"), r"(?P<date>\d{4}-\d{2}-\d{2})")
    pattern = pattern.replace(re.escape("{yyyy}"), r"(?P<yyyy>\d{4})")
    pattern = pattern.replace(re.escape("{mm}"), r"(?P<mm>\d{2})")
    pattern = pattern.replace(re.escape("{dd}"), r"(?P<dd>\d{2})")
    return re.compile(pattern + "/")


def landing_date_of(rel: str, layouts: tuple[str, ...]) -> dt.date | None:
    """The landing date that a path's leading folders give under one of the layouts, or None."""
    for layout in layouts:
        m = _layout_regex(layout).match(rel)
        if not m:
            continue
        g = m.groupdict()
        try:
            if g.get("date"):
                return dt.date.fromisoformat(g["date"])
            return dt.date(int(g["yyyy"]), int(g["mm"]), int(g["dd"]))
        except ValueError:
            continue
    return None


def layout_dirs(date: dt.date, layouts: tuple[str, ...]) -> list[str]:
    return [
        layout.format(date=date.isoformat(), yyyy=f"{date.year:04d}", mm=f"{date.month:02d}", dd=f"{date.day:02d}")
        for layout in layouts
    ]


def _is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def list_items(
    source: Source, date: dt.date | None, config: FetchConfig
) -> tuple[list[FetchItem], list[Skipped]]:
    """Every file of ``date`` (or of the whole source), sorted by path; hidden files as skipped."""
    if not source.exists_dir(""):
        raise SourceError(
            "source folder does not exist or is not a folder",
            source=source.url,
            hint="pass --source with the landing zone's root (it holds YYYY-MM-DD/ folders)",
        )
    items: list[FetchItem] = []
    skipped: list[Skipped] = []
    tops = [d for d in layout_dirs(date, config.layouts) if source.exists_dir(d)] if date else [""]
    seen: set[str] = set()
    for top in tops:
        for rel, size in source.walk(top):
            if rel in seen:
                continue
            seen.add(rel)
            if config.skip_hidden and _is_hidden(rel):
                skipped.append(Skipped(source.uri_of(rel), "hidden file"))
                continue
            landing = date if date else landing_date_of(rel, config.layouts)
            items.append(FetchItem(source.uri_of(rel), source.full_path(rel), rel, size, landing))
    items.sort(key=lambda it: it.rel)
    return items, skipped


# ---------------------------------------------------------------------------------------------
# Reading one item


_KEEP_FAILED_BYTES = 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bounded(stream, limit: int) -> bytes | None:
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _decompress(data: bytes, limit: int) -> tuple[bytes | None, str | None]:
    """(bytes, codec) for a compressed stream, (data, None) when not compressed; None bytes when
    the stream expands beyond ``limit``. Raises on a corrupt stream."""
    if data[:2] == b"\x1f\x8b":
        return _bounded(gzip.GzipFile(fileobj=io.BytesIO(data)), limit), "gzip"
    if data[:3] == b"BZh" and len(data) > 10 and data[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return _bounded(bz2.BZ2File(io.BytesIO(data)), limit), "bzip2"
    if data[:6] == b"\xfd7zXZ\x00":
        return _bounded(lzma.LZMAFile(io.BytesIO(data)), limit), "xz"
    return data, None


def _is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def _safe_member_name(name: str) -> str | None:
    """The normalised member name, or None if it is absolute or escapes the archive."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    norm = posixpath.normpath(name)
    if norm.startswith("../") or norm == ".." or "/../" in f"/{norm}/":
        return None
    return norm


def read_item(source: Source, item: FetchItem, config: FetchConfig) -> list[Fetched]:
    """Read one listed file into documents. Never raises for a bad file: it returns failures."""

    def failure(reason: str, size: int, data: bytes | None = None, uri: str = item.uri, rel: str = item.rel):
        keep = data if data is not None and len(data) <= _KEEP_FAILED_BYTES else None
        return FetchFailure(uri, rel, item.landing_date, reason, size, keep)

    if item.size > max(config.max_document_bytes, config.max_archive_bytes):
        return [failure(f"file too large ({item.size} bytes; limit {config.max_archive_bytes})", item.size)]
    try:
        data = source.read(item.path)
    except OSError as exc:
        return [failure(f"cannot read file: {exc.strerror or exc}", item.size)]
    try:
        payload, codec = _decompress(data, config.max_archive_bytes)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        return [failure(f"corrupt compressed file: {exc}", len(data), data)]
    if payload is None:
        return [failure(f"{codec} stream expands beyond {config.max_archive_bytes} bytes", len(data))]

    if payload[:4] == b"PK\x03\x04" or (payload[:4] == b"PK\x05\x06"):
        return _read_zip(item, payload, config, failure)
    if _is_tar(payload):
        return _read_tar(item, payload, config, failure)
    if len(payload) > config.max_document_bytes:
        return [failure(f"document too large ({len(payload)} bytes; limit {config.max_document_bytes})", len(payload))]
    return [RawDocument(item.uri, item.rel, item.landing_date, payload, _sha(payload))]


def _member(item: FetchItem, name: str, data: bytes, config: FetchConfig, failure) -> Fetched:
    uri, rel = f"{item.uri}!/{name}", f"{item.rel}!/{name}"
    try:
        payload, codec = _decompress(data, config.max_document_bytes)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        return failure(f"corrupt compressed archive member: {exc}", len(data), data, uri, rel)
    if payload is None:
        return failure(f"archive member expands beyond {config.max_document_bytes} bytes", len(data), None, uri, rel)
    if payload[:4] == b"PK\x03\x04" or _is_tar(payload):
        return failure("nested archive inside an archive is not expanded; unpack it into the landing zone", len(payload), payload, uri, rel)
    return RawDocument(uri, rel, item.landing_date, payload, _sha(payload))


def _read_zip(item: FetchItem, payload: bytes, config: FetchConfig, failure) -> list[Fetched]:
    out: list[Fetched] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [failure(f"corrupt zip archive: {exc}", len(payload), payload)]
    if len(infos) > config.max_archive_members:
        return [failure(f"zip archive has {len(infos)} members (limit {config.max_archive_members})", len(payload))]
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        name = _safe_member_name(info.filename)
        if name is None:
            out.append(failure(f"unsafe member path refused: {info.filename!r}", info.file_size, None,
                               f"{item.uri}!/{info.filename}", f"{item.rel}!/{info.filename}"))
            continue
        if config.skip_hidden and (_is_hidden(name) or name.startswith("__MACOSX/")):
            out.append(Skipped(f"{item.uri}!/{name}", "hidden file"))
            continue
        total += info.file_size
        if info.file_size > config.max_document_bytes or total > config.max_archive_bytes:
            out.append(failure(f"archive member too large ({info.file_size} bytes)", info.file_size, None,
                               f"{item.uri}!/{name}", f"{item.rel}!/{name}"))
            continue
        try:
            with zf.open(info) as fh:
                data = _bounded(fh, config.max_document_bytes)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            out.append(failure(f"cannot read zip member: {exc}", info.file_size, None,
                               f"{item.uri}!/{name}", f"{item.rel}!/{name}"))
            continue
        if data is None:
            out.append(failure("archive member larger than declared", info.file_size, None,
                               f"{item.uri}!/{name}", f"{item.rel}!/{name}"))
            continue
        out.append(_member(item, name, data, config, failure))
    if not out:
        out.append(failure("archive holds no files", len(payload), payload))
    return out


def _read_tar(item: FetchItem, payload: bytes, config: FetchConfig, failure) -> list[Fetched]:
    out: list[Fetched] = []
    total = 0
    count = 0
    try:
        tf = tarfile.open(fileobj=io.BytesIO(payload), mode="r:")
        for member in tf:
            count += 1
            if count > config.max_archive_members:
                out.append(failure(f"tar archive has more than {config.max_archive_members} members", len(payload)))
                break
            if member.isdir():
                continue
            name = _safe_member_name(member.name)
            uri, rel = f"{item.uri}!/{member.name}", f"{item.rel}!/{member.name}"
            if name is None:
                out.append(failure(f"unsafe member path refused: {member.name!r}", member.size, None, uri, rel))
                continue
            if not member.isfile():
                out.append(failure("archive member is not a regular file (link or device) and was not followed",
                                   0, None, uri, rel))
                continue
            if config.skip_hidden and _is_hidden(name):
                out.append(Skipped(f"{item.uri}!/{name}", "hidden file"))
                continue
            total += member.size
            if member.size > config.max_document_bytes or total > config.max_archive_bytes:
                out.append(failure(f"archive member too large ({member.size} bytes)", member.size, None, uri, rel))
                continue
            fh = tf.extractfile(member)
            data = fh.read() if fh is not None else b""
            out.append(_member(item, name, data, config, failure))
    except (tarfile.TarError, OSError, EOFError) as exc:
        out.append(failure(f"corrupt tar archive (after {len(out)} members): {exc}", len(payload), payload))
    if not out:
        out.append(failure("archive holds no files", len(payload), payload))
    return out
