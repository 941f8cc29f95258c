"""Fetch: find the article files of a date under a source and read their bytes.

In:  a source (a local folder, ``file://`` URL or any fsspec URL such as ``s3://bucket/landing``),
     an optional landing date, a ``FetchConfig``.
Out: ``FetchItem``s (listed in the main process, cheap: paths and sizes) and ``Skipped`` entries,
     then, in a worker, ``read_item`` turns one item into a stream of ``RawDocument``s (bytes,
     decompressed; one per archive member), ``FetchFailure``s (with a reason, bound for
     quarantine) and ``Skipped`` entries, one archive member at a time.

The landing zone is a jail: only what lies below the source root is read.
- A symbolic link anywhere below the root (a file, a folder, a date folder) is never followed: it
  is listed as skipped, with the reason. The root itself may be given as a link; it is resolved
  once. FIFOs, sockets and devices are skipped without being opened (their type comes from the
  listing's ``lstat``), and a folder that cannot be listed is skipped with the reason.
- A local file is opened relative to its folder with ``O_NOFOLLOW | O_NONBLOCK`` and must be a
  regular file by ``fstat``; its folder is opened a part at a time from the root, each part with
  ``O_NOFOLLOW``: a file or folder swapped for a link between the listing and the read is
  refused, not read, and a FIFO swapped in does not block.
- On fsspec sources, a listed path must lie below the root (no ``..`` part), be of type ``file``
  and not a link.
- Archive members that would escape the archive (absolute, ``..``) and links inside archives are
  refused; an archive inside an archive is not expanded.
Nothing of a refused file is read, so nothing of it can be published.

Compressed files (.gz, .bz2, .xz, recognised by their magic bytes, whatever their name) are
decompressed; archives (.zip, .tar, .tar.gz/.tgz/.tar.bz2/.tar.xz) are expanded a member at a
time within ``FetchConfig`` bounds, so that memory is bounded by ``max_document_bytes``, not by the
archive (a zip inside a compressed stream is the exception: it needs random access, and is held in
memory up to ``max_archive_bytes``). A corrupt stream, archive or member is one ``FetchFailure``,
never an exception; ``FetchFailure.data`` keeps the bytes of small inputs only.

Names. Every ``source_path``, ``source_uri`` and ``Skipped.source_uri`` is printable UTF-8 whatever
the bytes of the name (``printable_name``): bytes that are not UTF-8, control characters (C0,
DEL, C1), line and paragraph separators and bidirectional controls are percent-escaped as the
``%XX`` of their bytes, and so are ``#`` (it separates a record's position from its file),
``!`` before ``/`` (it separates an archive from its member) and a ``%`` followed by two hex
digits (so that the form is reversible: ``urllib.parse.unquote_to_bytes`` gives back the name's
bytes). A name without any of these is kept as is. Local ``source_uri``s are ``file://`` URIs,
percent-encoded as URIs are. Two archive members of the same name get distinct paths (the second
``name;2``, the third ``name;3``).

The source is only ever read.

Not here: decoding bytes to text (``decode``), telling an article from an HTML page (``parse``).
"""

from __future__ import annotations

import bz2
import datetime as dt
import errno
import functools
import gzip
import hashlib
import io
import logging
import lzma
import os
import posixpath
import re
import stat
import struct
import tarfile
import threading
import weakref
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote_from_bytes, unquote_to_bytes

import pyarrow as pa
import pyarrow.compute as pc

from .config import FetchConfig
from .errors import SourceError
from .records import PLAN_SCHEMA

log = logging.getLogger("news_etl")


@dataclass(frozen=True, slots=True)
class FetchItem:
    uri: str  # full URI, shown to users and stored as source_uri
    path: str  # what the filesystem opens, in the printable form (``printable_name``)
    rel: str  # relative to the source root, '/'-separated, printable form; stored as source_path
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
    data: bytes | None  # the input's bytes when small (so that nothing is lost), else None
    raw_sha256: str | None = None  # digest of the bytes that were read, when they were


@dataclass(frozen=True, slots=True)
class Skipped:
    source_uri: str
    reason: str


