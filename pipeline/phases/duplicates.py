"""Duplicates: de-duplicate a run across its shards, then filter the staged files.

In:  the shards' index files (``records.INDEX_SCHEMA``, in input order: shards are contiguous and
     path-ordered), their summaries, and the output's published articles (other landing dates).
Out: the ids of the duplicates dropped, one ledger row per staged article (written or
     duplicate, with what it repeats), and ``Staged``: the final files of each landing date (shard
     files as they are, or rewritten without their duplicates) with their rows.

Columnar, a batch at a time, never an object per article (``pipeline.dedup``).
"""

from __future__ import annotations

import collections
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import RunConfig
from ..dedup import Duplicate, find_duplicates, published_batches
from ..output import Output
from ..records import ARTICLE_SCHEMA, LEDGER_SCHEMA
from .memory import release_memory
from .report import Ledger, RunReport
from .shard import ShardSummary


@dataclass
class Staged:
    files: dict[str, list[tuple[Path, str]]]  # landing key -> [(staged file, published path)]
    rows_by_file: dict[str, dict[str, int]]  # landing key -> {published path: rows}
    keys: list[str]
    shard_files: dict[str, list[Path]]  # landing key -> the shards' article files, duplicates included


def index_batches(
    paths: list[Path], columns: list[str], exclude_keys: frozenset[str] = frozenset()
) -> Iterator[pa.RecordBatch]:
    """The index's rows in input order; without those of ``exclude_keys`` (dates that failed)."""
    excluded = pa.array(sorted(exclude_keys), pa.string())
    for path in paths:
        read = columns if not exclude_keys or "landing_key" in columns else [*columns, "landing_key"]
        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=read):
            if exclude_keys:
                batch = batch.filter(pc.invert(pc.is_in(batch.column("landing_key"), excluded))).select(columns)
            yield batch


def drop_duplicates(
    config: RunConfig,
    out: Output,
    keys: list[str],
    index_paths: list[Path],
    report: RunReport,
    exclude_keys: frozenset[str] = frozenset(),
) -> dict[int, Duplicate]:
    """Find the duplicates (input order; the first wins) among the articles of every date but
    ``exclude_keys`` (dates that failed: never published, so nothing is a duplicate of them) and
    the published articles of other dates; count them. Returns {position among the rows not
    excluded: Duplicate}."""
    published = published_batches(out, set(keys)) if config.dedup_against_published else None
    report.published_indexed, found = find_duplicates(
        lambda: index_batches(index_paths, ["article_id", "content_sha256", "minhash"], exclude_keys),
        config.near_duplicate_jaccard,
        published,
    )
    report.duplicates = len(found)
    report.duplicate_kinds = dict(collections.Counter(d.kind for d in found.values()))
    release_memory()
    return found


def dropped_ids(index_paths: list[Path], found: dict[int, Duplicate], exclude_keys: frozenset[str]) -> set[str]:
    dropped: set[str] = set()
    position = 0
    for part in index_batches(index_paths, ["article_id"], exclude_keys):
        aids = part.column("article_id").to_pylist()
        dropped.update(aids[k] for k in range(len(aids)) if position + k in found)
        position += len(aids)
    return dropped


def write_ledger(index_paths: list[Path], found: dict[int, Duplicate], failed: frozenset[str], ledger: Ledger) -> None:
    """One ledger row per staged article: written, duplicate (of what), or quarantined when its
    date failed its batch expectations (nothing of that date was published)."""
    position = 0
    for part in index_batches(index_paths, ["source_uri", "article_id", "landing_key"]):
        uris, aids = part.column("source_uri").to_pylist(), part.column("article_id").to_pylist()
        keys = part.column("landing_key").to_pylist()
        outcome, of, reason = ["written"] * len(aids), [None] * len(aids), [None] * len(aids)
        for k in range(len(aids)):
            if keys[k] in failed:
                outcome[k], reason[k] = "quarantined", f"batch {keys[k]} failed its expectations: not published"
                continue
            dup = found.get(position)
            position += 1
            if dup is None:
                continue
            what = "same text as" if dup.kind == "exact" else f"near duplicate (Jaccard ~{dup.similarity:.2f}) of"
            outcome[k], of[k], reason[k] = "duplicate", dup.of, f"{what} article {dup.of}"
        ledger.write(pa.record_batch([uris, outcome, aids, of, reason], schema=LEDGER_SCHEMA))


def final_files(config: RunConfig, staging: Path, summaries: list[ShardSummary], dropped: set[str]) -> Staged:
    """The final files of each key: shard files as they are, or filtered where duplicates were dropped."""
    final = staging / "final"
    if final.exists():
        shutil.rmtree(final)
    files: dict[str, list[tuple[Path, str]]] = collections.defaultdict(list)
    dropped_ids = pa.array(sorted(dropped), pa.string())
    rows_by_file: dict[str, dict[str, int]] = collections.defaultdict(dict)
    rewrites: list[tuple[Path, Path]] = []
    shard_files: dict[str, list[Path]] = collections.defaultdict(list)
    for s in summaries:
        root = staging / f"shard-{s.shard:05d}"
        for key, entries in s.article_files.items():
            for rel, rows in entries.items():
                src = root / rel
                shard_files[key].append(src)
                if dropped:
                    ids = pq.read_table(src, columns=["article_id"]).column("article_id")
                    n_drop = pc.sum(pc.is_in(ids, dropped_ids)).as_py() or 0
                    if n_drop:
                        if n_drop == len(ids):
                            continue
                        src = final / rel
                        rewrites.append((root / rel, src))
                    rows = len(ids) - n_drop
                files[key].append((src, rel))
                rows_by_file[key][rel] = rows
        for entries_by_key in (s.quarantine_files, s.raw_files):
            for key, entries in entries_by_key.items():
                for rel, rows in entries.items():
                    files[key].append((root / rel, rel))
                    rows_by_file[key][rel] = rows
    # Files that lost duplicates are rewritten on every core: Parquet decoding, filtering and
    # encoding run in Arrow, outside the GIL.
    threads = max(1, min(config.effective_workers(), len(rewrites)))
    if threads == 1:
        for src, dst in rewrites:
            _filter_file(src, dst, dropped_ids, config)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda job: _filter_file(job[0], job[1], dropped_ids, config), rewrites))
    release_memory()  # what the rewrites held goes back before the batch views are read
    return Staged(files, rows_by_file, sorted({k for s in summaries for k in s.keys}), shard_files)


def _filter_file(src: Path, dst: Path, dropped_ids: pa.Array, config: RunConfig) -> None:
    """Copy a staged articles file without the rows whose id is in ``dropped_ids``, a few
    thousand rows at a time (a date's file can hold gigabytes of text)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    pending: list[pa.RecordBatch] = []
    buffered = 0
    with pq.ParquetWriter(
        dst, ARTICLE_SCHEMA, compression=config.write.compression, compression_level=config.write.compression_level
    ) as writer:
        for batch in pq.ParquetFile(src).iter_batches(batch_size=1000):
            batch = batch.filter(pc.invert(pc.is_in(batch.column("article_id"), dropped_ids)))
            pending.append(batch)
            buffered += batch.num_rows
            if buffered >= config.validate.chunk_rows:
                writer.write_table(pa.Table.from_batches(pending, schema=ARTICLE_SCHEMA))
                pending, buffered = [], 0
        if buffered:
            writer.write_table(pa.Table.from_batches(pending, schema=ARTICLE_SCHEMA))
