"""Steps: the per-document steps of document.STEPS, each on its own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest

from pipeline.config import RunConfig
from pipeline.document import STEPS, process_document
from pipeline.fetch import RawDocument
from pipeline.readers import read_document
from pipeline.steps import Work, fidelity, reading_time

CONFIG = RunConfig(source="-", output="-")


def _work(**row) -> Work:
    data = b"Title\n\nBody."
    decoded, (doc,) = read_document(data)
    work = Work(RawDocument("file:///x", "x", None, data, "0" * 64), decoded, doc, CONFIG)
    work.row.update(row)
    return work


@pytest.mark.parametrize(
    "language,words,chars,minutes",
    [
        ("en", 1, 5, 1),
        ("en", 200, 1100, 1),
        ("en", 201, 1105, 2),
        ("fr", 1000, 6000, 5),
        ("zh", 3, 255, 1),  # a Chinese "word" is a clause: counted by characters
        ("zh", 3, 256, 2),
        ("ja", 2, 714, 2),
        ("ko", 400, 1200, 2),  # Korean is written with spaces: by words
    ],
)
def test_reading_time_is_words_over_200_or_characters_in_chinese_and_japanese(language, words, chars, minutes):
    work = _work(language=language, word_count=words, char_count=chars)
    assert reading_time(work) is None
    assert work.row["reading_time_minutes"] == minutes


def test_the_steps_run_in_the_documented_order():
    names = [s.__name__ for s in STEPS]
    assert names == [
        "source",
        "header",
        "clean",
        "language",
        "boilerplate",
        "metadata",
        "quality",
        "dates",
        "reading_time",
        "fingerprints",
        "fidelity",
    ]


def test_a_readable_header_language_wins_over_the_identified_one():
    text = "Language: de\nDate: 2016-12-07\n\nLe conseil municipal a adopté lundi soir le budget de la commune.\n"
    (a,) = process_document(
        RawDocument("file:///x.txt", "x.txt", dt.date(2016, 12, 7), text.encode(), "0" * 64), CONFIG
    )
    assert (a.language, a.language_score) == ("de", 1.0)


def test_dates_resolve_takes_the_readers_parsed_date_and_quotes_its_words():
    from pipeline.dates import parse_date, resolve

    landing = dt.date(2016, 12, 9)
    parsed = parse_date("Fri, 09 Dec 2016 17:45:00 +0100")
    got = resolve(parsed, None, None, landing, header_text="Fri, 09 Dec 2016 17:45:00 +0100")
    assert (got.source, got.precision, got.offset_minutes) == ("header", "second", 60)
    assert resolve(parsed, None, None, landing).source == "header"  # no words given: the date still counts
    late = resolve(parse_date("2031-01-01"), None, None, landing, header_text="2031-01-01")
    assert (late.source, late.published_at) == (
        "none",
        None,
    ) and "'2031-01-01' is after the landing date" in late.warnings[0]
    unread = resolve(None, None, None, landing, header_text="sometime last week")
    assert (unread.source, unread.published_at) == (
        "none",
        None,
    ) and "'sometime last week' could not be read" in unread.warnings[0]


# Honest dates: a document that states no date has none; the landing date is only where it is filed.
UNDATED = (
    "Storm closes coastal road\n\nThe coastal road between the two harbours was closed on Friday after waves "
    "threw stones and seaweed across both lanes, the county council said.\n"
)


def test_an_article_that_states_no_date_gets_none_not_its_landing_date():
    (a,) = process_document(
        RawDocument("file:///x.txt", "2026-12-01/news/x.txt", dt.date(2026, 12, 1), UNDATED.encode(), "0" * 64), CONFIG
    )
    assert (a.published_at, a.date_precision, a.date_source, a.landing_date) == (
        None,
        None,
        "none",
        dt.date(2026, 12, 1),
    )
    assert a.warnings == []


def test_an_article_with_no_stated_date_and_no_landing_date_is_quarantined_with_what_to_do():
    (q,) = process_document(RawDocument("file:///x.txt", "news/x.txt", None, UNDATED.encode(), "0" * 64), CONFIG)
    assert q.stage == "dates" and "no landing date" in q.reason and "--date" in q.reason


def test_a_stated_month_stays_a_month_and_is_not_completed_by_the_landing_date():
    text = "date 2016-12\n\n" + UNDATED
    (a,) = process_document(
        RawDocument("file:///x.txt", "2026-12-01/x.txt", dt.date(2026, 12, 1), text.encode(), "0" * 64), CONFIG
    )
    assert (a.published_at, a.date_precision, a.date_source) == (
        dt.datetime(2016, 12, 1, tzinfo=dt.UTC),
        "month",
        "header",
    )


def _fidelity(data: bytes, encoding: str, text: str, title: str | None = None) -> list[str]:
    decoded, (doc,) = read_document(b"Title\n\nBody.")
    decoded = dataclasses.replace(decoded, encoding=encoding)
    work = Work(RawDocument("file:///x", "x", None, data, hashlib.sha256(data).hexdigest()), decoded, doc, CONFIG)
    work.row.update(text=text, title=title, warnings=["kept"])
    assert fidelity(work) is None
    return work.row["warnings"]


@pytest.mark.parametrize(
    "data,encoding,text",
    [
        ("Le taux de pauvreté\u00a0» recule.".encode(), "utf-8", "Le taux de pauvreté\u00a0» recule."),
        ("Город принял бюджет.".encode("cp1251"), "cp1251", "Город принял бюджет."),  # the codec decode chose
        ("北京市政府今天发布了新的交通计划。".encode("gb18030"), "gb18030", "北京市政府今天发布了新的交通计划。"),
        (b'{"text": "\\u5317\\u4eac\\u5e02"}', "utf-8", "北京市"),  # JSON escapes
        (b"<p>&#21271;&#20140;</p>", "utf-8", "北京"),  # HTML entities
    ],
)
def test_fidelity_passes_scripts_the_source_holds(data, encoding, text):
    assert _fidelity(data, encoding, text) == ["kept"]


def test_fidelity_flags_a_script_the_source_does_not_hold():
    # What the old mojibake re-read made of valid French: é, no-break space and » read as one CJK character.
    data = "Le taux de pauvreté\u00a0» recule.".encode()
    got = _fidelity(data, "utf-8", "Le taux de pauvret頻 recule.")
    assert got[0] == "kept" and got[1].startswith("invented characters: CJK")
    assert _fidelity(data, "utf-8", "Le taux de pauvreté » recule.", title="Ethiopic ሀ")[1].startswith(
        "invented characters: ETHIOPIC"
    )
