"""Duplicates: the same text (exact) or the same story with small edits (near), within a run and
against what earlier runs published.

In:  the articles' ``article_id``, ``content_sha256`` and MinHash signature (``metadata.minhash``)
     as Arrow batches in input (path) order; optionally the published dataset's (``published_batches``),
     minus the landing dates being replaced.
Out: for each duplicate article, its position in the input and a ``Duplicate`` naming the article
     it repeats, how (``exact`` / ``near``) and the estimated Jaccard similarity. Every other
     article is the first of its kind: publish it.

Near duplicates: MinHash LSH, 16 bands of 4 rows over 64 permutations; a candidate is confirmed
when the signatures agree on at least ``threshold`` of their positions (an estimate of the word
5-shingle Jaccard similarity; 0.7 by default: small edits to one story pass, two stories written
from one template do not). First in path order wins, so the outcome does not depend on workers.

Memory: offline and columnar. A first pass keeps 73 bytes an article (a 64-bit hash of the
content hash, a 32-bit hash of each band) and finds the groups of equal hashes by sorting; a
second pass reads the ids, hashes and signatures of the articles in those groups only, into
arrays (no Python object per article: the groups stay flat arrays of indices); the decisions are
then made in input order over those articles alone. About 25 MB for 300,000 articles, where a
dict of buckets took 1.5 KB an article; 100,000 articles that all repeat one another peaked at
389 MB against 550 MB with dicts in the second pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .errors import OutputError
from .output import file_key, parquet_schema_version
from .records import SCHEMA_VERSION

BANDS, ROWS = 16, 4
SIGNATURE_BYTES = BANDS * ROWS * 4

# Called once per pass: a fresh iterator over batches with the columns article_id,
# content_sha256 and (optionally) minhash, always in the same order.
Batches = Callable[[], Iterable[pa.RecordBatch]]


@dataclass(frozen=True, slots=True)
class Duplicate:
    of: str  # article_id of the original
    kind: str  # exact | near
    similarity: float


def _signatures(batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(n, 64) uint32 signatures and a mask of the rows that have one."""
    n = batch.num_rows
    if "minhash" not in batch.schema.names:
        return np.zeros((n, BANDS * ROWS), "<u4"), np.zeros(n, bool)
    col = batch.column("minhash")
    valid = np.ones(n, bool) if col.null_count == 0 else col.is_valid().to_numpy(zero_copy_only=False)
    if pa.types.is_fixed_size_binary(col.type) and col.type.byte_width == SIGNATURE_BYTES:
        data = col.buffers()[1]
        sigs = np.frombuffer(data, dtype="<u4", count=n * BANDS * ROWS, offset=col.offset * SIGNATURE_BYTES).reshape(
            n, BANDS * ROWS
        )
        return sigs, valid
    sigs = np.zeros((n, BANDS * ROWS), "<u4")  # an older or foreign layout: row by row
    for i, value in enumerate(col.to_pylist()):
        if value is not None and len(value) == SIGNATURE_BYTES:
            sigs[i] = np.frombuffer(value, "<u4")
        else:
            valid[i] = False
    return sigs, valid


