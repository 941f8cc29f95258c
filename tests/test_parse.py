"""Parse: what a document is, and its header dialects."""

from __future__ import annotations

import pytest

from pipeline.readers.dispatch import kind
from pipeline.readers.text import parse


@pytest.mark.parametrize(
    "head,text,fmt",
    [
        (b"", "", "empty"),
        (b"   ", "  \n\n ", "empty"),
        (b"%PDF-1.4", "%PDF-1.4 ...", "binary"),
        (b"\x89PNG\r\n", "\x89PNG", "binary"),
        (b"x", "\x00\x01\x02\x03\x04\x05" * 50, "binary"),
        (b"<", "<?xml version='1.0'?><catalog></catalog>", "xml"),
    ],
)
def test_kind_rejects_what_is_no_document(head, text, fmt):
    rejected = kind(head, text)
    assert rejected is not None and rejected.format == fmt
    assert rejected.reason


def test_kind_accepts_articles_that_mention_brackets():
    assert kind(b"T", "Title\n\nThe {budget} and [notes] and <b> tags in prose.") == "text"
    assert kind(b"<", '<ARTICLE url="u" date="2018-11-17">\nTitre\nTexte.') == "text"


def test_reference_header_line_keeps_the_glued_word_as_body():
    p = parse(" date 2016-12 Réagissez\n\nFort de ses succès.\n")
    assert p.header.date_text == "2016-12" and p.header.date.precision == "month"
    assert p.body.split("\n")[0] == "Réagissez"
    assert "date" not in p.body


def test_pseudo_xml_attributes_become_metadata_never_text():
    p = parse('<ARTICLE url="https://a.example/x-17-11-2018.php" date="8-1-2019">\nTitre\nTexte ici.\n</ARTICLE>\n')
    assert (p.header.url, p.header.date_text) == ("https://a.example/x-17-11-2018.php", "8-1-2019")
    assert p.header.date.value.date().isoformat() == "2019-01-08" and p.header.date.precision == "day"
    assert p.body == "Titre\nTexte ici."
    p = parse("<doc url=https://www.journal.example/2018/11/17/story\n>\n Corps du texte.")
    assert p.header.url == "https://www.journal.example/2018/11/17/story"
    assert "http" not in p.body
    p = parse('<doc title="Les &quot;gilets jaunes&quot; à Chambord" source="La DH">\nTexte.\n</doc>')
    assert p.header.title == 'Les "gilets jaunes" à Chambord' and p.header.source_name == "La DH"
    assert p.body == "Texte."


def test_key_value_header_block():
    p = parse("Date: Wed, 07 Dec 2016 10:30:00 +0100\nTitle: Budget passes\nURL: https://n.example/b\n\nBody text.")
    assert p.header.date_text == "Wed, 07 Dec 2016 10:30:00 +0100"
    assert p.header.date.value.isoformat() == "2016-12-07T09:30:00+00:00" and p.header.date.offset_minutes == 60
    assert p.header.title == "Budget passes" and p.header.url == "https://n.example/b"
    assert p.body == "Body text."


@pytest.mark.parametrize(
    "first_line", ["Date night is back in fashion.", "Title holders lost again", "Source: the minister said."]
)
def test_prose_that_starts_like_a_header_stays_text(first_line):
    text = first_line + "\n\nMore text follows here."
    p = parse(text)
    if first_line.startswith("Source:"):
        # "Source: ..." with a colon is a header field by design; the body keeps the rest.
        assert p.header.source_name == "the minister said."
    else:
        assert p.body == text and p.header == parse("").header


def test_a_malformed_header_date_is_a_header_and_is_reported_not_silently_used():
    import datetime as dt

    from pipeline.config import RunConfig
    from pipeline.document import process_document
    from pipeline.fetch import RawDocument

    text = (
        " date 2016-13-45 Réagissez\n\nLe conseil municipal a adopté lundi soir le budget de la commune pour l’année."
    )
    p = parse(text)
    assert (p.header.date, p.header.date_text) == (None, "2016-13-45") and "2016-13-45" not in p.body
    (a,) = process_document(
        RawDocument("file:///x.txt", "2016-12-07/x.txt", dt.date(2016, 12, 7), text.encode(), "x"),
        RunConfig(source="-", output="-"),
    )
    assert a.title is None and "date" not in a.text.split("\n")[0]
    assert (
        (a.date_source, a.published_at, a.date_precision) == ("none", None, None)
        and "could not be read" in a.warnings[0]
        and "2016-13-45" in a.warnings[0]
    )


# The fast forms of two regex passes, against the regexes.
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TAGGY = st.lists(
    st.sampled_from(
        [
            "</doc>",
            "</DOC>",
            "</ARTICLE>",
            "</article>",
            "</Doc>",
            "</xdoc>",
            "doc>",
            " ",
            "\n",
            "\u00a0",
            "\u2028",
            "\x1c",
            "text",
            "<",
            "\x00",
            "\x07",
            "\x0e",
            "\x1f",
            "\t",
            "é",
            "\ud800",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_TAGGY | st.text(max_size=40))
def test_closing_tag_removal_is_the_regex(text):
    from pipeline.readers.text import _CLOSE, _without_close

    assert _without_close(text) == _CLOSE.sub("", text)


@settings(max_examples=1500, deadline=None)
@given(_TAGGY | st.text(max_size=40))
def test_control_characters_counted_as_the_regex_counts(text):
    from pipeline.readers.dispatch import _CONTROL_BYTES, _CONTROLS

    data = text.encode("utf-8", "surrogatepass")
    assert len(data) - len(data.translate(None, _CONTROL_BYTES)) == len(_CONTROLS.findall(text))


@settings(max_examples=1000, deadline=None)
@given(
    _TAGGY
    | st.text(max_size=40)
    | st.sampled_from(["<REUTERS>", " <!DOCTYPE lewis>", "İ<reuters", "x" * 2047 + "<REUTERS", "\u3000\n ", ""])
)
def test_quick_checks_of_the_dispatch_are_the_plain_ones(text):
    from pipeline.readers import sgml
    from pipeline.readers.dispatch import sniff

    head = text[:2048].lower()
    assert sgml.is_container(text) == ("<reuters" in head or head.lstrip().startswith("<!doctype lewis"))
    assert (sniff(b"x", text) is not None and sniff(b"x", text).format == "empty") == (not text.strip())
