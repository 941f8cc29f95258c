"""Formats: HTML pages, JSON/JSONL records, SGML containers (fixtures written for the project)."""

from __future__ import annotations

import json
import logging

import pytest

from pipeline.config import RunConfig
from pipeline.document import process_document
from pipeline.fetch import RawDocument
from pipeline.readers import read_document
from pipeline.readers.base import Parsed, Rejected
from pipeline.records import Article, Quarantined

PARAS = [
    "The city council of Northbridge approved on Tuesday a plan to turn the disused railway yard into a park "
    "with playgrounds, allotments and a covered market, after three years of consultation with residents.",
    "The project, estimated at twelve million pounds, will be paid for by the council and a regional fund. "
    "Work is expected to start next spring and to last eighteen months, the council said in a statement.",
    "Local shopkeepers welcomed the covered market but asked for parking spaces nearby. \u201cPeople will come "
    "by car on Saturdays whatever we wish,\u201d said the chair of the traders\u2019 association, Ms Ruth Ellery.",
]


def page(charset_decl="utf-8", date_meta=True, body_paras=PARAS, truncated=False) -> str:
    body = "".join(f"<p>{p}</p>\n" for p in body_paras)
    meta_date = '<meta property="article:published_time" content="2016-12-06T08:15:00+00:00">' if date_meta else ""
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset_decl}"><title>Railway yard to become a park | Northbridge Gazette</title>
<meta property="og:title" content="Railway yard to become a park">
<meta property="og:site_name" content="Northbridge Gazette">
<meta name="author" content="Tom Avery">
<meta name="description" content="The council approved a plan for the old railway yard.">
<link rel="canonical" href="https://gazette.example/news/2016/12/06/railway-yard-park">
{meta_date}
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<article><h1>Railway yard to become a park</h1>
{body}</article>
<aside class="share">Share on Facebook Share on Twitter</aside>
<section id="comments"><h2>Comments</h2><div class="comment"><p>Great news, finally something for the kids of this town, I hope it will be ready soon!</p></div></section>
<footer>Copyright 2016 Northbridge Gazette. All rights reserved.</footer>
"""
    return html if truncated else html + "</body></html>\n"


def doc(data: bytes, name="x.html") -> RawDocument:
    import datetime as dt
    import hashlib

    return RawDocument(
        f"file:///landing/2016-12-06/{name}",
        f"2016-12-06/{name}",
        dt.date(2016, 12, 6),
        data,
        hashlib.sha256(data).hexdigest(),
    )


CONFIG = RunConfig(source="-", output="-")


def test_html_main_text_without_boilerplate():
    (a,) = process_document(doc(page().encode()), CONFIG)
    assert isinstance(a, Article), a
    assert a.format == "html" and a.title == "Railway yard to become a park"
    for p in PARAS:
        assert p[:60] in a.text
    for junk in ("cookies", "Share on Facebook", "Great news, finally", "All rights reserved", "Sport"):
        assert junk not in a.text
    assert a.published_at.isoformat() == "2016-12-06T08:15:00+00:00" and a.date_precision == "second"
    assert a.url == "https://gazette.example/news/2016/12/06/railway-yard-park"
    assert a.source_name == "Northbridge Gazette" and a.authors == ["Tom Avery"]
    assert a.description.startswith("The council approved") and a.language == "en"


def test_html_date_falls_back_to_the_url():
    (a,) = process_document(doc(page(date_meta=False).encode()), CONFIG)
    assert a.published_at.date().isoformat() == "2016-12-06"


@pytest.mark.parametrize(
    "declared,encoding,expect_repair",
    [
        ("iso-8859-1", "latin-1", "declared charset iso-8859-1 used"),
        ("utf-8", "cp1252", "declared charset utf-8 ignored: the bytes are not UTF-8"),
        ("iso-8859-1", "utf-8", "declared charset iso-8859-1 ignored: the bytes are valid UTF-8"),
    ],
)
def test_html_charset_declarations_that_lie(declared, encoding, expect_repair):
    html = page(
        charset_decl=declared,
        body_paras=PARAS + ["Caf\u00e9 cr\u00e8me and na\u00efve d\u00e9j\u00e0 vu in the market hall."],
    )
    data = html.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'").encode(encoding)
    (a,) = process_document(doc(data), CONFIG)
    assert "Café crème and naïve déjà vu" in a.text
    assert expect_repair in a.repairs
    assert "\ufffd" not in a.text and "Ã" not in a.text


def test_html_without_article_text_is_quarantined():
    (q,) = process_document(
        doc(b"<html><head><title>Index</title></head><body><nav><a href='/'>Home</a></nav></body></html>"), CONFIG
    )
    assert isinstance(q, Quarantined) and "no article text" in q.reason


def test_truncated_html_page():
    cut = page(truncated=True)
    cut = cut[: cut.index("<body>")]  # cut before any article text
    (q,) = process_document(doc(cut.encode()), CONFIG)
    assert isinstance(q, Quarantined) and "truncated" in q.reason
    (a,) = process_document(doc(page(truncated=True).encode()), CONFIG)  # cut after the article: kept, warned
    assert isinstance(a, Article) and any("truncated" in w for w in a.warnings)


@pytest.mark.parametrize("page_bytes", [b"<html>", b"<!DOCTYPE html>", b"<html><body>\n</body></html>"])
def test_an_unreadable_page_is_one_quarantine_reason_not_library_error_lines(page_bytes, caplog):
    # trafilatura logs "empty HTML tree" and "lxml parsing failed" at ERROR for such pages; the
    # quarantine row says it once, with the file: their lines are noise on the terminal and task log.
    with caplog.at_level(logging.DEBUG):
        (q,) = process_document(doc(page_bytes), CONFIG)
    assert isinstance(q, Quarantined) and "no article text" in q.reason
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


RECORD = {
    "title": "Harbour ferry returns",
    "maintext": " ".join(PARAS),
    "date_publish": "2016-12-06 09:30:00",
    "authors": ["Jo Lind", "Sam Roe"],
    "language": "en",
    "url": "https://n.example/ferry",
    "source_domain": "n.example",
    "image_url": "https://n.example/f.jpg",
    "localpath": None,
    "sentiment": {"score": 0.4},
}


def test_json_record_fields_map_onto_the_schema_and_unknown_fields_are_kept():
    (a,) = process_document(doc(json.dumps(RECORD).encode(), "r.json"), CONFIG)
    assert isinstance(a, Article) and a.format == "json"
    assert (a.title, a.authors, a.url, a.source_name) == (
        "Harbour ferry returns",
        ["Jo Lind", "Sam Roe"],
        "https://n.example/ferry",
        "n.example",
    )
    assert a.published_at.isoformat() == "2016-12-06T09:30:00+00:00" and a.date_precision == "second"
    assert json.loads(a.extra["sentiment"]) == {"score": 0.4} and "image_url" not in a.extra
    assert (a.image, a.hostname) == ("https://n.example/f.jpg", "n.example")


def test_json_record_image_that_is_no_url_stays_in_extra_and_section_is_mapped():
    (a,) = process_document(
        doc(json.dumps({**RECORD, "image_url": "f.jpg", "section": "Local"}).encode(), "r.json"), CONFIG
    )
    assert a.image is None and json.loads(a.extra["image_url"]) == "f.jpg" and a.section == "Local"


def test_jsonl_with_a_broken_line_keeps_the_others():
    lines = [json.dumps({**RECORD, "title": f"Story {i}", "maintext": PARAS[i]}) for i in range(3)]
    lines.insert(2, '{"title": "broken", "maintext": "no closing')
    out = process_document(doc("\n".join(lines).encode(), "dump.jsonl"), CONFIG)
    assert [type(o).__name__ for o in out] == ["Article", "Article", "Quarantined", "Article"]
    assert out[2].source_path.endswith("dump.jsonl#3") and "JSON syntax error on line 3" in out[2].reason
    assert out[3].source_path.endswith("#4") and len({o.article_id for o in out}) == 4


def test_json_file_with_a_syntax_error_is_one_clear_rejection():
    (q,) = process_document(doc(b'{"title": "x", "maintext": "y",\n  "date": }', "bad.json"), CONFIG)
    assert isinstance(q, Quarantined) and "JSON syntax error at line 2" in q.reason


SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" NEWID="1">
<DATE> 6-DEC-2016 14:05:09.12</DATE>
<TOPICS><D>grain</D><D>wheat</D></TOPICS>
<PLACES><D>canada</D></PLACES>
<TEXT>&#2;
<TITLE>PRAIRIE WHEAT HARVEST &lt;BEST> IN A DECADE</TITLE>
<DATELINE>    WINNIPEG, Dec 6 - </DATELINE><BODY>Farmers on the prairies brought in the largest wheat
harvest in ten years, the provincial grain board said, helped by a warm and dry autumn
that let combines work until late November.
    Prices fell slightly on the news, traders said.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="2">
<DATE> 6-DEC-2016 14:07:00.00</DATE>
<TEXT TYPE="BRIEF">&#2;
******<TITLE>SHORT HEADLINE ONLY
</TITLE>Blah blah blah.
&#3;
</TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="3">
<DATE> 6-DEC-2016 14:09:30.00</DATE>
<TEXT>&#2;
<TITLE>CUT SHORT</TITLE><BODY>This story never ends because the file was cut in the mid"""