Fetched = RawDocument | FetchFailure | Skipped


# ---------------------------------------------------------------------------------------------
# Names

# What a printable name escapes (see the module docstring). Surrogates are the bytes of a name
# that are not UTF-8, as Python's file system functions hand them over.
_ESCAPE = re.compile(
    "[\x00-\x1f\x7f-\x9f#\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
    r"|%(?=[0-9A-Fa-f]{2})|!(?=/)"
)


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    try:
        raw = ch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file system decoding produces
        raw = ch.encode("utf-8", "surrogatepass")
    return "".join(f"%{b:02X}" for b in raw)


def printable_name(name: str) -> str:
    """The printable, reversible form of a name (see the module docstring)."""
    if name.isprintable() and "%" not in name and "#" not in name and "!" not in name:
        return name  # the common case, without the regular expression
    return _ESCAPE.sub(_escape_char, name)


def name_bytes(printable: str) -> bytes:
    """The bytes of the name that ``printable_name`` turned into ``printable``."""
    return unquote_to_bytes(printable)


# ---------------------------------------------------------------------------------------------
# Sources


class Refused(Exception):
    """A path that must not be read (a link, a special file, outside the root): skipped."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


REASON_LINK = "symbolic link, not followed: only what lies below the source root is read"
REASON_OUTSIDE = "leaves the source root (a symbolic link in its path), not read"

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _special(mode: int) -> str:
    return f"{_kind(mode)}, not a regular file: skipped without being opened"


class Source:
    """A listable, readable root: a local folder (fast path) or an fsspec filesystem."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None):
        self.url = url
        self._root_uri: str | None = None
        self._root_shown: str | None = None
        self._watch_folders()
        if "://" not in url or url.startswith("file://"):
            path = url[len("file://") :] if url.startswith("file://") else url
            self.fs = None
            self.root = str(Path(path).expanduser().resolve())  # the root may be a link: resolved once
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

    # fsspec filesystems pickle as their constructor arguments, so a Source travels to workers;
    # open folders do not travel.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_folders"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._watch_folders()

    def _watch_folders(self) -> None:
        self._folders = _Folders()
        weakref.finalize(self, self._folders.close)

    @property
    def is_local(self) -> bool:
        return self.fs is None

    def uri_of(self, rel: str) -> str:
        """The URI of a path relative to the root (its real name: local names may hold any byte)."""
        if self.is_local:  # Path(root, rel).as_uri(), without a Path per file
            if self._root_uri is None:
                self._root_uri = Path(self.root).as_uri().rstrip("/")
            return f"{self._root_uri}/{quote_from_bytes(os.fsencode(rel))}" if rel else self._root_uri
        return f"{self.protocol}://{printable_name(f'{self.root}/{rel}')}"

    def exists_dir(self, rel: str) -> bool:
        if self.is_local:
            return os.path.isdir(os.path.join(self.root, rel))
        return self.fs.isdir(f"{self.root}/{rel}")

    def top_state(self, rel: str) -> tuple[bool, str | None, str | None]:
        """(is a folder to list, refused part, reason) for a folder below the root: every part of
        its path is checked with ``lstat``, so that a date folder given as a link is refused."""
        if not self.is_local:
            return self.fs.isdir(f"{self.root}/{rel}"), None, None
        parts = rel.split("/")
        path = self.root
        for i, part in enumerate(parts):
            path = os.path.join(path, part)
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return False, None, None
            except OSError as exc:
                return False, "/".join(parts[: i + 1]), f"cannot be looked at ({_why(exc)})"
            if stat.S_ISLNK(mode):
                return False, "/".join(parts[: i + 1]), REASON_LINK
            if not stat.S_ISDIR(mode):
                return False, None, None
        return True, None, None

    def walk(self, rel: str = "") -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
        """(files, refused) below ``rel``: files as (real name relative to the root, size),
        refused entries as (URI, reason). Nothing is opened and no link is followed."""
        if self.is_local:
            return self._walk_local(rel)
        base = f"{self.root}/{rel}".rstrip("/")
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return [], []
        files: list[tuple[str, int]] = []
        refused: list[tuple[str, str]] = []
        prefix = self.root + "/"
        for path in sorted(found):
            info = found[path]
            kind = info.get("type")
            if kind == "directory":
                continue
            sub = path[len(prefix) :] if path.startswith(prefix) else None
            if sub is None or ".." in sub.split("/"):
                refused.append((f"{self.protocol}://{printable_name(path)}", "path leaves the source root, not read"))
            elif info.get("islink"):
                refused.append((self.uri_of(sub), REASON_LINK))
            elif kind != "file":
                refused.append((self.uri_of(sub), f"{kind}, not a regular file: skipped without being opened"))
            else:
                files.append((sub, int(info.get("size") or 0)))
        return files, refused

    def _walk_local(self, rel: str) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
        # One scandir per folder and one lstat per file (DirEntry.stat without following), as
        # os.walk + os.stat did: the type of an entry comes from the directory itself, so a
        # FIFO, a device or a link is known without being opened.
        files: list[tuple[str, int]] = []
        refused: list[tuple[str, str]] = []
        stack = [rel]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(os.path.join(self.root, folder) if folder else self.root) as it:
                    entries = list(it)
            except OSError as exc:
                refused.append(
                    (self.uri_of(folder), f"folder cannot be listed ({_why(exc)}): the files in it were not read")
                )
                continue
            prefix = folder + "/" if folder else ""
            for entry in entries:
                sub = prefix + entry.name
                try:
                    if entry.is_symlink():
                        refused.append((self.uri_of(sub), REASON_LINK))
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append(sub)
                    else:
                        st = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode):
                            files.append((sub, st.st_size))
                        else:
                            refused.append((self.uri_of(sub), _special(st.st_mode)))
                except OSError as exc:  # gone or unreadable between the listing and the lstat
                    refused.append((self.uri_of(sub), f"cannot be looked at ({_why(exc)})"))
        return files, refused

    def full_path(self, shown: str) -> str:
        """What ``open`` takes for a path relative to the root given in its printable form."""
        if self._root_shown is None:  # no escape looks across a '/': the root's form is its own
            self._root_shown = printable_name(self.root.rstrip("/") + "/")
        return self._root_shown + shown

    def open(self, path: str) -> BinaryIO:
        """A listed file (``full_path``), opened for reading. Raises ``Refused`` for what must not
        be read (a link, a special file, a path that leaves the root), OSError else."""
        raw = name_bytes(path)
        if not self.is_local:
            return self.fs.open(raw.decode("utf-8", "surrogateescape"), "rb")
        root = os.fsencode(self.root).rstrip(b"/") + b"/"
        if not raw.startswith(root):
            raise Refused(REASON_OUTSIDE)
        folder, _, name = raw[len(root) :].rpartition(b"/")
        try:
            if _DIR_FD_OK:
                fd = os.open(name, _OPEN_FLAGS, dir_fd=self._folders.fd(root, folder))
            else:  # no openat: O_NOFOLLOW guards the last part, the listing's lstat the others
                fd = os.open(raw, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW: the file became a link after the listing
                raise Refused(REASON_LINK) from None
            raise
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise Refused(_special(mode))
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise


# Files are opened relative to their folder, and the folder is opened a part at a time from the
# root, each part with O_NOFOLLOW | O_DIRECTORY: a folder swapped for a link (or a file swapped for
# one) between the listing and the read is refused, not followed. Each Source keeps the last
# folder's descriptor per thread (a task's files come in path order: one openat per file) and
# closes it when the Source goes.
_DIR_FD_OK = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class _Folders:
    """The last folder opened, per thread, of one Source."""

    def __init__(self) -> None:
        self.fds: dict[int, tuple[tuple[int, bytes, bytes], int]] = {}

    def close(self) -> None:
        pid = os.getpid()
        for key, fd in list(self.fds.values()):
            if key[0] == pid:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fds.clear()

    def fd(self, root: bytes, folder: bytes) -> int:
        key = (os.getpid(), root, folder)
        tid = threading.get_ident()
        last = self.fds.get(tid)
        if last is not None and last[0] == key:
            return last[1]
        if last is not None:
            del self.fds[tid]
            if last[0][0] == key[0]:
                os.close(last[1])
        fd = os.open(root, _DIR_FLAGS)
        try:
            for part in folder.split(b"/") if folder else ():
                if part in (b"", b".", b".."):
                    raise Refused(REASON_OUTSIDE)
                try:
                    sub = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link where the listing saw a folder
                        raise Refused(REASON_OUTSIDE) from None
                    raise
                os.close(fd)
                fd = sub
        except BaseException:
            os.close(fd)
            raise
        self.fds[tid] = (key, fd)
        return fd


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
    return rel.startswith(".") or "/." in rel


def list_items(source: Source, date: dt.date | None, config: FetchConfig) -> tuple[list[FetchItem], list[Skipped]]:
    """Every file of ``date`` (or of the whole source), sorted by path, as ``FetchItem``s (an object
    per file: for tests and small sources; ``list_table`` is the columnar listing); and the
    skipped entries."""
    table, skipped = list_table(source, date, config)
    columns = [table.column(name).to_pylist() for name in ("uri", "path", "rel", "size", "landing_date")]
    return [FetchItem(*row) for row in zip(*columns)], skipped


_LIST_CHUNK = 10_000  # files turned into Arrow columns at a time


def list_table(source: Source, date: dt.date | None, config: FetchConfig) -> tuple[pa.Table, list[Skipped]]:
    """Every file of ``date`` (or of the whole source), sorted by path, as one Arrow table of
    ``records.PLAN_SCHEMA`` (uri, path, rel, size, landing_date: no Python object per file, so
    that a listing of millions of files stays a few hundred bytes a file); and the hidden files,
    links, special files and folders that cannot be listed as skipped, with the reason."""
    if not source.exists_dir(""):
        raise SourceError(
            "source folder does not exist or is not a folder",
            source=source.url,
            hint="pass --source with the landing zone's root (it holds YYYY-MM-DD/ folders)",
        )
    skipped: dict[str, Skipped] = {}
    tops: list[str] = []
    if date:
        for top in layout_dirs(date, config.layouts):
            ok, part, reason = source.top_state(top)
            if ok:
                tops.append(top)
            elif part is not None:
                uri = source.uri_of(part)
                skipped[uri] = Skipped(uri, reason)
    else:
        tops = [""]
    # Only layouts that overlap can list a file twice; one top lists each file once.
    seen: set[str] | None = set() if len(tops) > 1 else None
    chunks: list[pa.Table] = []
    for top in tops:
        files, refused = source.walk(top)
        for uri, reason in refused:
            skipped[uri] = Skipped(uri, reason)
        for start in range(0, len(files), _LIST_CHUNK):
            chunks.append(_listed(source, files[start : start + _LIST_CHUNK], date, config, seen, skipped))
        del files
    table = pa.concat_tables(chunks).combine_chunks() if chunks else PLAN_SCHEMA.empty_table()
    del chunks  # one copy of the listing at a time, then the sorted one
    # Arrow orders strings by their UTF-8 bytes, which is the order of their code points: the
    # order of Python's sort of the same names.
    table = table.take(pc.sort_indices(table, [("rel", "ascending")]))
    return table, sorted(skipped.values(), key=lambda s: s.source_uri)


def _listed(
    source: Source,
    files: list[tuple[str, int]],
    date: dt.date | None,
    config: FetchConfig,
    seen: set[str] | None,
    skipped: dict[str, Skipped],
) -> pa.Table:
    """One chunk of a walk's files as a table of ``PLAN_SCHEMA``; hidden files as skipped."""
    uris, paths, rels, sizes, days = [], [], [], [], []
    for real, size in files:
        if seen is not None:
            if real in seen:
                continue
            seen.add(real)
        rel = printable_name(real)
        if config.skip_hidden and _is_hidden(rel):
            uri = source.uri_of(real)
            skipped[uri] = Skipped(uri, "hidden file")
            continue
        uris.append(source.uri_of(real))
        paths.append(source.full_path(rel))
        rels.append(rel)
        sizes.append(size)
        days.append(date if date else landing_date_of(rel, config.layouts))
    return pa.table([uris, paths, rels, sizes, days], schema=PLAN_SCHEMA)


# ---------------------------------------------------------------------------------------------
# Reading one item

# Bytes of a failed input up to this size travel with its failure (and into quarantine), so that
# nothing is lost; larger ones by reference only. At most _KEEP_FAILED_TOTAL of them per listed
# file, so that an archive of many bad members cannot hold its whole size in failures.
_KEEP_FAILED_BYTES = 1024 * 1024
_KEEP_FAILED_TOTAL = 16 * 1024 * 1024
_HEAD = 512  # enough to tell a compressed stream, a zip or a tar from a document
_WHOLE_READ = 1024 * 1024  # files up to this size are read in one call

# What a corrupt stream or archive raises out of the standard library's readers.
_CORRUPT = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    struct.error,
    OverflowError,
    IndexError,
    KeyError,
)


