"""Duplicates: exact and near (MinHash), within a run and against what was published before."""

from __future__ import annotations

import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import corpus

from pipeline.config import RunConfig
from pipeline.dedup import BANDS, ROWS, Duplicate, find_duplicates
from pipeline.metadata import minhash
from pipeline.run import run

STORY = (
    "The regional council approved a plan on Monday to rebuild the old bridge over the river, closed to traffic "
    "since the spring floods damaged two of its piers. Engineers expect the work to take fourteen months and "
    "the council will pay for most of it, with the rest coming from a national fund for flood repairs. Local "
    "businesses on both banks say the closure has cost them a third of their trade, and asked for a temporary "
    "footbridge while the work goes on. The council said it would study the request before the end of the month."
)


def small_edits(text: str, seed: int = 0) -> str:
    """A few word-level edits a copy desk makes: a changed word, a changed number, an added line."""
    rnd = random.Random(seed)
    words = text.split(" ")
    for _ in range(2):
        i = rnd.randrange(len(words))
        words[i] = {"the": "a", "and": "while", "said": "stated"}.get(words[i], words[i])
    edited = " ".join(words)
    edited = re.sub(r"\b(\d+)\b", lambda m: str(int(m.group(1)) + 1), edited, count=1)
    return edited + "\n\nThis story was updated."


class ReferenceIndex:
    """The definition find_duplicates must agree with: each article, in order, checked against
    every article kept before it (exact content hash first, then the LSH candidate of highest
    signature agreement at or above the threshold, the first on a tie)."""

    def __init__(self, threshold):
        self.threshold, self.exact, self.buckets, self.kept = threshold, {}, {}, []

    def check(self, aid, sha, sig):
        if sha in self.exact:
            return Duplicate(self.exact[sha], "exact", 1.0)
        best = None
        if self.threshold is not None and sig is not None:
            seen = set()
            for band in range(BANDS):
                for idx in self.buckets.get((band, sig[band * ROWS * 4 : (band + 1) * ROWS * 4]), []):
                    if idx not in seen:
                        seen.add(idx)
                        other = np.frombuffer(self.kept[idx][1], "<u4")
                        sim = float((other == np.frombuffer(sig, "<u4")).mean())
                        if sim >= self.threshold and (best is None or sim > best[0]):
                            best = (sim, idx)
        if best:
            return Duplicate(self.kept[best[1]][0], "near", round(best[0], 3))
        self.add(aid, sha, sig)
        return None

    def add(self, aid, sha, sig):
        self.exact.setdefault(sha, aid)
        if self.threshold is not None and sig is not None:
            self.kept.append((aid, sig))
            for band in range(BANDS):
                self.buckets.setdefault((band, sig[band * ROWS * 4 : (band + 1) * ROWS * 4]), []).append(
                    len(self.kept) - 1
                )


def _batches(ids, shas, sigs, lo, hi, size):
    return [
        pa.record_batch(
            {
                "article_id": ids[a : min(a + size, hi)],
                "content_sha256": shas[a : min(a + size, hi)],
                "minhash": pa.array(sigs[a : min(a + size, hi)], pa.binary(256)),
            }
        )
        for a in range(lo, hi, size)
    ]


def test_exact_near_and_different():
    other = "A different story entirely: the football club signed a new goalkeeper from the league champions for the season."
    texts = [STORY, STORY, small_edits(STORY), other]
    ids, shas = ["a", "b", "c", "d"], ["sha-a", "sha-a", "sha-c", "sha-d"]
    sigs = [minhash(t) for t in texts]
    _, found = find_duplicates(lambda: _batches(ids, shas, sigs, 0, 4, 2), 0.7)
    assert set(found) == {1, 2}
    assert found[1] == Duplicate("a", "exact", 1.0)
    assert found[2].kind == "near" and found[2].of == "a" and found[2].similarity >= 0.7
    _, found = find_duplicates(lambda: _batches(ids, shas, sigs, 0, 4, 4), None)  # near detection off
    assert found == {1: Duplicate("a", "exact", 1.0)}
    # Against published articles: they come first and are always kept, even if they repeat each other.
    n, found = find_duplicates(
        lambda: _batches(ids, shas, sigs, 2, 4, 4), 0.7, published=lambda: _batches(ids, shas, sigs, 0, 2, 1)
    )
    assert n == 2 and found == {0: Duplicate("a", "near", found[0].similarity)}
    # Published files of an older layout: signatures as variable-length binary, or none at all.
    older = lambda: [
        b.set_column(2, "minhash", b.column("minhash").cast(pa.binary())) for b in _batches(ids, shas, sigs, 0, 4, 3)
    ]
    assert find_duplicates(older, 0.7)[1] == find_duplicates(lambda: _batches(ids, shas, sigs, 0, 4, 3), 0.7)[1]
    bare = lambda: [b.drop_columns(["minhash"]) for b in _batches(ids, shas, sigs, 0, 4, 4)]
    assert find_duplicates(bare, 0.7)[1] == {1: Duplicate("a", "exact", 1.0)}