def test_sgml_container_gives_one_row_per_document():
    out = process_document(doc(SGML.encode(), "reut.sgm"), CONFIG)
    assert [type(o).__name__ for o in out] == ["Article", "Quarantined", "Quarantined"]
    a = out[0]
    assert a.source_path.endswith("reut.sgm#1") and a.format == "sgml"
    assert a.title == "PRAIRIE WHEAT HARVEST <BEST> IN A DECADE"
    assert a.published_at.isoformat() == "2016-12-06T14:05:09+00:00" and a.date_precision == "second"
    assert a.topics == ["grain", "wheat"] and a.places == ["canada"] and a.source_name == "Reuters"
    assert a.text.startswith("Farmers on the prairies brought in the largest wheat harvest in ten years")
    assert "\n\nPrices fell slightly" in a.text and "Reuter" not in a.text
    assert not any(ord(c) < 32 and c != "\n" for c in a.text)
    assert json.loads(a.extra["newid"]) == "1"
    assert "Blah blah" in out[1].reason and out[1].source_path.endswith("#2")
    assert "cut short" in out[2].reason and out[2].source_path.endswith("#3")


def test_read_document_dispatch():
    assert read_document(b"")[1][0].format == "empty"
    assert isinstance(read_document(b"Title\n\nA plain article body that is long enough.")[1][0], Parsed)
    assert isinstance(read_document(b"<?xml version='1.0'?><x/>")[1][0], Rejected)