def _why(exc: BaseException) -> str:
    """An error's message as one printable line of bounded length (it goes into a reason)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if not text.isprintable():  # a member name with a newline, bytes that are not UTF-8...
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 300 else text[:300] + "..."


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bounded(stream, limit: int, expected: int | None = None) -> bytes | None:
    """At most ``limit`` bytes of ``stream``, None if it holds more. ``expected`` is the size the
    listing or the archive declared: reading that much (plus one byte) spares a buffered reader
    from allocating ``limit`` bytes for every file; a stream longer than declared is still read
    only up to the limit."""
    if expected is not None and 0 <= expected < limit:
        data = stream.read(expected + 1)
        if len(data) > expected:  # longer than declared (a file that grew since the listing)
            data += stream.read(limit + 1 - len(data))
    else:
        data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _codec(head: bytes) -> str | None:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and len(head) > 10 and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return None


def _decompressor(codec: str, fileobj: BinaryIO) -> BinaryIO:
    if codec == "gzip":
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if codec == "bzip2":
        return bz2.BZ2File(fileobj)
    return lzma.LZMAFile(fileobj)


def _is_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def _safe_member_name(name: str) -> str | None:
    """The normalised member name, or None if it is empty, absolute or escapes the archive."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    norm = posixpath.normpath(name)
    if norm == "." or norm.startswith("../") or norm == ".." or "/../" in f"/{norm}/":
        return None
    return norm


