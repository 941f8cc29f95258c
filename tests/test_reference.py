"""The reference article (../shared/corpora/seed), and its text re-encoded five ways.

The corpus text is read at test time and never copied into the repository.
"""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest
from conftest import corpus

from pipeline.config import RunConfig
from pipeline.document import process_document
from pipeline.fetch import RawDocument
from pipeline.records import Article
from pipeline.run import run


def variants(raw: bytes) -> dict[str, bytes]:
    text = raw.decode("utf-8")
    return {
        "utf-8": raw,
        "cp1252": text.encode("cp1252"),
        "utf-8-bom": b"\xef\xbb\xbf" + raw,
        "utf-16": text.encode("utf-16"),
        "mojibake": text.encode("utf-8").decode("cp1252").encode("utf-8"),
        "mojibake-latin1": text.encode("utf-8").decode("latin-1").encode("utf-8"),
    }


@pytest.fixture(scope="module")
def reference() -> bytes:
    (path,) = sorted(corpus("seed").glob("*.txt"))
    return path.read_bytes()


def test_every_encoding_of_the_reference_gives_the_same_article(reference):
    config = RunConfig(source="-", output="-")
    out = {}
    for name, data in variants(reference).items():
        doc = RawDocument(f"file:///{name}.txt", f"2016-12-07/{name}.txt", dt.date(2016, 12, 7), data, "x")
        (art,) = process_document(doc, config)
        assert isinstance(art, Article), (name, art)
        out[name] = art
    texts = {a.text for a in out.values()}
    assert len(texts) == 1, "all encodings must give the same text"
    for name, a in out.items():
        assert a.language == "fr", name
        assert a.published_at == dt.datetime(2016, 12, 1, tzinfo=dt.UTC), name
        assert (a.date_precision, a.date_source) == ("month", "header"), name
        assert "Réagissez" not in a.text and (a.title is None or "Réagissez" not in a.title), name
        assert len(a.subheadings) == 2, (name, a.subheadings)
        assert all(len(s.split()) <= 8 for s in a.subheadings)
        assert "\ufffd" not in a.text and "Ã" not in a.text
    assert out["mojibake"].repairs and not out["utf-8"].repairs
    assert out["cp1252"].encoding == "cp1252" and out["utf-16"].encoding == "utf-16le-bom"


def test_the_five_encodings_in_one_run_are_one_article_and_four_duplicates(reference, tmp_path):
    day = tmp_path / "src" / "2016-12-07"
    day.mkdir(parents=True)
    for name, data in variants(reference).items():
        (day / f"reference-{name}.txt").write_bytes(data)
    report = run(RunConfig(source=str(tmp_path / "src"), output=str(tmp_path / "out"), date="2016-12-07"))
    assert (report.documents_seen, report.articles_written, report.duplicates, report.quarantined) == (6, 1, 5, 0)
    (row,) = pq.read_table(tmp_path / "out" / "articles", partitioning="hive").to_pylist()
    assert (row["year"], row["month"]) == (2016, 12)