def test_html_metadata_you_would_trust():
    """Title without the site name the page states, authors as spelled in JSON-LD (the publisher
    and a role left out), section, image, licence, hostname, keywords split, one blank line
    between paragraphs."""
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Railway yard to become a park",
        "author": [
            {"@type": "Person", "name": "Dana A. Ford"},
            {"@type": "Person", "name": "Staff Writer"},
            {"@type": "Organization", "name": "Northbridge Gazette"},
        ],
        "publisher": {"@type": "Organization", "name": "Northbridge Gazette"},
        "articleSection": "Local",
        "image": {"@type": "ImageObject", "url": "/img/yard.jpg"},
    }
    html = page().replace(
        "<title>Railway yard to become a park | Northbridge Gazette</title>",
        "<title>Railway yard to become a park - Northbridge Gazette</title>",
    )
    html = html.replace('<meta property="og:title" content="Railway yard to become a park">', "")
    html = html.replace(
        '<meta name="author" content="Tom Avery">',
        '<meta name="keywords" content="parks, railways; Northbridge">'
        f'<script type="application/ld+json">{json.dumps(ld)}</script>',
    )
    html = html.replace(
        "All rights reserved.", '<a rel="license" href="https://creativecommons.org/licenses/by/4.0/">CC</a>'
    )
    (a,) = process_document(doc(html.encode()), CONFIG)
    assert isinstance(a, Article)
    assert a.title == "Railway yard to become a park"
    assert a.authors == ["Dana A. Ford"] and a.source_name == "Northbridge Gazette"
    assert (a.section, a.image, a.hostname) == ("Local", "https://gazette.example/img/yard.jpg", "gazette.example")
    assert a.license == "CC BY 4.0"
    assert {"parks", "railways", "Northbridge"} <= set(a.topics)
    assert a.text.split("\n\n") == PARAS and "\n\n\n" not in a.text


