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
second pass reads the ids, hashes and signatures of the articles in those groups only; the
decisions are then made in input order over those articles alone. About 25 MB for 300,000
articles, where a dict of buckets took 1.5 KB an article.
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


def _groups(keys: np.ndarray, rows: np.ndarray) -> Iterator[np.ndarray]:
    """The rows (ascending) of each run of two or more equal keys."""
    if len(keys) < 2:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        yield rows[order[s:e]]


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
    for group in exact_groups:
        involved[group] = True
    for groups in band_groups:
        for group in groups:
            involved[group] = True
    if not involved.any():
        return n_published, {}
    ids, shas, sigs_of = _involved_rows(every_batch(), involved)
    exact_of, near_of = _candidates(exact_groups, band_groups)
    return n_published, _decide(n_published, threshold, ids, shas, sigs_of, exact_of, near_of)


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
        return n_published, [], [], 0
    exact_groups = list(_groups(np.concatenate(sha_chunks), np.arange(total)))
    del sha_chunks
    band_groups: list[list[np.ndarray]] = [[] for _ in range(BANDS)]
    if threshold is not None:
        valid = np.concatenate(valid_chunks)
        rows = np.flatnonzero(valid)
        for band in range(BANDS):
            keys = np.concatenate([c[:, band] for c in band_chunks])[rows]
            band_groups[band] = list(_groups(keys, rows))
        del band_chunks, valid_chunks
    return n_published, exact_groups, band_groups, total


def _involved_rows(batches: Iterable[pa.RecordBatch], involved: np.ndarray):
    """Pass 2: ids, hashes and signatures of the involved articles only, by row."""
    ids: dict[int, str] = {}
    shas: dict[int, str] = {}
    sigs_of: dict[int, np.ndarray] = {}
    start = 0
    for batch in batches:
        here = np.flatnonzero(involved[start : start + batch.num_rows])
        if len(here):
            sub = batch.take(pa.array(here))
            batch_sigs, batch_valid = _signatures(sub)
            for k, (aid, sha) in enumerate(
                zip(sub.column("article_id").to_pylist(), sub.column("content_sha256").to_pylist())
            ):
                row = start + int(here[k])
                ids[row], shas[row] = aid, sha
                if batch_valid[k]:
                    sigs_of[row] = batch_sigs[k].copy()
        start += batch.num_rows
    return ids, shas, sigs_of


def _candidates(exact_groups, band_groups):
    """Candidates of each involved article: the earlier members of its groups, band by band, as
    (group, position) so that a large group is not copied once per member."""
    exact_of: dict[int, tuple[list[int], int]] = {}
    for group in exact_groups:
        members = group.tolist()
        for k in range(1, len(members)):
            exact_of[members[k]] = (members, k)
    near_of: dict[int, list[tuple[list[int], int]]] = {}
    for groups in band_groups:
        for group in groups:
            members = group.tolist()
            for k in range(1, len(members)):
                near_of.setdefault(members[k], []).append((members, k))
    return exact_of, near_of


def _decide(n_published, threshold, ids, shas, sigs_of, exact_of, near_of) -> dict[int, Duplicate]:
    """Decisions in input order; published articles are always kept."""
    dropped: set[int] = set()
    found: dict[int, Duplicate] = {}
    for row in sorted(set(exact_of) | set(near_of)):
        if row < n_published:
            continue
        members, k = exact_of.get(row, ([], 0))
        original = next((i for i in members[:k] if i not in dropped and shas[i] == shas[row]), None)
        if original is not None:
            found[row - n_published] = Duplicate(ids[original], "exact", 1.0)
            dropped.add(row)
            continue
        sig = sigs_of.get(row)
        if sig is None or row not in near_of:
            continue
        candidates: list[int] = []
        seen: set[int] = set()
        for members, k in near_of[row]:  # band order, then input order
            for i in members[:k]:
                if i not in seen and i not in dropped:
                    seen.add(i)
                    candidates.append(i)
        if not candidates:
            continue
        sims = (np.stack([sigs_of[i] for i in candidates]) == sig).mean(axis=1)
        best = int(np.argmax(sims))
        if sims[best] >= threshold:
            found[row - n_published] = Duplicate(ids[candidates[best]], "near", round(float(sims[best]), 3))
            dropped.add(row)
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