def read_item(source: Source, item: FetchItem, config: FetchConfig) -> Iterator[Fetched]:
    """Read one listed file into documents, a member at a time. Never raises for a bad file: it
    yields failures (quarantine) and skips (refused files, which are never read)."""
    reader = _Reader(source, item, config)
    try:
        yield from reader.read()
    except Exception as exc:  # a reader bug must not end the run: the file becomes one failure
        log.exception("unexpected error while fetching %s", item.uri)
        yield reader.failure(
            f"unexpected error while reading ({type(exc).__name__}: {_why(exc)}); please report it", item.size
        )


class _Reader:
    """One listed file being read. ``failure`` builds failures with bounded bytes."""

    def __init__(self, source: Source, item: FetchItem, config: FetchConfig):
        self.source, self.item, self.config = source, item, config
        self.fh: BinaryIO | None = None
        self.kept = 0
        self.names: set[str] = set()

    def failure(self, reason: str, size: int, data: bytes | None = None, member: str | None = None) -> FetchFailure:
        item = self.item
        keep = digest = None
        if data is not None:
            digest = _sha(data)
            if len(data) <= _KEEP_FAILED_BYTES and self.kept + len(data) <= _KEEP_FAILED_TOTAL:
                keep = data
                self.kept += len(data)
        if member is None:
            return FetchFailure(item.uri, item.rel, item.landing_date, reason, size, keep, digest)
        return FetchFailure(
            f"{item.uri}!/{member}", f"{item.rel}!/{member}", item.landing_date, reason, size, keep, digest
        )

    def file_bytes(self) -> bytes | None:
        """The listed file's own bytes when small (kept with a failure of the whole file)."""
        if self.fh is None or self.item.size > _KEEP_FAILED_BYTES:
            return None
        try:
            self.fh.seek(0)
            return _bounded(self.fh, _KEEP_FAILED_BYTES, self.item.size)
        except Exception:
            return None

    def member_name(self, name: str) -> str:
        """A printable member name no other member of this archive has (``a;2`` for the second ``a``)."""
        shown = printable_name(name)
        if shown in self.names:
            k = 2
            while f"{shown};{k}" in self.names:
                k += 1
            shown = f"{shown};{k}"
        self.names.add(shown)
        return shown

    def read(self) -> Iterator[Fetched]:
        item, config = self.item, self.config
        limit = max(config.max_document_bytes, config.max_archive_bytes)
        if item.size > limit:
            yield self.failure(f"file too large ({item.size} bytes; limit {limit})", item.size)
            return
        try:
            self.fh = self.source.open(item.path)
        except Refused as exc:
            yield Skipped(item.uri, exc.reason)
            return
        except Exception as exc:
            yield self.failure(f"cannot read file: {_why(exc)}", item.size)
            return
        with self.fh as fh:
            # A small file (an article) is read in one call and looked at in memory; a larger one
            # is streamed, so that an archive is never whole in memory.
            whole = min(_WHOLE_READ, config.max_document_bytes)
            data: bytes | None = None
            try:
                if 0 <= item.size <= whole:
                    data = _bounded(fh, whole, item.size)
                    if data is None:  # grew since the listing: stream it
                        fh.seek(0)
                if data is not None:
                    head, stream = data[:_HEAD], io.BytesIO(data)
                else:
                    head, stream = fh.read(_HEAD), fh
                    fh.seek(0)
            except _CORRUPT as exc:
                yield self.failure(f"cannot read file: {_why(exc)}", item.size)
                return
            codec = _codec(head)
            if codec:
                yield from self._compressed(stream, codec)
            elif _is_zip(head):
                yield from self._zip(stream)
            elif _is_tar(head):
                yield from self._tar(stream)
            else:
                if data is None:
                    try:
                        data = _bounded(fh, config.max_document_bytes, item.size)
                    except _CORRUPT as exc:
                        yield self.failure(f"cannot read file: {_why(exc)}", item.size)
                        return
                if data is None:
                    yield self.failure(
                        f"document too large ({item.size} bytes; limit {config.max_document_bytes})", item.size
                    )
                else:
                    yield RawDocument(item.uri, item.rel, item.landing_date, data, _sha(data))

    def _compressed(self, fh: BinaryIO, codec: str) -> Iterator[Fetched]:
        item, config = self.item, self.config
        try:
            stream = _decompressor(codec, fh)
            head = stream.read(_HEAD)
            stream.seek(0)  # rewinds the decompressor: cheap, the head is 512 bytes
            if _is_tar(head):
                yield from self._tar(stream)
                return
            if _is_zip(head):  # a zip needs random access: held in memory, bounded
                payload = _bounded(stream, config.max_archive_bytes)
                if payload is None:
                    yield self.failure(f"{codec} stream expands beyond {config.max_archive_bytes} bytes", item.size)
                    return
                yield from self._zip(io.BytesIO(payload))
                return
            data = _bounded(stream, config.max_document_bytes)
        except _CORRUPT as exc:
            yield self.failure(f"corrupt compressed file: {_why(exc)}", item.size, self.file_bytes())
            return
        if data is None:
            yield self.failure(f"{codec} stream expands beyond {config.max_document_bytes} bytes", item.size)
            return
        yield RawDocument(item.uri, item.rel, item.landing_date, data, _sha(data))

    def _member(self, shown: str, data: bytes) -> Fetched:
        item, config = self.item, self.config
        codec = _codec(data[:_HEAD])
        payload: bytes | None = data
        if codec:
            try:
                payload = _bounded(_decompressor(codec, io.BytesIO(data)), config.max_document_bytes)
            except _CORRUPT as exc:
                return self.failure(f"corrupt compressed archive member: {_why(exc)}", len(data), data, shown)
            if payload is None:
                return self.failure(
                    f"archive member expands beyond {config.max_document_bytes} bytes", len(data), None, shown
                )
        if payload[:4] == b"PK\x03\x04" or _is_tar(payload):
            return self.failure(
                "nested archive inside an archive is not expanded; unpack it into the landing zone",
                len(payload),
                payload,
                shown,
            )
        return RawDocument(f"{item.uri}!/{shown}", f"{item.rel}!/{shown}", item.landing_date, payload, _sha(payload))

    def _zip(self, fileobj: BinaryIO) -> Iterator[Fetched]:
        item, config = self.item, self.config
        try:
            zf = zipfile.ZipFile(fileobj)
            infos = zf.infolist()
        except _CORRUPT as exc:
            yield self.failure(f"corrupt zip archive: {_why(exc)}", item.size, self.file_bytes())
            return
        if len(infos) > config.max_archive_members:
            yield self.failure(f"zip archive has {len(infos)} members (limit {config.max_archive_members})", item.size)
            return
        total = 0
        count = 0
        for info in infos:
            if info.filename.endswith("/"):  # a folder (ZipInfo.is_dir fails on an empty name)
                continue
            count += 1
            name = _safe_member_name(info.filename)
            if name is None:
                shown = self.member_name(info.filename)
                yield self.failure(f"unsafe member path refused: {shown!r}", info.file_size, None, shown)
                continue
            shown = self.member_name(name)
            if config.skip_hidden and (_is_hidden(name) or name.startswith("__MACOSX/")):
                yield Skipped(f"{item.uri}!/{shown}", "hidden file")
                continue
            total += info.file_size
            if info.file_size > config.max_document_bytes or total > config.max_archive_bytes:
                yield self.failure(f"archive member too large ({info.file_size} bytes)", info.file_size, None, shown)
                continue
            try:
                with zf.open(info) as member:
                    data = _bounded(member, config.max_document_bytes, info.file_size)
            except _CORRUPT as exc:
                yield self.failure(
                    f"cannot read zip member (corrupt or encrypted): {_why(exc)}", info.file_size, None, shown
                )
                continue
            if data is None:
                yield self.failure("archive member larger than declared", info.file_size, None, shown)
                continue
            yield self._member(shown, data)
            del data
        if count == 0:
            yield self.failure("archive holds no files", item.size, self.file_bytes())

    def _tar(self, fileobj: BinaryIO) -> Iterator[Fetched]:
        item, config = self.item, self.config
        total = 0
        count = 0
        try:
            # A stream ("r|"): members come one at a time and are not seeked back to.
            tf = tarfile.open(fileobj=fileobj, mode="r|", encoding="utf-8", errors="surrogateescape")
            while True:
                member = tf.next()
                if member is None:
                    break
                tf.members.clear()  # the stream reader keeps every header otherwise
                if member.isdir():
                    continue
                count += 1
                if count > config.max_archive_members:
                    yield self.failure(f"tar archive has more than {config.max_archive_members} members", item.size)
                    return
                name = _safe_member_name(member.name)
                if name is None:
                    shown = self.member_name(member.name)
                    yield self.failure(f"unsafe member path refused: {shown!r}", member.size, None, shown)
                    continue
                shown = self.member_name(name)
                if not member.isfile():
                    yield self.failure(
                        "archive member is not a regular file (link or device) and was not followed", 0, None, shown
                    )
                    continue
                if config.skip_hidden and _is_hidden(name):
                    yield Skipped(f"{item.uri}!/{shown}", "hidden file")
                    continue
                total += member.size
                if member.size > config.max_document_bytes or total > config.max_archive_bytes:
                    yield self.failure(f"archive member too large ({member.size} bytes)", member.size, None, shown)
                    continue
                fh = tf.extractfile(member)
                data = _bounded(fh, config.max_document_bytes, member.size) if fh is not None else b""
                if data is None:
                    yield self.failure("archive member larger than declared", member.size, None, shown)
                    continue
                yield self._member(shown, data)
                del data
        except _CORRUPT as exc:
            yield self.failure(
                f"corrupt tar archive (after {count} members): {_why(exc)}", item.size, self.file_bytes()
            )
            return
        if count == 0:
            yield self.failure("archive holds no files", item.size, self.file_bytes())