def test_html_title_suffix_stays_when_the_page_names_no_site():
    html = page().replace('<meta property="og:site_name" content="Northbridge Gazette">', "")
    html = html.replace(
        "<title>Railway yard to become a park | Northbridge Gazette</title>",
        "<title>Railway yard to become a park - Gazette Weekly</title>",
    )
    html = html.replace(
        '<meta property="og:title" content="Railway yard to become a park">',
        '<meta property="og:title" content="Railway yard to become a park - Gazette Weekly">',
    )
    (a,) = process_document(doc(html.encode()), CONFIG)
    assert a.title == "Railway yard to become a park - Gazette Weekly"


def _undated_page(footer: str, byline: str = "") -> bytes:
    """A page with no date in its metadata or URL; its footer (and byline) vary."""
    html = page(date_meta=False).replace("/news/2016/12/06/railway-yard-park", "/news/railway-yard-park")
    html = html.replace("Copyright 2016 Northbridge Gazette. All rights reserved.", footer)
    return html.replace(
        "<article><h1>Railway yard to become a park</h1>", f"<article><h1>Railway yard to become a park</h1>{byline}"
    ).encode()


def test_html_a_bare_copyright_year_is_not_a_publication_date():
    (a,) = process_document(doc(_undated_page("&copy; 2015 Northbridge Gazette. All rights reserved.")), CONFIG)
    assert (a.published_at, a.date_precision, a.date_source) == (None, None, "none")
    assert any("htmldate gave 2015-01-01, a bare year" in w for w in a.warnings)


def test_html_a_date_htmldate_finds_in_the_page_is_labelled_htmldate():
    (a,) = process_document(doc(_undated_page("Northbridge Gazette", '<p class="date">6 December 2016</p>')), CONFIG)
    assert (a.published_at.date().isoformat(), a.date_precision, a.date_source) == ("2016-12-06", "day", "htmldate")


@pytest.mark.parametrize(
    "stamp,when,precision",
    [
        ("Published: 5 December 2016", "2016-12-05T00:00:00+00:00", "day"),
        (
            "\u53d1\u5e03\u65f6\u95f4\uff1a2016\u5e7412\u67085\u65e5 14:30",
            "2016-12-05T14:30:00+00:00",
            "minute",
        ),  # 发布时间：2016年12月5日
        (
            "2016-12-05 14:30\u66f4\u65b0 \u6765\u6e90\uff1a\u672c\u62a5",
            "2016-12-05T14:30:00+00:00",
            "minute",
        ),  # ...更新 来源：本报
    ],
)
def test_html_a_publication_stamp_in_the_page_is_a_dateline(stamp, when, precision):
    (a,) = process_document(doc(_undated_page("Northbridge Gazette", f'<p class="date">{stamp}</p>')), CONFIG)
    assert (a.published_at.isoformat(), a.date_precision, a.date_source) == (when, precision, "dateline")


def test_html_dates_in_prose_or_lists_of_other_stories_are_no_stamp():
    from pipeline.dates import stated_in_page

    assert stated_in_page("The rules apply from 2004\u5e745\u67081\u65e5.") is None  # 2004年5月1日 in a sentence
    assert stated_in_page("\u00b7 Other story (2005-04-27 18:03PM) \u00b7 Another (2005-04-26 09:00PM)") is None
    assert stated_in_page("CopyRight@2004-2008 All rights reserved") is None


def test_html_a_first_of_january_the_page_writes_is_kept():
    (a,) = process_document(doc(_undated_page("Northbridge Gazette", '<p class="date">1 January 2016</p>')), CONFIG)
    assert (a.published_at.date().isoformat(), a.date_source) == ("2016-01-01", "htmldate")
