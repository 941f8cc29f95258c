"""Snapshot: the ``Output`` of a local folder, published by an atomic snapshot swap.

In:  an output folder and a ``WriteConfig``; at publish, the staged files of each landing date and
     its manifest fields.
Out: the layout of ``pipeline.output``, where ``articles``, ``quarantine``, ``raw`` and
     ``_manifests`` are links into the current snapshot.

How publishing stays atomic on a local filesystem: every published state is an immutable
snapshot folder ``OUT/.snapshots/NNNNNNNN/``; ``OUT/current`` is a symbolic link to the live one
and ``OUT/articles``, ``OUT/quarantine`` and ``OUT/_manifests`` link through it. A publish builds
the next snapshot from hard links to the files of the live one (all keys but those being
replaced) plus the newly staged files, then swaps ``current`` with one ``rename`` (atomic on
POSIX). A reader sees the old snapshot or the new one, never a mix and never a partial file. A
publish killed half way leaves an orphan snapshot folder, which the next publish removes. A lock
file serialises publishers (parallel backfill runs). Rerunning a key replaces exactly that key's
files; other keys are carried over untouched. A missing or broken ``current`` while snapshots
exist stops every publish and read (``live_snapshot``): starting from nothing would drop every
other key.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq

from .config import WriteConfig
from .errors import OutputError, PublishError
from .faults import fault_point
from .locks import date_locks
from .output import (
    DATA_DATASETS,
    MANIFESTS,
    Files,
    file_key,
    listed_files,
    manifest_document,
    parse_manifests,
    sha256_file,
)

DATASETS = (*DATA_DATASETS, MANIFESTS)


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
    link = Path(output) / "current"
    if not link.is_symlink():
        return None
    target = Path(output) / os.readlink(link)
    return target if target.is_dir() else None


def live_snapshot(output: Path) -> Path | None:
    """The current snapshot; None for an output never published to. An ``OutputError`` when
    ``current`` is missing or broken while snapshots exist: publishing then would start from
    nothing and delete every other date, so nothing is done and the line says how to restore."""
    output = Path(output)
    link = output / "current"
    snapshots = output / ".snapshots"
    numbers = _snapshot_numbers(snapshots) if snapshots.is_dir() else []
    if link.is_symlink():
        target = output / os.readlink(link)
        if target.is_dir():
            return target
        problem = f"{link} points to {os.readlink(link)}, which does not exist"
    elif link.exists():
        problem = f"{link} is not news-etl's link to the current snapshot"
    elif not numbers:
        return None
    else:
        problem = f"{link} is missing"
    newest = f".snapshots/{numbers[-1]:08d}" if numbers else None
    raise OutputError(
        problem + (f" but {len(numbers)} snapshots exist" if numbers else ""),
        source=str(output),
        hint=(
            f"restore it with: ln -sfn {newest} {link} (the newest snapshot), check it with news-etl check, then rerun"
            if newest
            else "point --output at the right folder"
        )
        + "; nothing was published or deleted",
    )


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # a filesystem without hard links: copy
        shutil.copy2(src, dst)


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


def _snapshot_numbers(snapshots: Path) -> list[int]:
    return sorted(int(p.name) for p in snapshots.iterdir() if p.name.isdigit())


class LocalOutput:
    """A local output folder: its own work folder; publishes by snapshot swap."""

    def __init__(self, root: Path, config: WriteConfig | None = None):
        self.root = Path(root)
        self.work = self.root
        self.location = str(self.root)
        self.config = config or WriteConfig()

    # Staging: the output folder itself, nothing to share.
    def staging(self, run_id: str) -> Path:
        return self.work / ".staging" / run_id

    def share(self, run_id: str, paths: Iterable[Path]) -> None:
        pass

    def release(self, folder: Path) -> None:
        pass

    def fetch(self, run_id: str, rel: str) -> Path:
        return self.staging(run_id) / rel

    def fetch_all(self, run_id: str) -> None:
        pass

    def drop_staging(self, run_id: str) -> None:
        shutil.rmtree(self.staging(run_id), ignore_errors=True)

    def date_locks(self, keys: Iterable[str], run_id: str):
        """One run per landing date: an exclusive ``flock`` per date (``locks.date_locks``)."""
        return date_locks(self.work, keys, run_id, self.location)

    def publish(
        self, files: Files, manifests: dict[str, dict], run_id: str = "", *, _crash_after_links: bool = False
    ) -> str:
        """Publish the staged files of each key in ``files`` in one snapshot swap; returns the
        snapshot name. Staged files are hard-linked, not moved, so a publish that dies can be
        retried from staging. Each key gets its manifest (with every file's rows, size and sha256)
        and a ``.SUCCESS`` marker."""
        snapshots = self.root / ".snapshots"
        snapshots.mkdir(parents=True, exist_ok=True)
        with publish_lock(self.root):
            live = live_snapshot(self.root)
            live_no = int(live.name) if live else 0
            for n in _snapshot_numbers(snapshots):  # orphans of a publish killed before its swap
                if n > live_no:
                    shutil.rmtree(snapshots / f"{n:08d}", ignore_errors=True)
            new_no = live_no + 1
            new = snapshots / f"{new_no:08d}"
            try:
                self._build(new, live, files, manifests)
            except BaseException:  # disk full, interrupted: the live snapshot is untouched
                shutil.rmtree(new, ignore_errors=True)
                raise
            fault_point("publish:after_build")
            if _crash_after_links:  # tests: a publish killed before its swap
                raise KeyboardInterrupt("simulated crash before the snapshot swap")
            tmp = self.root / f".current.swap-{os.getpid()}"
            if tmp.is_symlink():
                tmp.unlink()
            os.symlink(os.path.relpath(new, self.root), tmp)
            os.replace(tmp, self.root / "current")  # the atomic step
            fault_point("publish:after_swap")
            _ensure_links(self.root)
            for n in sorted(_snapshot_numbers(snapshots), reverse=True)[self.config.keep_snapshots + 1 :]:
                if n < new_no:
                    shutil.rmtree(snapshots / f"{n:08d}", ignore_errors=True)
        fault_point("publish:after_prune")
        return new.name

    @staticmethod
    def _build(new: Path, live: Path | None, files: Files, manifests: dict[str, dict]) -> None:
        """The next snapshot: the live one's files of every other key, then each key's new files,
        manifest and marker."""
        for name in DATASETS:
            (new / name).mkdir(parents=True, exist_ok=True)
        if live:
            for dirpath, _dirs, names in os.walk(live):
                for fname in names:
                    src = Path(dirpath, fname)
                    rel = src.relative_to(live).as_posix()
                    if file_key(rel) not in files:
                        _link(src, new / rel)
        for key, entries in files.items():
            listing = {}
            for src, rel in entries:
                _link(src, new / rel)
                listing[rel] = {"sha256": sha256_file(new / rel), "bytes": (new / rel).stat().st_size}
            manifest = manifest_document(manifests.get(key, {}), listing)
            with open(new / MANIFESTS / f"{key}.json", "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=2, sort_keys=True, default=str)
            (new / MANIFESTS / f"{key}.SUCCESS").write_text(manifest.get("run_id", "") + "\n")

    def save(self, local: Path, rel: str) -> str:
        dst = self.root / rel
        if Path(local) != dst:
            os.replace(local, dst)
        return str(dst)

    def save_dir(self, folder: Path, rel: str) -> str:
        return str(self.root / rel)

    # Reading what is published: through the links into the current snapshot.
    def verify_layout(self) -> None:
        live_snapshot(self.root)

    def verify(self) -> None:
        self.read_manifests()

    def read_manifests(self) -> dict[str, dict]:
        live = live_snapshot(self.root)
        folder = live / MANIFESTS if live else None
        if folder is None or not folder.is_dir():
            return {}
        return parse_manifests(
            {
                f"{MANIFESTS}/{path.name}": path.read_text(encoding="utf-8", errors="replace")
                for path in sorted(folder.glob("*.json"))
            },
            self.location,
        )

    def published(self, dataset: str = "articles", keys: Iterable[str] | None = None) -> list[str]:
        return listed_files(self.read_manifests(), dataset, keys)

    def files(self) -> dict[str, int]:
        snapshot = current_snapshot(self.root)
        if snapshot is None:
            return {}
        return {
            Path(d, n).relative_to(snapshot).as_posix(): os.path.getsize(os.path.join(d, n))
            for d, _dirs, names in os.walk(snapshot)
            for n in names
        }

    def uri(self, rel: str) -> str:
        return str(self.root / rel)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def read_text(self, rel: str) -> str | None:
        path = self.root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def sha256(self, rel: str) -> str:
        return sha256_file(self.root / rel)

    def parquet(self, rel: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.root / rel)

    def write_atomic(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # Per process and thread: two writers of one file never share a temporary file.
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def add_record(self, folder: str, name: str, record: str) -> None:
        """One small file ``folder/name.json``, replaced atomically: a record written again under
        its name is one record (as on an object store)."""
        self.write_atomic(f"{folder}/{name}.json", record.encode())
