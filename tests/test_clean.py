"""Clean: idempotence and invariants (golden cases are in test_golden.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import TYPOGRAPHIC_SPACES, clean, normalize, remove_boilerplate, separate_paragraphs
from pipeline.config import CleanConfig

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list(" \t\n\r\u00a0\u202f\u2009\u200b\u00ad\ufeff«»’–…&;#")),
    ),
    max_size=400,
)


@given(TEXT)
@settings(max_examples=400, deadline=None)
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@given(TEXT, st.sampled_from(["fr", "en", "de", None]))
@settings(max_examples=200, deadline=None)
def test_clean_is_idempotent(text, language):
    once = clean(text, language)
    assert clean(once, language) == once


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_normalize_invariants(text):
    out = normalize(text)
    assert "\r" not in out and "\t" not in out and "\n\n\n" not in out
    assert unicodedata.is_normalized("NFC", out)
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in out)
    assert "  " not in out
    for ch in TYPOGRAPHIC_SPACES:
        assert ch + ch not in out


def test_boilerplate_lists_are_configurable():
    config = CleanConfig(boilerplate={"fr": (r"publicité",), "*": ()})
    text, removed = remove_boilerplate("Début.\n\nPublicité\n\nFin.\n\nRéagissez", "fr", config)
    assert removed == 1
    assert text == "Début.\n\nFin.\n\nRéagissez"  # not in this config's list


def _reference_normalize(text: str) -> str:
    """normalize as plain regex passes, with no fast paths: the specification the fast paths
    (literal checks, split/strip per line) must match exactly."""
    import re

    from pipeline import clean as c

    text = c.unescape_entities(text)
    text = re.sub("\r\n?|[\u2028\u2029\x85\x0b\x0c]", "\n", text)
    text = unicodedata.normalize("NFC", text)
    text = text.translate(c._REMOVE)
    text = c._WS_RUN.sub(c._collapse, text)
    hs = " \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
    text = re.sub(f"^[{hs}]+|[{hs}]+$", "", text, flags=re.M)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


SPACEY = st.text(
    alphabet=st.sampled_from(
        list("ab é\n\r\t\u00a0\u202f\u1680\u205f\u3000\u2028\u2029\x85\x0b\x0c\x00")
        + [chr(c) for c in range(0x2000, 0x200C)]
    ),
    max_size=200,
)


@given(st.one_of(TEXT, SPACEY))
@settings(max_examples=500, deadline=None)
def test_normalize_fast_paths_match_the_plain_regex_reference(text):
    assert normalize(text) == _reference_normalize(text)


@given(st.one_of(TEXT, SPACEY))
@settings(max_examples=2000, deadline=None)
def test_white_space_runs_collapse_as_the_regex_does(text):
    from pipeline import clean as c

    assert c._collapse_spaces(text) == c._WS_RUN.sub(c._collapse, text)
    no_tabs = text.replace("\t", "")
    assert c._collapse_spaces(no_tabs) == c._WS_RUN.sub(c._collapse, no_tabs)
    latin1 = no_tabs.encode("latin-1", "replace").decode("latin-1")
    assert c._collapse_spaces(latin1, latin1=True) == c._WS_RUN.sub(c._collapse, latin1)


def test_white_space_runs_of_every_kind():
    from itertools import product

    from pipeline import clean as c

    spaces = [" ", "\u00a0", "\u202f", "\u2009", "\u2007", "\u3000", "\u1680", "\u2000", "\u2008", "\u200a", "\u205f"]
    for n in (1, 2, 3):
        for run in product(spaces, repeat=n):
            for text in ("".join(run), "a" + "".join(run) + "b", "a " + "".join(run) + "  b\u00a0c"):
                assert c._collapse_spaces(text) == c._WS_RUN.sub(c._collapse, text), repr(text)
                if text.isascii() or max(text) <= "\u00ff":
                    assert c._collapse_spaces(text, latin1=True) == c._WS_RUN.sub(c._collapse, text), repr(text)


def test_latin1_text_is_nfc_as_it_is():
    """normalize skips the NFC check for text of Latin-1 characters: none of them composes."""
    latin1 = "".join(map(chr, range(256)))
    assert unicodedata.is_normalized("NFC", latin1)
    assert all(unicodedata.is_normalized("NFC", a + b) for a in latin1 for b in latin1)


# One paragraph a line (lines that end sentences, longer than a hard wrap) gets blank lines;
# hard-wrapped prose, texts that already have blank lines and single lines stay as they are.
_LONG = "Le conseil municipal a adopté lundi soir le budget de la commune, après un long débat sur les écoles."
PARAGRAPH_CASES = [
    (f"{_LONG}\n{_LONG}\nLire aussi\n{_LONG}", f"{_LONG}\n\n{_LONG}\n\nLire aussi\n\n{_LONG}"),
    (
        f"Titre court\n\n{_LONG}\n{_LONG}",
        f"Titre court\n\n{_LONG}\n\n{_LONG}",
    ),  # a title, a blank line, then a paragraph a line
    (
        "Rue des Lilas 4\n1000 Bruxelles\n\n" + _LONG,
        "Rue des Lilas 4\n1000 Bruxelles\n\n" + _LONG,
    ),  # short lines: the writer's
    (
        "The company said its first quarter profit rose to\n12 mln dlrs from nine mln dlrs a year\nearlier, on "
        "higher sales of its main products.",
    )
    * 2,  # hard-wrapped at 50 columns
    (_LONG, _LONG),
    ("Shr 10 cts vs 5 cts\nNet 1,234,000 vs 617,000\nRevs 12.4 mln vs 10.1 mln",) * 2,  # a table
]


@pytest.mark.parametrize("text,expected", PARAGRAPH_CASES)
def test_separate_paragraphs(text, expected):
    assert separate_paragraphs(text) == expected
    assert separate_paragraphs(expected) == expected  # idempotent


@given(st.text(alphabet=st.sampled_from("ab .\n"), max_size=400))
@settings(max_examples=200, deadline=None)
def test_separate_paragraphs_only_adds_blank_lines(text):
    text = normalize(text)
    out = separate_paragraphs(text)
    assert out.replace("\n\n", "\n") == text.replace("\n\n", "\n")
    assert separate_paragraphs(out) == out


_LINES = st.lists(
    st.sampled_from(
        [
            "Partager",
            "Réagissez",
            "Lire aussi : la suite",
            "Publicité.",
            "Advertisement",
            "Read more: x",
            "Share",
            "12 commentaires",
            "Un texte.",
            "",
            " ",
            "\u00a0",
            "facebook | twitter",
            "Imprimer",
            "texte Partager",
        ]
    ),
    max_size=12,
).map("\n".join)


@given(_LINES | TEXT, st.sampled_from(["fr", "en", "de", None]))
@settings(max_examples=1000, deadline=None)
def test_boilerplate_removal_is_the_plain_line_regex(text, language):
    """The quick check (a newline first, or the first line) changes nothing: what one regex pass removes."""
    from pipeline.clean import _BLANKS, _boilerplate_re

    pattern = _boilerplate_re(CleanConfig().boilerplate, language)
    new, count = pattern.lines.subn("", text)
    expected = (_BLANKS.sub("\n\n", new).strip("\n"), count) if count else (text, 0)
    assert remove_boilerplate(text, language) == expected
