"""Feeds: RSS 2.0, RSS 1.0 and Atom, one article per item (golden cases in tests/golden/feeds.json)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from pipeline.config import RunConfig
from pipeline.document import process_document
from pipeline.fetch import RawDocument
from pipeline.readers import read_document
from pipeline.readers.base import Parsed
from pipeline.readers.dispatch import kind
from pipeline.readers.feed import looks_like_feed
from pipeline.records import Article, Quarantined

GOLDEN = Path(__file__).parent / "golden" / "feeds.json"
CONFIG = RunConfig(source="-", output="-")


def cases():
    out = []
    for case in json.loads(GOLDEN.read_text(encoding="utf-8")):
        marks = [pytest.mark.xfail(strict=True, reason="known failure")] if case["expect"] == "known-failure" else []
        out.append(pytest.param(case, id=case["label"], marks=marks))
    return out


def _value(record, name):
    value = getattr(record, name)
    return value.isoformat() if isinstance(value, dt.datetime) else value


@pytest.mark.parametrize("case", cases())
def test_feed_golden(case):
    data = case["feed"].encode("utf-8")
    raw = RawDocument(
        "file:///landing/2016-12-09/feed.xml",
        "2016-12-09/feed.xml",
        dt.date(2016, 12, 9),
        data,
        hashlib.sha256(data).hexdigest(),
    )
    results = process_document(raw, CONFIG)
    assert len(results) == len(case["results"]), [getattr(r, "reason", r) for r in results]
    for got, want in zip(results, case["results"]):
        expected_type, fields = (Article, want["article"]) if "article" in want else (Quarantined, want["rejected"])
        assert isinstance(got, expected_type), getattr(got, "reason", got)
        for name, value in fields.items():
            if name == "source_path":
                assert got.source_path == "2016-12-09/" + value and got.source_uri.endswith(value)
            elif name == "reason":
                assert value in got.reason, got.reason
            else:
                assert _value(got, name) == value, name


def test_every_item_kind_is_a_feed_and_only_feeds_are():
    rss = '<?xml version="1.0"?>\n<!-- exported -->\n<rss version="2.0"><channel><item><description>x</description></item></channel></rss>'
    assert kind(b"<", rss) == "feed"
    assert kind(b"<", '<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>') == "feed"
    assert (
        kind(b"<", '<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"><item/></rdf:RDF>').format == "xml"
    )  # RDF, no RSS 1.0
    assert kind(b"<", "<html><head><title>rss</title></head><body><rss></rss></body></html>") == "html"


def test_a_feed_item_keeps_its_position_and_the_feed_its_decoding():
    data = '<rss version="2.0"><channel><title>T</title><item><title>Ä</title><description>Ünïcode text of the item.</description></item></channel></rss>'
    decoded, (doc,) = read_document(data.encode("cp1252"))
    assert isinstance(doc, Parsed) and doc.position == 1 and doc.header.title == "Ä"
    assert decoded.encoding in ("cp1252", "latin-1", "iso-8859-15", "iso-8859-1")


def test_a_page_of_many_comments_is_told_from_a_feed_at_once():
    """Found by tests/test_fuzz.py: with ``<!--.*?-->`` in the prolog pattern, a page of n comments
    that is not a feed took time exponential in n (18: 0.5 s; a fuzzed page stalled its run for
    minutes). 100 would never finish."""
    comments = "<!--[if IE]><html><![endif]-->\n" * 100  # within the 4 KB looked at
    assert not looks_like_feed("<!DOCTYPE html>\n" + comments + "<html><body>x</body></html>")
    assert looks_like_feed('<?xml version="1.0"?>\n' + comments + '<rss version="2.0"><channel></channel></rss>')