def _band_hashes(sigs: np.ndarray) -> np.ndarray:
    """(n, 16) uint32: one hash of each band's 16 bytes. A collision only adds a candidate that
    the signature comparison then rejects, so 32 bits are enough and halve the index."""
    pairs = np.ascontiguousarray(sigs).view("<u8").reshape(len(sigs), BANDS, 2)
    with np.errstate(over="ignore"):
        mixed = (pairs[:, :, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ (
            (pairs[:, :, 1] + np.uint64(0x632BE59BD9B4E019)) * np.uint64(0xC2B2AE3D27D4EB4F)
        )
    return (mixed >> np.uint64(32)).astype(np.uint32)


def _sha_hashes(batch: pa.RecordBatch) -> np.ndarray:
    return np.array(
        [
            int.from_bytes(hashlib.blake2b((s or "").encode(), digest_size=8).digest(), "little")
            for s in batch.column("content_sha256").to_pylist()
        ],
        dtype=np.uint64,
    )


Groups = tuple[np.ndarray, np.ndarray]  # (rows of each run one run after another, each run's start and the end)


def _groups(keys: np.ndarray, rows: np.ndarray) -> Groups:
    """The runs of two or more equal keys, flat: their rows (ascending within a run) one run after
    another, and the bounds of each run in that array (``bounds[g]:bounds[g + 1]``)."""
    if len(keys) < 2:
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    lengths = np.diff(np.append(starts, len(keys)))
    starts, lengths = starts[lengths > 1], lengths[lengths > 1]
    bounds = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    at = np.arange(bounds[-1]) - np.repeat(bounds[:-1] - starts, lengths)  # positions in ``order``
    return rows[order[at]].astype(np.int64), bounds


def find_duplicates(
    articles: Batches, threshold: float | None = 0.7, published: Batches | None = None
) -> tuple[int, dict[int, Duplicate]]:
    """Decide, in input order, which articles repeat an earlier one (or a published one).

    Returns the number of published articles indexed and {position in ``articles``: Duplicate}.
    The outcome is that of checking each article against every article kept before it: exact
    (same content hash) first, else the kept candidate of highest similarity at or above
    ``threshold`` (the first of them on a tie); ``threshold=None`` turns near detection off.
    """

    def every_batch() -> Iterator[pa.RecordBatch]:
        if published is not None:
            yield from published()
        yield from articles()

    n_published, exact_groups, band_groups, total = _hash_groups(articles, published, threshold)
    if total == 0:
        return n_published, {}
    involved = np.zeros(total, bool)
    for members, _ in (exact_groups, *band_groups):
        involved[members] = True
    if not involved.any():
        return n_published, {}
    rows = np.flatnonzero(involved)
    del involved
    found = _involved_rows(every_batch(), rows)
    exact, near = _earlier(rows, [exact_groups]), _earlier(rows, band_groups)
    del exact_groups, band_groups
    return n_published, _decide(n_published, threshold, rows, found, exact, near)


def _hash_groups(articles: Batches, published: Batches | None, threshold: float | None):
    """Pass 1: a 64-bit hash of each content hash and a 32-bit hash of each band, in chunks; then
    the groups of equal hashes (every article that may repeat, or be repeated by, another).
    Returns (published articles, exact groups, band groups per band, total articles)."""
    sha_chunks: list[np.ndarray] = []
    band_chunks: list[np.ndarray] = []
    valid_chunks: list[np.ndarray] = []
    n_published = 0
    for part, source in enumerate((published, articles)):
        for batch in source() if source is not None else ():
            n_published += batch.num_rows if part == 0 else 0
            sha_chunks.append(_sha_hashes(batch))
            if threshold is not None:
                sigs, valid = _signatures(batch)
                band_chunks.append(_band_hashes(sigs))
                valid_chunks.append(valid)
    total = sum(len(c) for c in sha_chunks)
    if total == 0:
        return n_published, _groups(np.zeros(0), np.zeros(0)), [], 0
    exact_groups = _groups(np.concatenate(sha_chunks), np.arange(total))
    del sha_chunks
    band_groups: list[Groups] = []
    if threshold is not None:
        valid = np.concatenate(valid_chunks)
        rows = np.flatnonzero(valid)
        for band in range(BANDS):
            keys = np.concatenate([c[:, band] for c in band_chunks])[rows]
            band_groups.append(_groups(keys, rows))
        del band_chunks, valid_chunks
    return n_published, exact_groups, band_groups, total


@dataclass(frozen=True)
class _Involved:
    """What pass 2 reads of the involved articles, by their index among them (arrays, no object
    per article): ids, content hashes, (m, 64) signatures and whether each has one."""

    ids: pa.Array
    shas: pa.Array
    sigs: np.ndarray
    valid: np.ndarray


def _involved_rows(batches: Iterable[pa.RecordBatch], rows: np.ndarray) -> _Involved:
    """Pass 2: ids, hashes and signatures of the involved articles only (``rows``, ascending)."""
    ids: list[pa.Array] = []
    shas: list[pa.Array] = []
    sigs: list[np.ndarray] = []
    valid: list[np.ndarray] = []
    start = lo = 0
    for batch in batches:
        hi = int(np.searchsorted(rows, start + batch.num_rows))
        if hi > lo:
            sub = batch.take(pa.array(rows[lo:hi] - start))
            batch_sigs, batch_valid = _signatures(sub)
            sigs.append(batch_sigs.copy())
            valid.append(batch_valid)
            ids.append(sub.column("article_id").cast(pa.string()))
            shas.append(sub.column("content_sha256").cast(pa.string()))
        lo = hi
        start += batch.num_rows
    return _Involved(pa.concat_arrays(ids), pa.concat_arrays(shas), np.concatenate(sigs), np.concatenate(valid))


@dataclass(frozen=True)
class _Earlier:
    """For each involved article j, the earlier members of each of its groups (in group order):
    ``members[start[p] : start[p] + count[p]]`` for p in ``ptr[j] : ptr[j + 1]``; indices among
    the involved articles, ascending. Flat arrays, so that a large group is not copied once per
    member."""

    members: np.ndarray
    start: np.ndarray
    count: np.ndarray
    ptr: np.ndarray

    def of(self, j: int) -> list[np.ndarray]:
        p, q = self.ptr[j], self.ptr[j + 1]
        return [self.members[s : s + k] for s, k in zip(self.start[p:q].tolist(), self.count[p:q].tolist())]


def _earlier(rows: np.ndarray, groups: list[Groups]) -> _Earlier:
    """The candidates of each involved article: the earlier members of its groups, group lists in
    the order given (bands in order), then input order."""
    members, starts, counts, owners = [], [], [], []
    offset = 0
    for flat, bounds in groups:
        compact = np.searchsorted(rows, flat)
        lengths = np.diff(bounds)
        group_start = np.repeat(bounds[:-1], lengths)
        k = np.arange(len(flat)) - group_start
        later = k > 0
        members.append(compact)
        owners.append(compact[later])
        starts.append(offset + group_start[later])
        counts.append(k[later])
        offset += len(flat)
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    order = np.argsort(owner, kind="stable")  # by article, keeping the group lists' order
    ptr = np.searchsorted(owner[order], np.arange(len(rows) + 1))
    flat_members = np.concatenate(members) if members else np.zeros(0, np.int64)
    if not owners:
        return _Earlier(flat_members, owner, owner, ptr)
    return _Earlier(flat_members, np.concatenate(starts)[order], np.concatenate(counts)[order], ptr)


def _decide(n_published, threshold, rows, got: _Involved, exact: _Earlier, near: _Earlier) -> dict[int, Duplicate]:
    """Decisions in input order; published articles are always kept."""
    dropped = np.zeros(len(rows), bool)
    found: dict[int, Duplicate] = {}
    todo = np.flatnonzero((np.diff(exact.ptr) > 0) | (np.diff(near.ptr) > 0))
    for j in todo[rows[todo] >= n_published].tolist():
        position = int(rows[j]) - n_published
        sha = got.shas[j].as_py()
        original = next(
            (i for seg in exact.of(j) for i in seg[~dropped[seg]].tolist() if got.shas[i].as_py() == sha), None
        )
        if original is not None:
            found[position] = Duplicate(got.ids[original].as_py(), "exact", 1.0)
            dropped[j] = True
            continue
        if not got.valid[j] or near.ptr[j] == near.ptr[j + 1]:
            continue
        candidates = np.concatenate(near.of(j))  # band order, then input order; first seen kept
        _, first = np.unique(candidates, return_index=True)
        candidates = candidates[np.sort(first)]
        candidates = candidates[~dropped[candidates]]
        if not len(candidates):
            continue
        sims = (got.sigs[candidates] == got.sigs[j]).mean(axis=1)
        best = int(np.argmax(sims))
        if sims[best] >= threshold:
            found[position] = Duplicate(got.ids[int(candidates[best])].as_py(), "near", round(float(sims[best]), 3))
            dropped[j] = True
    return found


def published_batches(out, exclude_keys: set[str]) -> Batches | None:
    """The published articles of every landing date but ``exclude_keys``, read from the files the
    manifests of ``out`` (an ``output.Output``) list, as ``Batches``; None if there are none."""
    keys = [k for k in out.read_manifests() if k not in exclude_keys]
    rels = out.published("articles", keys)
    if not rels:
        return None

    def batches() -> Iterator[pa.RecordBatch]:
        for rel in rels:
            try:
                file = out.parquet(rel)
                version = parquet_schema_version(file)
                if version != str(SCHEMA_VERSION):
                    raise OutputError(
                        f"published file {rel} was written with schema version {version}, this "
                        f"news-etl writes version {SCHEMA_VERSION}",
                        source=out.location,
                        hint="publish to a new output folder; versions are never mixed in one output",
                    )
                cols = [c for c in ("article_id", "content_sha256", "minhash") if c in file.schema_arrow.names]
                yield from file.iter_batches(batch_size=10_000, columns=cols)
            except (pa.ArrowException, OSError) as exc:
                raise OutputError(
                    f"published file {rel} is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})",
                    source=out.location,
                    hint=f"rerun its date (news-etl run --date {file_key(rel)}) to rewrite it; "
                    "news-etl check lists every damaged file",
                ) from None

    return batches
