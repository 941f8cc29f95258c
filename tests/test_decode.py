"""Decode: property tests (golden cases are in test_golden.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.decode import MOJIBAKE_RE, decode, repair_mojibake

# Word-shaped text in the letters every supported legacy code page writes the same way. (Character
# soup like "é««" is not prose: its cp1252 bytes E9 AB AB are also valid UTF-8, an ambiguity no
# decoder can resolve and no newspaper writes.)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ACCENTED = "éèêëàâäîïôöùûüçÉÈÀÇñÑßÄÖÜ"
WORD = st.builds(
    lambda a, b, c: a + b + c,
    st.text(alphabet=_LETTERS, min_size=1, max_size=6),
    st.text(alphabet=_ACCENTED, max_size=1),
    st.text(alphabet=_LETTERS, min_size=1, max_size=6),
)
PUNCT = st.sampled_from([",", ".", ";", ":", "!", "?", "'", "-", "(", ")", "2016", "42"])
PROSE = st.lists(st.one_of(WORD, WORD, WORD, PUNCT), min_size=1, max_size=60).map(" ".join)
TYPO = st.sampled_from(["’", "“", "”", "–", "—", "…", "€", "«\u00a0", "\u00a0»", "«", "»"])
CP1252_EXTRA = st.lists(st.one_of(WORD, WORD, TYPO), min_size=1, max_size=40).map(" ".join)


@given(PROSE, st.sampled_from(["utf-8", "cp1252", "latin-1", "iso-8859-15", "utf-16", "utf-32", "utf-8-sig"]))
@settings(max_examples=300, deadline=None)
def test_any_prose_in_a_supported_encoding_decodes_back_exactly(text, encoding):
    assert decode(text.encode(encoding)).text == text


@given(CP1252_EXTRA)
@settings(max_examples=200, deadline=None)
def test_cp1252_typography_decodes_back_exactly(text):
    assert decode(text.encode("cp1252")).text == text


@given(st.binary(max_size=2000))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_never_raise_and_losses_are_counted(data):
    got = decode(data)
    assert isinstance(got.text, str)
    assert got.undecodable_bytes >= 0
    if got.undecodable_bytes:
        assert any("undecodable" in r or "dropped" in r for r in got.repairs)


@given(PROSE)
@settings(max_examples=200, deadline=None)
def test_mojibake_of_any_prose_is_repaired(text):
    broken = text.encode("utf-8").decode("cp1252")
    assert decode(broken.encode("utf-8")).text == text


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_repair_leaves_text_without_the_signature_alone(text):
    if not MOJIBAKE_RE.search(text):
        assert repair_mojibake(text) == (text, [])


def test_utf8_fast_path_records_nothing():
    got = decode("Plain UTF-8 — with typography.".encode())
    assert got.encoding == "utf-8" and got.repairs == () and got.undecodable_bytes == 0


def test_undefined_cp1252_bytes_are_counted_not_hidden():
    got = decode(b"caf\xe9 \x81\x8d ok")
    assert got.text == "café  ok"
    assert got.undecodable_bytes == 2
    assert any("2 undecodable bytes" in r for r in got.repairs)
