"""Decode: property tests (golden cases are in test_golden.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import re

from pipeline.decode import _CHAR_TO_BYTE, MOJIBAKE_RE, _reread_sequences, _reread_whole, decode, repair_mojibake

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


# The re-reading, defined the slow way: walk each run of characters a cp1252 or latin-1 reading
# can produce; where the bytes of a complete UTF-8 sequence start, decode them; else keep one
# character and go on.
_RUN = re.compile("[" + "".join(re.escape(ch) for ch in _CHAR_TO_BYTE) + "]{2,}")


def reread_by_definition(text: str) -> tuple[str, int]:
    total = 0

    def run(m: re.Match[str]) -> str:
        nonlocal total
        chars, out, i = m.group(0), [], 0
        while i < len(chars):
            b0 = _CHAR_TO_BYTE[chars[i]]
            need = 2 if 0xC2 <= b0 < 0xE0 else 3 if 0xE0 <= b0 < 0xF0 else 4 if 0xF0 <= b0 <= 0xF4 else 0
            if need and i + need <= len(chars):
                try:
                    out.append(bytes(_CHAR_TO_BYTE[ch] for ch in chars[i:i + need]).decode("utf-8"))
                    total += 1
                    i += need
                    continue
                except UnicodeDecodeError:
                    pass
            out.append(chars[i])
            i += 1
        return "".join(out)

    return _RUN.sub(run, text), total


# Pieces of mojibake'd text: ASCII, any character a cp1252 or latin-1 reading can produce, and
# the wrong reading of any text (whole-file mojibake, twice-broken text, partly broken text).
_BYTE_CHARS = "".join(sorted(_CHAR_TO_BYTE))
MOJIBAKE_PIECE = st.one_of(
    st.text(alphabet="abc XYZ,.\n", max_size=8),
    st.text(alphabet=_BYTE_CHARS, max_size=4),
    st.text(max_size=8).map(lambda t: t.encode("utf-8", "surrogatepass").decode("cp1252", "ignore")),
    st.text(max_size=8).map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")),
    PROSE.map(lambda t: t.encode("utf-8").decode("cp1252").encode("utf-8").decode("cp1252")),
)


@given(st.lists(MOJIBAKE_PIECE, max_size=12).map("".join))
@settings(max_examples=1000, deadline=None)
def test_rereading_is_the_definition_on_any_text(text):
    expected = reread_by_definition(text)
    assert _reread_sequences(text) == expected
    whole = _reread_whole(text)
    assert whole is None or whole == expected


def test_only_well_formed_sequences_are_reread():
    # é then a lone continuation, an overlong form (C0 AF), a surrogate (ED A0 80), F5: kept.
    for kept in ["é»", "À¯", "í\xa0\x80", "õ\x80\x80\x80", "à\xa0 voilà"]:
        assert _reread_sequences(kept) == (kept, 0) == reread_by_definition(kept)
    assert _reread_sequences("cafÃ© â€œokâ€\x9d ðŸ™‚") == ("café “ok” 🙂", 4)


@given(PROSE)
@settings(max_examples=100, deadline=None)
def test_whole_file_mojibake_takes_the_whole_text_path(text):
    broken = text.encode("utf-8").decode("cp1252")
    if broken != text:
        assert _reread_whole(broken) == (text, sum(ch > "\x7f" for ch in text))


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
