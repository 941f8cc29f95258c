"""Clean: idempotence and invariants (golden cases are in test_golden.py)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import TYPOGRAPHIC_SPACES, clean, normalize, remove_boilerplate
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