@pytest.mark.parametrize("seed", range(12))
def test_agrees_with_the_sequential_definition(seed):
    """Random signatures with planted copies, edited copies (5-50% of positions changed), equal
    hashes with other texts, missing signatures, published rows and batch boundaries."""
    rng = np.random.default_rng(seed)
    n, n_published = 300, [0, 40, 120][seed % 3]
    sigs = rng.integers(0, 2**32, size=(n, 64), dtype=np.uint64).astype("<u4")
    shas = [f"{i:064x}" for i in range(n)]
    for j in range(1, n):
        r, i = rng.random(), int(rng.integers(0, j))
        if r < 0.1:
            sigs[j], shas[j] = sigs[i], shas[i]
        elif r < 0.35:
            sigs[j] = sigs[i]
            flip = rng.random(64) < rng.uniform(0.05, 0.5)
            sigs[j][flip] = rng.integers(0, 2**32, size=int(flip.sum()))
        elif r < 0.4:
            shas[j] = shas[i]
    ids = [f"id{i}" for i in range(n)]
    missing = set(rng.choice(n, 6, replace=False).tolist())
    sig_bytes = [None if i in missing else sigs[i].tobytes() for i in range(n)]
    for threshold in (0.7, 0.5, None):
        reference = ReferenceIndex(threshold)
        for i in range(n_published):
            reference.add(ids[i], shas[i], sig_bytes[i])
        expected = {}
        for i in range(n_published, n):
            dup = reference.check(ids[i], shas[i], sig_bytes[i])
            if dup:
                expected[i - n_published] = dup
        published = (lambda: _batches(ids, shas, sig_bytes, 0, n_published, 64)) if n_published else None
        count, found = find_duplicates(lambda: _batches(ids, shas, sig_bytes, n_published, n, 97), threshold, published)
        assert count == n_published
        assert found == expected
        assert len(expected) >= 10  # the planted duplicates are there to be found


def _bbc_sample(n: int):
    files = sorted((corpus("en-bbc") / "files" / "business").glob("*.txt"))
    seen, out = set(), []
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        if text in seen:
            continue
        seen.add(text)
        out.append((f.stem, text))
        if len(out) == n:
            break
    return out


def test_each_article_twice_once_with_small_edits(tmp_path):
    articles = _bbc_sample(40)
    day = tmp_path / "src" / "2005-06-01"
    (day / "a-original").mkdir(parents=True)
    (day / "b-edited").mkdir()
    for i, (stem, text) in enumerate(articles):
        (day / "a-original" / f"{stem}.txt").write_text(text, encoding="utf-8")
        (day / "b-edited" / f"{stem}.txt").write_text(small_edits(text, i), encoding="utf-8")
    report = run(RunConfig(source=str(tmp_path / "src"), output=str(tmp_path / "out"), date="2005-06-01"))
    assert report.documents_seen == 80
    assert (report.articles_written, report.duplicates) == (40, 40), report.quarantine_reasons
    assert report.duplicate_kinds == {"near": 40}
    written = pq.read_table(tmp_path / "out" / "articles", columns=["source_path"]).column("source_path").to_pylist()
    assert all("/a-original/" in p for p in written)
    ledger = pq.read_table(report.ledger).to_pylist()
    ids = {r["source_uri"].rsplit("/", 2)[-1]: r["article_id"] for r in ledger if r["outcome"] == "written"}
    for r in ledger:
        if r["outcome"] == "duplicate":
            assert r["duplicate_of"] == ids[r["source_uri"].rsplit("/", 2)[-1]] and "near duplicate" in r["reason"]


def test_duplicates_against_earlier_runs_and_reruns_stay_idempotent(tmp_path):
    articles = _bbc_sample(10)
    src, out = tmp_path / "src", tmp_path / "out"
    for i, (stem, text) in enumerate(articles):
        for day, body in (("2005-06-01", text), ("2005-06-02", small_edits(text, i))):
            (src / day).mkdir(parents=True, exist_ok=True)
            (src / day / f"{stem}.txt").write_text(body, encoding="utf-8")
    first = run(RunConfig(source=str(src), output=str(out), date="2005-06-01"))
    second = run(RunConfig(source=str(src), output=str(out), date="2005-06-02"))
    assert (first.articles_written, second.articles_written, second.duplicates) == (10, 0, 10)
    assert second.published_indexed == 10
    again = run(RunConfig(source=str(src), output=str(out), date="2005-06-01"))  # a rerun is not its own duplicate
    assert (again.articles_written, again.duplicates) == (10, 0)
