"""Duplicates: exact and near (MinHash), within a run and against what was published before."""

from __future__ import annotations

import random
import re

import pyarrow.parquet as pq

from conftest import corpus
from pipeline.config import RunConfig
from pipeline.dedup import DuplicateIndex
from pipeline.metadata import minhash
from pipeline.run import run

STORY = ("The regional council approved a plan on Monday to rebuild the old bridge over the river, closed to traffic "
         "since the spring floods damaged two of its piers. Engineers expect the work to take fourteen months and "
         "the council will pay for most of it, with the rest coming from a national fund for flood repairs. Local "
         "businesses on both banks say the closure has cost them a third of their trade, and asked for a temporary "
         "footbridge while the work goes on. The council said it would study the request before the end of the month.")


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


def test_index_exact_near_and_different():
    index = DuplicateIndex(0.7)
    index.add("a", "sha-a", minhash(STORY))
    assert index.check("sha-a", minhash(STORY)).kind == "exact"
    near = index.check("sha-b", minhash(small_edits(STORY)))
    assert near is not None and near.kind == "near" and near.of == "a" and near.similarity >= 0.7
    other = "A different story entirely: the football club signed a new goalkeeper from the league champions for the season."
    assert index.check("sha-c", minhash(other)) is None
    assert DuplicateIndex(None).check("sha-b", minhash(small_edits(STORY))) is None  # near detection off


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
