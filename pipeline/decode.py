"""Decode: bytes to text, with every repair recorded.

In:  the bytes of one document, a ``DecodeConfig``, optionally the charset the document declares.
Out: a ``Decoded`` (text, the encoding that won, the repairs made, undecodable bytes counted).

Order of work, cheapest first (most files stop at step 3):
1. a BOM (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) decides;
2. BOM-less UTF-16 is recognised by its NUL bytes;
3. strict UTF-8 (the fast path);
4. not UTF-8: if the file holds valid UTF-8 sequences too, it is UTF-8 with stray legacy bytes
   (each read as cp1252 and counted); otherwise the code pages of other scripts (GB18030, Big5,
   Shift-JIS, EUC-JP, EUC-KR, Cyrillic, Greek, Hebrew, Arabic, Thai) are scored by how much of
   each reading is its language's common letters, and the best wins if it scores high enough
   (a Latin text read so scores at most 0: its accented letters become foreign letters inside
   Latin words); else a Latin code page is chosen by scoring each candidate's reading for
   implausible characters;
5. mojibake (UTF-8 that was read as cp1252/latin-1, even twice) is re-read only where the re-read
   is more plausible than what is there (a badness measure before and after, after ftfy), and
   never where it would bring in a script that no plain decode of the source holds
   (``invented_scripts``): a legitimate ``São``, ``Ãngela`` or ``pauvreté »`` stays.

A declared charset (HTML meta, HTTP header) is read with the superset browsers use for it: GB2312
and GBK as GB18030, Shift-JIS as cp932, Big5 as Big5-HKSCS, EUC-KR as cp949, TIS-620 as cp874.

Undecodable bytes (bytes a code page leaves undefined, broken UTF-16) are never silently lost:
they are dropped from the text, counted in ``undecodable_bytes`` and named in ``repairs``.

Not here: Unicode normalization, control characters, whitespace (``clean``).
"""

from __future__ import annotations

import codecs
import html
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .config import DecodeConfig

# ---------------------------------------------------------------------------------------------
# cp1252 tables. The byte of a character as cp1252 would write it; the five bytes cp1252 leaves
# undefined (81 8D 8F 90 9D) and all of 80-9F are reachable too through latin-1's C1 controls,
# which is what UTF-8 read as latin-1 leaves behind.

_CHAR_TO_BYTE: dict[str, int] = {}
for _b in range(0x80, 0x100):
    _CHAR_TO_BYTE.setdefault(bytes([_b]).decode("latin-1"), _b)
    try:
        _CHAR_TO_BYTE[bytes([_b]).decode("cp1252")] = _b
    except UnicodeDecodeError:
        pass
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}

# A lead char (the cp1252/latin-1 reading of a UTF-8 lead byte C2-F4) followed by a continuation
# char (the reading of 80-BF). This pair never occurs in real text in any language we know of.
_CONT = "\u0080-\u00bf" + re.escape(
    "".join(ch for ch, b in _CHAR_TO_BYTE.items() if 0x80 <= b <= 0xBF and ord(ch) > 0xFF)
)
MOJIBAKE_RE = re.compile(f"[\u00c2-\u00f4][{_CONT}]")
# The same pair in the UTF-8 bytes of a text: the lead's two bytes, then the continuation
# character's bytes. A literal byte first: the regex engine finds it at C speed, where
# MOJIBAKE_RE tries a character class at every character (tests check they agree).
MOJIBAKE_UTF8_RE = re.compile(
    rb"\xc3[\x82-\xb4](?:\xc2[\x80-\xbf]|"
    + b"|".join(
        re.escape(ch.encode()) for ch, b in sorted(_CHAR_TO_BYTE.items()) if 0x80 <= b <= 0xBF and ord(ch) > 0xFF
    )
    + rb")"
)


def _chars_of(lo: int, hi: int) -> str:
    """A character class body: every character whose byte (``_CHAR_TO_BYTE``) is in lo..hi."""
    return "".join(re.escape(ch) for ch, b in sorted(_CHAR_TO_BYTE.items()) if lo <= b <= hi)


# A lead byte's reading followed by one to three continuation bytes' readings: where every
# sequence ``repair_mojibake`` re-reads starts (lead and continuation bytes are disjoint, so a
# lead is never inside another sequence). One character class first: the regex engine skips
# to candidates at C speed.
_CANDIDATE_RE = re.compile(f"[{_chars_of(0xC2, 0xF4)}][{_chars_of(0x80, 0xBF)}]{{1,3}}")

# A well-formed UTF-8 multi-byte sequence: [\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|
# [\xf0-\xf4][\x80-\xbf]{3}, written with one character class first (then a lookbehind says
# which lead it was): the regex engine skips to a lead byte at C speed instead of trying three
# alternatives at every byte. Tests check it matches what the plain alternation matches.
_UTF8_MULTIBYTE_RE = re.compile(
    rb"[\xc2-\xf4](?:(?<=[\xc2-\xdf])[\x80-\xbf]|(?<=[\xe0-\xef])[\x80-\xbf]{2}|(?<=[\xf0-\xf4])[\x80-\xbf]{3})"
)

# Characters that a wrong legacy reading produces and real prose almost never has.
_IMPLAUSIBLE_ALWAYS = re.compile("[\u0080-\u009f\u00a4\u00a6\u00a8\u00b4\u00b8]")
_FRACTION_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])[\u00bc-\u00be](?=[^\W\d_])")
_LETTER_ALONE = re.compile(r"(?<![^\W\d_])[\u0160\u0161\u017d\u017e\u0152\u0153\u0178](?![^\W\d_])")
_EURO_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])\u20ac(?=[^\W\d_])")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    repairs: tuple[str, ...]
    undecodable_bytes: int


class _TooManyErrors(Exception):
    """Raised by a ``_Counter`` past its ``max_errors``: the decode is abandoned."""


class _Counter:
    """A codec error handler that counts what it had to drop or substitute, and the times it was
    called (one for each invalid sequence: what ``errors="replace"`` puts a U+FFFD for)."""

    def __init__(self, mode: str, max_errors: float | None = None):
        self.mode = mode
        self.dropped = 0
        self.substituted = 0
        self.errors = 0
        self.max_errors = max_errors

    def __call__(self, exc: UnicodeDecodeError):
        self.errors += 1
        if self.max_errors is not None and self.errors > self.max_errors:
            raise _TooManyErrors
        bad = exc.object[exc.start : exc.end]
        if self.mode == "cp1252":
            out = []
            for b in bad:
                if b in _CP1252_UNDEFINED or b < 0x80:
                    self.dropped += 1
                else:
                    out.append(bytes([b]).decode("cp1252"))
                    self.substituted += 1
            return "".join(out), exc.end
        self.dropped += len(bad)
        return "", exc.end


_handler_counter = 0


def _decode_counting(
    data: bytes, encoding: str, mode: str = "drop", max_errors: float | None = None
) -> tuple[str, _Counter]:
    """``data`` decoded with a ``_Counter`` as its error handler; raises ``_TooManyErrors`` past
    ``max_errors`` invalid sequences."""
    global _handler_counter
    counter = _Counter(mode, max_errors)
    _handler_counter += 1
    name = f"news_etl_{mode}_{_handler_counter % 64}"
    codecs.register_error(name, counter)
    return data.decode(encoding, errors=name), counter


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32le-bom"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32be-bom"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-bom"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16le-bom"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16be-bom"),
)


def _sniff_utf16(data: bytes) -> str | None:
    """BOM-less UTF-16: text in Latin scripts has a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    ze, zo = even.count(0) / len(even), odd.count(0) / len(odd)
    if zo > 0.4 and ze < 0.05:
        return "utf-16-le"
    if ze > 0.4 and zo < 0.05:
        return "utf-16-be"
    return None


def _legacy_score(text: str) -> int:
    return (
        len(_IMPLAUSIBLE_ALWAYS.findall(text))
        + len(_FRACTION_BETWEEN_LETTERS.findall(text))
        + len(_LETTER_ALONE.findall(text))
        + len(_EURO_BETWEEN_LETTERS.findall(text))
    )


# The bytes where cp1252, iso-8859-15 and latin-1 read differently. Elsewhere they agree, so only
# the characters around these bytes need scoring (single-byte code pages: byte i is character i).
_AMBIGUOUS = re.compile(rb"[\x80-\x9f\xa4\xa6\xa8\xb4\xb8\xbc-\xbe]")
_SINGLE_BYTE = {"cp1252", "windows-1252", "iso-8859-15", "iso8859-15", "latin-1", "latin1", "iso-8859-1", "iso8859-1"}


def _decode_legacy(data: bytes, config: DecodeConfig) -> tuple[str, str, int]:
    """(text, encoding, undecodable bytes) for a non-UTF-8 file: the most plausible candidate."""
    best: tuple[int, int, str, str, int] | None = None
    spots = [m.start() for m in _AMBIGUOUS.finditer(data)]
    single = all(e.replace("_", "-").lower() in _SINGLE_BYTE for e in config.legacy_encodings)
    if not spots and single:  # every candidate reads these bytes alike: no scoring needed
        return data.decode("latin-1"), config.legacy_encodings[0], 0
    for rank, enc in enumerate(config.legacy_encodings):
        if enc.replace("_", "-").lower() in ("cp1252", "windows-1252"):
            text, counter = _decode_counting(data, "cp1252", "drop")
            dropped = counter.dropped
        else:
            try:
                text, dropped = data.decode(enc), 0
            except UnicodeDecodeError:
                continue
        if single:
            sample = "\x00".join(text[max(0, i - 1) : i + 2] for i in spots[:2000])
            score = _legacy_score(sample) + dropped
        else:
            score = _legacy_score(text) + dropped
        if best is None or (score, rank) < (best[0], best[1]):
            best = (score, rank, text, enc, dropped)
    if best is None:  # no candidate at all: latin-1 is total
        return data.decode("latin-1"), "latin-1", 0
    return best[2], best[3], best[4]


_HIGH_BYTES = bytes(range(0x80, 0x100))


# ---------------------------------------------------------------------------------------------
# Scripts. The guard that no repair invents a character: the writing systems a text uses, named
# by the first word of their characters' Unicode names (``CJK UNIFIED IDEOGRAPH-4E2D`` is CJK).
# Latin, digits and punctuation are no script here: the guard is about whole writing systems
# appearing from nowhere (``pauvreté »`` re-read into ``pauvret頻``).

SCRIPTS = frozenset(
    {
        "CJK",
        "HANGUL",
        "HIRAGANA",
        "KATAKANA",
        "ARABIC",
        "CYRILLIC",
        "GREEK",
        "HEBREW",
        "THAI",
        "SAMARITAN",
        "DEVANAGARI",
        "BENGALI",
        "ARMENIAN",
        "GEORGIAN",
        "ETHIOPIC",
        "TIBETAN",
        "SYRIAC",
        "THAANA",
        "NKO",
        "MANDAIC",
        "YI",
        "BOPOMOFO",
        "HALFWIDTH",
        "FULLWIDTH",
        "UNNAMED",
    }
)


# Characters below U+0250 (Latin, digits, punctuation) belong to no script of ``SCRIPTS``.
_BELOW_SCRIPTS = re.compile("[\x00-\u024f]+")
_name_word: dict[str, str] = {}  # character -> first word of its name (UNNAMED): one lookup each
_NAME_WORDS_KEPT = 1 << 16  # bounded: a hostile input of every code point must not grow it to 1.1 M


def scripts_of(text: str) -> set[str]:
    """The scripts (``SCRIPTS``) that characters of ``text`` belong to; unassigned ones are UNNAMED."""
    out: set[str] = set()
    if text.isascii():
        return out
    # The distinct characters from U+0250 on: runs below it cut out first, so that a Latin text
    # makes a set of its few quotes and dashes, not of its every letter.
    for ch in set(_BELOW_SCRIPTS.sub("", text)):
        word = _name_word.get(ch)
        if word is None:
            name = unicodedata.name(ch, "")
            word = name.split(" ", 1)[0] if name else "UNNAMED"
            if len(_name_word) < _NAME_WORDS_KEPT:
                _name_word[ch] = word
        if word in SCRIPTS:
            out.add(word)
    return out


_JSON_ESCAPES = re.compile(r"\\u([0-9a-fA-F]{4})")


def plain_decodes(raw: bytes, declared: str | None = None) -> list[str]:
    """The readings of ``raw`` that need no judgement: UTF-8, cp1252, latin-1, UTF-16/32 when a
    BOM says so, and the declared charset with its superset; each with HTML entities resolved
    too when the bytes hold any (a page's ``&#20013;`` is its text's 中). Undecodable bytes are
    replaced: what a reading holds, not whether it is clean, is what counts here."""
    codecs_ = ["utf-8", "cp1252", "latin-1"]
    if raw[:4] in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        codecs_.append("utf-32")
    elif raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        codecs_.append("utf-16")
    name = codec_name(declared)
    if name:
        codecs_ += [name, *_SUPERSETS.get(name, ())]
    out = []
    for codec in dict.fromkeys(codecs_):
        try:
            text = raw.decode(codec, "replace")
        except LookupError:
            continue
        out.append(text)
        if "&" in text:
            out.append(html.unescape(text))
        if "\\u" in text:  # JSON's escapes: a record's "\u4e2d" is its text's 中
            out.append(_JSON_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)), text))
    return out


def source_scripts(raw: bytes, declared: str | None = None) -> set[str]:
    """Every script that some plain decode of ``raw`` holds (``plain_decodes``)."""
    out: set[str] = set()
    for text in plain_decodes(raw, declared):
        out |= scripts_of(text)
    return out


def invented_scripts(raw: bytes, text: str, declared: str | None = None) -> set[str]:
    """Scripts in ``text`` that no plain decode of ``raw`` holds: characters a decode or a repair
    made up. Empty for every text ``decode`` returns from a plain or a declared reading; a
    non-Latin code page that ``decode`` detected on undeclared bytes is a judgement, not a plain
    decode, so its script shows here (``Decoded.repairs`` names the detection)."""
    found = scripts_of(text)
    if not found:
        return found
    return found - source_scripts(raw, declared)


class _ScriptGuard:
    """Tells which scripts a re-read would bring in: those neither in the text before any
    re-read nor (when the bytes are known) in any plain decode of the source."""

    def __init__(self, text: str, raw: bytes | None = None, declared: str | None = None):
        self.text, self.raw, self.declared = text, raw, declared
        self._known: set[str] | None = None
        self._source: set[str] | None = None

    def invented(self, chars: str) -> set[str]:
        new = scripts_of(chars)
        if not new:
            return new
        if self._known is None:
            self._known = scripts_of(self.text)
        new -= self._known
        if new and self.raw is not None:
            if self._source is None:
                self._source = source_scripts(self.raw, self.declared)
            new -= self._source
        return new


# ---------------------------------------------------------------------------------------------
# Badness: how implausible a text looks, in the spirit of ftfy's ``badness`` (our own, smaller
# measure). A re-read is taken only where it lowers the count. Each match is one count:
#  - a C1 control (U+0080-U+009F): what UTF-8 read as latin-1 leaves, never in text;
#  - Â, Ã, Ä or Å followed by a continuation character: the mojibake of Latin-1 punctuation and
#    letters and of Latin Extended-A (``Ã©``, ``Å‚``, ``Ä…``), hardly ever a word;
#  - any other lead character followed by a continuation character that does not follow a letter
#    in prose (``é©``, ``â€``, ``Å“``); those that do (no-break space, soft hyphen, », ’, ”, …,
#    dashes, bullet, °, ·) are the French and typographic cases that must stay;
#  - a continuation character that is a symbol followed by another one, but for the pairs of
#    typography (``…»``, ``’»``, ``—«``): ``–°`` and ``–‡`` are pieces of Chinese or of ``’``;
#  - a letter of a non-Latin script touching a Latin letter (``pauvret頻``);
#  - IPA, spacing modifiers, private use and rare scripts (``࠻``, N'Ko, Ethiopic), which news in
#    any language hardly ever holds.

_CONT_CHARS = {ch for ch, b in _CHAR_TO_BYTE.items() if 0x80 <= b <= 0xBF}
_AFTER_LETTER = set("\u00a0\u00ad\u00b0\u00b7\u00bb\u2019\u201d\u2026\u2013\u2014\u2022")
_AFTER_PUNCT = set("\u00ab\u00bf\u00a1\u201c\u2018")
# Continuation characters that are punctuation or symbols (not letters, not the spaces), and
# what may follow one of them in prose.
_CONT_PUNCT = {ch for ch in _CONT_CHARS if not ch.isalpha() and ch not in "\u00a0\u00ad"}
_AFTER_SYMBOL = set("\u00a0\u00bb\u2019\u201d\u2026") | _AFTER_PUNCT


def _class(chars) -> str:
    return "".join(re.escape(ch) for ch in sorted(chars))


_LATIN_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_NON_LATIN_LETTER = (
    "\u0370-\u03ff\u0400-\u052f\u0531-\u058f\u05d0-\u05ea\u0620-\u064a\u0660-\u06ff\u0700-\u0dff"
    "\u0e01-\u0e5b\u0e80-\u1dbf\u3040-\u30ff\u3100-\u318f\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7af\uf900-\ufaff"
)
_BADNESS_RE = re.compile(
    "[\u0080-\u009f]"
    f"|[\u00c2-\u00c5][{_class(_CONT_CHARS)}]"
    f"|[{_chars_of(0xC6, 0xF4)}][{_class(_CONT_CHARS - _AFTER_LETTER)}]"
    f"|[{_class(_CONT_PUNCT)}][{_class(_CONT_CHARS - _AFTER_SYMBOL)}]"
    f"|[{_LATIN_LETTER}][{_NON_LATIN_LETTER}]|[{_NON_LATIN_LETTER}][{_LATIN_LETTER}]"
    "|[\u0250-\u0258\u025a-\u02ff\u0700-\u08ff\u1200-\u139f\ua000-\ua4cf\ue000-\uf8ff]"
)


# Every match of _BADNESS_RE holds a non-ASCII character, and an ASCII one only next to it: the
# inside of a run of ASCII characters (all but its first and last) is never part of a match, and
# one NUL (in no class) in its place leaves the matches as they were, with far less to scan.
_ASCII_INSIDE = re.compile(r"(?<=[\x00-\x7f])[\x00-\x7f]+(?=[\x00-\x7f])")


def badness(text: str) -> int:
    """How many implausible spots ``text`` has (see above); 0 for clean prose in any script."""
    if len(text) > 64:  # a whole text, not a spot: its ASCII runs cut down first
        text = _ASCII_INSIDE.sub("\x00", text)
    return len(_BADNESS_RE.findall(text))


# ---------------------------------------------------------------------------------------------
# Re-reading mojibake.


def _sequences(text: str):
    """(start, end, character) of each well-formed UTF-8 sequence read as cp1252/latin-1."""
    for m in _CANDIDATE_RE.finditer(text):
        chars = m.group(0)
        lead = _CHAR_TO_BYTE[chars[0]]
        need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if len(chars) < need:
            continue
        try:
            seq = bytes(_CHAR_TO_BYTE[ch] for ch in chars[:need]).decode("utf-8")
        except UnicodeDecodeError:  # overlong, surrogate or beyond U+10FFFF: not UTF-8
            continue
        yield m.start(), m.start() + need, seq


def _reread_runs(text: str, accept: Callable[[str, str, str, str], bool] | None = None) -> tuple[str, int]:
    """Runs of adjacent well-formed sequences re-read as UTF-8 where ``accept(before, run,
    reading, after)`` says so (all of them without ``accept``); (text, sequences re-read)."""
    out: list[str] = []
    total = 0
    pos = 0  # text[:pos] is in out
    run_start = run_end = -1
    run: list[str] = []

    def flush() -> None:
        nonlocal pos, total
        if not run:
            return
        reading = "".join(run)
        if accept is None or accept(
            text[run_start - 1 : run_start], text[run_start:run_end], reading, text[run_end : run_end + 1]
        ):
            out.append(text[pos:run_start])
            out.append(reading)
            pos = run_end
            total += len(run)

    for start, end, seq in _sequences(text):
        if start != run_end:
            flush()
            run, run_start = [], start
        run.append(seq)
        run_end = end
    flush()
    if not total:
        return text, 0
    out.append(text[pos:])
    return "".join(out), total


def _reread_sequences(text: str) -> tuple[str, int]:
    """Each well-formed UTF-8 sequence read as cp1252/latin-1 read again as UTF-8; (text,
    sequences re-read). Everything else (a legitimate ``é``, an overlong form) stays as it is."""
    return _reread_runs(text)


def _reread_whole(text: str) -> tuple[str, int] | None:
    """The same as ``_reread_sequences`` for a text that was wholly UTF-8 read as cp1252 or latin-1
    (the usual mojibake: a whole file read with the wrong code page), at codec speed; None
    when it was not (a character outside both code pages, or bytes that are not UTF-8).

    Why the same: when the bytes of the whole text are valid UTF-8, they are ASCII and
    well-formed sequences, and ``_reread_sequences`` re-reads every sequence.
    """
    for codec in ("cp1252", "latin-1"):
        try:
            raw = text.encode(codec)
        except UnicodeEncodeError:
            continue
        try:
            new = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # One character a re-read sequence; ASCII bytes are themselves.
        return new, len(new) - len(raw.translate(None, _HIGH_BYTES))
    return None


def repair_mojibake(
    text: str,
    max_passes: int = 3,
    raw: bytes | None = None,
    declared: str | None = None,
) -> tuple[str, list[str]]:
    """Undo UTF-8-read-as-cp1252/latin-1 where its signature appears and the re-read is more
    plausible (lower ``badness``) than what is there; (text, repairs).

    A re-read never brings in a script that neither the text nor (given ``raw``, the source's
    bytes, and the charset it ``declared``) any plain decode of the source holds: such a spot
    keeps its characters and a repair note says so.
    """
    repairs: list[str] = []
    guard = _ScriptGuard(text, raw, declared)
    kept: set[str] = set()

    def accept(before: str, run: str, reading: str, after: str) -> bool:
        if badness(before + reading + after) >= badness(before + run + after):
            return False
        invented = guard.invented(reading)
        if invented:
            kept.update(invented)
            return False
        return True

    for n in range(1, max_passes + 1):
        if text.isascii() or not MOJIBAKE_RE.search(text):
            break
        whole = _reread_whole(text)
        if whole is not None and whole[1] and badness(whole[0]) < badness(text) and not guard.invented(whole[0]):
            new, total = whole
        else:
            new, total = _reread_runs(text, accept)
        if total == 0:
            break
        repairs.append(f"mojibake: {total} UTF-8 sequences read as cp1252/latin-1 re-read (pass {n})")
        text = new
    if kept:
        repairs.append(
            f"mojibake-like sequences kept: re-reading them would bring in {', '.join(sorted(kept))}, "
            "which no plain decode of the source holds"
        )
    return text, repairs


def _truncated_utf8(data: bytes, exc: UnicodeDecodeError) -> str | None:
    """Valid UTF-8 whose only fault is an incomplete sequence at the very end (a cut download)."""
    if exc.reason != "unexpected end of data" or len(data) - exc.start > 3:
        return None
    # Only with evidence that the file is UTF-8: a lone é at the end of a cp1252 file looks the same.
    if not _UTF8_MULTIBYTE_RE.search(data, 0, exc.start):
        return None
    try:
        return data[: exc.start].decode("utf-8")
    except UnicodeDecodeError:
        return None


# ---------------------------------------------------------------------------------------------
# Charsets: labels, supersets, and the non-Latin code pages told apart by their common letters.

# Labels that pages use and Python does not know.
_LABELS = {
    "x-gbk": "gbk",
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "windows-874": "cp874",
    "x-cp1251": "cp1251",
    "x-cp1250": "cp1250",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-x-big5": "big5",
}

# What a declared charset is read as, each tried strictly, in order. A superset comes first only
# where it reads every byte the declared code page reads the same way, or where browsers read the
# label so (WHATWG Encoding Standard): GB2312 and GBK as GB18030 (GB2312 itself turns GB18030's
# ``·`` and ``—`` into ``・`` and ``―``), TIS-620 as cp874. Shift-JIS, Big5 and EUC-KR come before
# their supersets: cp932 reads 6 Shift-JIS byte pairs as other characters (``〜`` as ``～``),
# cp950 11 Big5 pairs and Big5-HKSCS 249, and cp949 splits EUC-KR's eight-byte syllables
# (KS X 1001 annex 3) into jamo; the superset is taken only for bytes the declared code page
# cannot read (NEC, IBM, ETEN, Hong Kong and Unified Hangul extensions).
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "hz": ("gb18030",),
    "shift_jis": ("shift_jis", "cp932", "shift_jis_2004"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004"),
    "big5": ("big5", "cp950", "big5hkscs"),
    "cp950": ("cp950", "big5hkscs"),
    "euc_kr": ("euc_kr", "cp949"),
    "tis-620": ("cp874",),
    "iso8859-11": ("cp874",),
}

# The most common letters (characters for Chinese and Japanese, syllables for Korean) of the
# language each code page is for: written for news-etl from general frequency knowledge, not taken
# from any corpus. The right reading of a text has most of its letters here; a wrong reading maps
# bytes onto letters at random and has few.
_ZH_SIMPLIFIED = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种"
    "面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去"
    "把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但"
    "质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式"
    "活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回"
    "则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清美"
    "再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元"
    "况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委"
    "素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江"
    "型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严记者网月日"
)
_ZH_TRADITIONAL = (
    "這為個國時來們對會發動過說產種後學經進著電裡現實兩體機當點從業應開還義間樣與關線內數麼質氣變條沒結問無"
    "係軍並題黨員總設長頭資邊級圖統較將組見計別論運農幾區強決幹戰則據處隊給門規熱領東導壓爭濟階術極聯認權證"
    "轉單風帶場車務萬達積議聲報鬥類離華確張馬節話況傳許廣記觀織裝眾書復兒須際驗連斷難礦備辦習響勞團歷構稱準"
    "號維劃選標寫親養層卻專狀廠識適屬圓調滿縣參紅細聽該鐵價嚴臺灣"
)
_CJK_PUNCT = "，。、；：？！《》（）「」"
_COMMON: dict[str, str] = {
    "zh": _ZH_SIMPLIFIED + _ZH_TRADITIONAL + _CJK_PUNCT,
    "ja": "".join(chr(c) for c in range(0x3041, 0x3097))
    + "".join(chr(c) for c in range(0x30A1, 0x30FB))
    + "ー"
    + _CJK_PUNCT
    + "日本人年大一中出国月上会事自者発生行見時分地前新長場的同後入言合市手内方子学代円東京都政府首相氏党選挙議員"
    "総理経済社業企今米高対問題関係開実施結果全部数県警察容疑逮捕被害女男性家族調査表記午週"
    "来春全区計画知防災訓練述明決定約期間検討",
    "ko": "이다의는에을하고가로한지서기리도사자대일어정인시를나수부전아국해과있구주상보제여장원경은들조었면게적으스소성"
    "만동방신된생요위실할공우니라했용것마관내미그회진문세화비무업연선중민개계금년월등통발차현분말명모단입터트학교"
    "합받까던며와야울북남당표결법안운영행예물산출식간점청후때더번",
    "cyrl": "оеаиінтсрвлкмдп",
    "el": "αοειτνσςηκρπυμλάέίόή",
    "he": "יוהמלארבתנשעכ",
    "ar": "اليمونرتبعهةدف",
    "th": "านรอกเงมย่วัดี้ติสลคบ",
}
_COMMON_RE = {lang: re.compile(f"[{_class(set(chars))}]") for lang, chars in _COMMON.items()}
_LANGUAGE_OF = {
    "gb18030": "zh",
    "gbk": "zh",
    "gb2312": "zh",
    "big5hkscs": "zh",
    "cp950": "zh",
    "big5": "zh",
    "cp932": "ja",
    "shift_jis": "ja",
    "shift_jis_2004": "ja",
    "euc_jp": "ja",
    "euc_jis_2004": "ja",
    "cp949": "ko",
    "euc_kr": "ko",
    "cp1251": "cyrl",
    "koi8-r": "cyrl",
    "koi8-u": "cyrl",
    "iso8859-5": "cyrl",
    "mac-cyrillic": "cyrl",
    "cp1253": "el",
    "iso8859-7": "el",
    "cp1255": "he",
    "iso8859-8": "he",
    "cp1256": "ar",
    "iso8859-6": "ar",
    "cp874": "th",
    "tis-620": "th",
    "iso8859-11": "th",
}
# What a reading is scored on: its characters that are neither ASCII nor punctuation or spaces
# every code page shares; and how often its non-Latin letters touch a Latin one (a Latin text read
# with a non-Latin code page turns its accented letters into letters inside Latin words).
_IGNORED_RE = re.compile("[\u0080-\u00bf\u1680\u2000-\u206f\u3000\ufeff\ufffd]")
_MIXED_RE = re.compile(f"[A-Za-z][{_NON_LATIN_LETTER}]|[{_NON_LATIN_LETTER}][A-Za-z]")
# A non-Latin letter right after a Latin one: a cheap bound (skipping to non-Latin letters at C
# speed) on the matches of _MIXED_RE, which are at least as many. In a run of letters that
# alternate between Latin and not, the matches take every other pair of neighbours from its
# start: at least one for each Latin-to-non-Latin step.
_AFTER_LATIN_RE = re.compile(f"[{_NON_LATIN_LETTER}](?<=[A-Za-z].)")
# What no text in any of these scripts holds and a wrong reading does: box drawing and block
# characters (koi8-r's upper half), C1 controls, an upper-case Cyrillic or Greek letter right
# after a lower-case one (a byte-wise reading mixes the cases at random), a word-final Hebrew or
# Greek letter inside a word, a direction mark between two letters.
# Written as one character class (every first character), then the alternatives in their order,
# each after a lookbehind on that first character: the regex engine skips ASCII at C speed
# instead of trying six alternatives at every character. Tests check it matches what
# _WRONG_DEFINITION matches.
_WRONG_DEFINITION = (
    "[\u0080-\u009f\u2500-\u259f]|[\u0430-\u045f][\u0400-\u042f]|[\u03ac-\u03ce][\u0386-\u03ab]"
    "|[\u05da\u05dd\u05df\u05e3\u05e5][\u05d0-\u05ea]|\u03c2[\u03ac-\u03ce]"
    "|[\u05d0-\u05ea\u0620-\u064a][\u200e\u200f][\u05d0-\u05ea\u0620-\u064a]"
)
_WRONG_RE = re.compile(
    "[\u0080-\u009f\u2500-\u259f\u0430-\u045f\u03ac-\u03ce\u05d0-\u05ea\u0620-\u064a](?:"
    "(?<=[\u0080-\u009f\u2500-\u259f])|(?<=[\u0430-\u045f])[\u0400-\u042f]|(?<=[\u03ac-\u03ce])[\u0386-\u03ab]"
    "|(?<=[\u05da\u05dd\u05df\u05e3\u05e5])[\u05d0-\u05ea]|(?<=\u03c2)[\u03ac-\u03ce]"
    "|(?<=[\u05d0-\u05ea\u0620-\u064a])[\u200e\u200f][\u05d0-\u05ea\u0620-\u064a])"
)


def _high_bytes(data: bytes) -> int:
    return len(data) - len(data.translate(None, _HIGH_BYTES))


class _ByteCounts(NamedTuple):
    """Bytes a single-byte code page reads as no scored character, and as no common letter of a
    language: ``bytes.translate`` deletions that leave the bytes to count."""

    not_scored: bytes
    not_common: bytes


_byte_counts: dict[tuple[str, str], _ByteCounts | None] = {}


def _single_byte_counts(codec: str, language: str) -> _ByteCounts | None:
    """For a code page that reads each byte as one character or none (a charmap codec: Cyrillic,
    Greek, Hebrew, Arabic, Thai), what ``_language_score`` counts, as bytes; None for any other
    codec. One byte, one character: a reading's characters are counted on the bytes read, at C
    speed, instead of by two regex passes over the reading (tests check they agree)."""
    key = (codec, language)
    if key not in _byte_counts:
        decoder = getattr(codecs.lookup(codec).decode, "__self__", None)
        table = getattr(sys.modules.get(type(decoder).__module__), "decoding_table", None)
        if not (isinstance(table, str) and len(table) == 256):
            _byte_counts[key] = None
        else:
            undefined = "\ufffe"  # charmap_decode's mark for a byte the code page leaves undefined
            _byte_counts[key] = _ByteCounts(
                bytes(b for b, ch in enumerate(table) if ch == undefined or ch.isascii() or _IGNORED_RE.match(ch)),
                bytes(b for b, ch in enumerate(table) if ch == undefined or not _COMMON_RE[language].match(ch)),
            )
    return _byte_counts[key]


def _language_score(
    text: str, language: str, dropped: int, min_chars: int, floor: float, raw: bytes | None = None, codec: str = ""
) -> float | None:
    """The share of ``text``'s scored characters that are common in ``language``, less its Latin
    contacts, its impossible characters and dropped bytes; None for too little text to tell, or
    when the score is below ``floor`` (the penalties are counted only for a contender, the exact
    count of Latin contacts only when a bound on it leaves the score at the floor or above).
    ``raw``: the bytes ``text`` was read from with ``codec`` (dropping the undefined ones), which
    a single-byte code page counts faster."""
    counts = _single_byte_counts(codec, language) if raw is not None else None
    if counts is not None:
        scored = len(raw.translate(None, counts.not_scored))
    else:
        scored = len(text) - len(text.encode("ascii", "ignore")) - len(_IGNORED_RE.findall(text))
    if scored < min_chars:
        return None
    if counts is not None:
        hits = len(raw.translate(None, counts.not_common)) - dropped
    else:
        hits = len(_COMMON_RE[language].findall(text)) - dropped
    if hits / scored < floor:
        return None
    hits -= len(_WRONG_RE.findall(text))
    if (hits - 2 * len(_AFTER_LATIN_RE.findall(text))) / scored < floor:
        return None  # (fewer mixed pairs than the exact count: the score is below the floor too)
    score = (hits - 2 * len(_MIXED_RE.findall(text))) / scored
    return score if score >= floor else None


def _decode_tolerant(data: bytes, codec: str, max_invalid: float) -> tuple[str, int] | None:
    """(text, dropped bytes) of ``data`` read as ``codec``: strictly, or dropping a few invalid
    bytes (at most ``max_invalid`` of the high bytes, and never fewer than 2 allowed); None when
    the codec does not fit."""
    try:
        return data.decode(codec), 0
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    allowed = max(2, max_invalid * _high_bytes(data))
    # Each invalid sequence is at least one byte: a codec with more of them than allowed is ruled
    # out as soon as the decode meets one too many (often in the first lines).
    try:
        text, counter = _decode_counting(data, codec, max_errors=allowed)
    except _TooManyErrors:
        return None
    if counter.dropped > allowed:
        return None
    return text, counter.dropped


# Long ASCII stretches (markup, English) say nothing about a code page: the sample a code page is
# scored on keeps their first and last bytes (a Big5 or Shift-JIS trail byte, the Latin letters
# an accented letter sits between) and drops the middle.
# The middle of a stretch of 16 ASCII bytes or more, its first and last 4 bytes around it (in
# lookarounds: a plain replacement, not a template expanded a match at a time).
_ASCII_STRETCH_RE = re.compile(rb"(?<=[\x00-\x7f]{4})[\x00-\x7f]{8,}(?=[\x00-\x7f]{4})")
_SAMPLE_BYTES = 4096


def _sample(data: bytes) -> bytes:
    """At most ``_SAMPLE_BYTES`` of ``data`` rich in high bytes, cut at an ASCII byte."""
    sample = _ASCII_STRETCH_RE.sub(b" ", data)
    if len(sample) <= _SAMPLE_BYTES:
        return sample
    cut = sample.rfind(b" ", 0, _SAMPLE_BYTES)
    return sample[: cut if cut > 0 else _SAMPLE_BYTES]


def detect_legacy(data: bytes, config: DecodeConfig = DecodeConfig()) -> tuple[str, str, int, float] | None:
    """(text, codec, dropped bytes, score) of the non-Latin code page (``config.detect_encodings``)
    whose reading of ``data`` is most plausible, when that is plausible enough; None otherwise
    (then a Latin code page it is). For bytes that are not UTF-8 and declare no charset."""
    if _high_bytes(data) < config.min_detect_chars:
        return None
    sample = _sample(data)
    best: tuple[float, int, str] | None = None
    for rank, enc in enumerate(config.detect_encodings):
        language = _LANGUAGE_OF.get(codec_name(enc) or "")
        if language is None:
            continue
        got = _decode_tolerant(sample, enc, config.max_declared_invalid)
        if got is None:
            continue
        floor = config.min_detect_score if best is None else max(config.min_detect_score, best[0])
        score = _language_score(got[0], language, got[1], config.min_detect_chars, floor, sample, enc)
        if score is not None and (best is None or score > best[0]):
            best = (score, rank, enc)
    if best is None or best[0] < config.min_detect_score:
        return None
    got = _decode_tolerant(data, best[2], config.max_declared_invalid)
    if got is None:  # the rest of the file is not in the code page its sample is in
        return None
    return got[0], codec_name(best[2]) or best[2], got[1], best[0]


def codec_name(label: str | None) -> str | None:
    """Python's codec for a charset label (``ISO-8859-1``, ``windows-1250``, ``gb2312``), or None."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        return codecs.lookup(_LABELS.get(label, label)).name
    except LookupError:
        return None


def _decode_declared(data: bytes, codec: str, config: DecodeConfig) -> tuple[str, str, int] | None:
    """(text, codec used, dropped bytes) of ``data`` in a declared legacy charset or its superset."""
    tries = tuple(dict.fromkeys((*_SUPERSETS.get(codec, ()), codec)))
    for name in tries:
        try:
            return data.decode(name), codecs.lookup(name).name, 0
        except (UnicodeDecodeError, LookupError):
            continue
    if _LANGUAGE_OF.get(tries[0]) not in ("zh", "ja", "ko"):
        return None  # a single-byte code page that cannot read the bytes was declared wrongly
    got = _decode_tolerant(data, tries[0], config.max_declared_invalid)
    return (got[0], codecs.lookup(tries[0]).name, got[1]) if got else None


def decode(data: bytes, config: DecodeConfig = DecodeConfig(), declared: str | None = None) -> Decoded:
    """Bytes to text; never raises for any input.

    ``declared`` is the charset the document claims (an HTML meta tag, an HTTP header). It is
    evidence, not truth: valid UTF-8 wins over any declaration; a declared legacy charset (read
    as its superset) wins over our guess when the bytes decode in it, cleanly or but for a few
    bytes. Which won is recorded in ``repairs``.
    """
    if declared:
        got = _decode_as_declared(data, config, declared)
        if got is not None:
            return got
    repairs: list[str] = []
    data, text, encoding, undecodable = _unicode_by_bom(data, repairs)
    truncated = 0
    plain_utf8 = False
    if text is None:
        text, encoding, undecodable, truncated = _utf8_or_legacy(data, config, encoding, repairs)
        plain_utf8 = encoding in ("utf-8", "utf-8-bom") and not (undecodable or truncated or repairs)
    if undecodable:
        repairs.append(f"{undecodable} undecodable bytes dropped")
    # Plain UTF-8 (``data`` is the text's UTF-8) without the mojibake pair: nothing to repair,
    # which its bytes say faster than its characters.
    if not (plain_utf8 and not MOJIBAKE_UTF8_RE.search(data)):
        text, mojibake = repair_mojibake(text, config.max_mojibake_passes, data, declared)
        repairs.extend(mojibake)
    return Decoded(text, encoding or "utf-8", tuple(repairs), undecodable + truncated)


def _ignored(declared: str, why: str, got: Decoded) -> Decoded:
    return Decoded(
        got.text, got.encoding, (f"declared charset {declared} ignored: {why}",) + got.repairs, got.undecodable_bytes
    )


def _decode_as_declared(data: bytes, config: DecodeConfig, declared: str) -> Decoded | None:
    """The reading a declared charset leads to, or None where the declaration changes nothing
    (our own reading of the bytes follows)."""
    codec = codec_name(declared)
    if codec in ("latin-1", "iso8859-1", "ascii") and declared.strip().lower() not in ("utf-8",):
        codec = "cp1252"  # as browsers do (WHATWG Encoding Standard): these labels mean windows-1252
    if codec == "utf-8":
        if data.isascii():
            return None
        got = decode(data, config)
        return got if got.encoding in ("utf-8", "utf-8-bom") else _ignored(declared, "the bytes are not UTF-8", got)
    if not codec or codec == "ascii" or data.startswith(codecs.BOM_UTF8):
        return None
    not_a_bom = False
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if codec.startswith(("utf-16", "utf-32")) or _utf16_bom_holds(data):
            return None
        not_a_bom = True  # "юя" in cp1251, "ţ˙" in cp1250 ...: text that begins with FE FF
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None if data.isascii() else _ignored(declared, "the bytes are valid UTF-8", decode(data, config))
    got = _decode_declared(data, codec, config)
    if got is None:
        return _ignored(declared, f"the bytes are not {codec}", decode(data, config))
    text, used, dropped = got
    repairs = [f"declared charset {declared} used" + (f" (read as {used}, its superset)" if used != codec else "")]
    if not_a_bom:
        lead = data[:2].hex(" ")
        repairs.append(f"leading bytes {lead} read as {declared}, not as a UTF-16 BOM: no UTF-16 follows")
    if dropped:
        repairs.append(f"{dropped} undecodable bytes dropped")
    text, mojibake = repair_mojibake(text, config.max_mojibake_passes, data, declared)
    return Decoded(text, used, tuple(repairs + mojibake), dropped)


# Control characters no text holds (C0 but tab, LF, CR; DEL): a byte among them is not text in
# any legacy code page (their multi-byte sequences use bytes from 0x40 on).
_NOT_TEXT_BYTE = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _utf16_bom_holds(data: bytes) -> bool:
    """Whether the UTF-16 BOM ``data`` starts with is one: the rest holds a NUL byte (UTF-16 of any
    character below U+0100, a digit, a space, a new line, has one; the text of a legacy code page
    never does), damaged or not; or, without one, a byte that no text in a code page holds.
    Else it is text that begins with those two bytes."""
    rest = data[2:]
    return b"\x00" in rest or _NOT_TEXT_BYTE.search(rest) is not None


def _unicode_by_bom(data: bytes, repairs: list[str]) -> tuple[bytes, str | None, str | None, int]:
    """A byte-order mark, or UTF-16 recognised by its NUL bytes: (data without a UTF-8 BOM,
    text or None, encoding or None, bytes dropped)."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8":
                return data[len(bom) :], None, name, 0
            text, counter = _decode_counting(data[len(bom) :], codec)
            return data, text, name, counter.dropped
    utf16 = _sniff_utf16(data)
    if utf16:
        text, counter = _decode_counting(data, utf16)
        encoding = utf16.replace("-le", "le").replace("-be", "be")
        repairs.append(f"no BOM: {encoding} recognised by its NUL bytes")
        return data, text, encoding, counter.dropped
    return data, None, None, 0


def _utf8_or_legacy(
    data: bytes, config: DecodeConfig, encoding: str | None, repairs: list[str]
) -> tuple[str, str | None, int, int]:
    """UTF-8 (whole, truncated, or with a few stray bytes), else a detected or guessed legacy
    code page: (text, encoding, bytes dropped, trailing bytes of a cut sequence)."""
    try:
        return data.decode("utf-8"), encoding or "utf-8", 0, 0  # the fast path
    except UnicodeDecodeError as exc:
        text = _truncated_utf8(data, exc)
        if text is not None:
            truncated = len(data) - exc.start
            repairs.append(f"file ends inside a UTF-8 sequence (truncated?): {truncated} trailing bytes dropped")
            return text, encoding or "utf-8", 0, truncated
    # A non-Latin code page whose reading is plausible comes first: a Shift-JIS or GBK text
    # holds valid UTF-8 sequences by chance (``は`` ``は`` is 82 CD 82 CD, and CD 82 is UTF-8),
    # while UTF-8 with a stray byte read so scores at most 0.
    detected = detect_legacy(data, config)
    valid = len(_UTF8_MULTIBYTE_RE.findall(data)) if detected is None else 0
    # Without a single valid multi-byte sequence the file is not UTF-8 whatever the count of
    # invalid bytes: skip counting them (one Python call each).
    text, counter = _decode_counting(data, "utf-8", "cp1252") if valid else (None, None)
    if counter is not None and valid >= max(1, counter.substituted + counter.dropped):
        if counter.substituted:
            repairs.append(f"{counter.substituted} invalid UTF-8 bytes read as cp1252")
        return text, encoding or "utf-8", counter.dropped, 0
    if detected is not None:
        text, found, undecodable, score = detected
        repairs.append(
            f"no charset declared, not UTF-8: {found} detected "
            f"({score:.0%} of its letters are common {_LANGUAGE_OF[found]} ones)"
        )
        return text, found, undecodable, 0
    text, found, undecodable = _decode_legacy(data, config)
    return text, found, undecodable, 0
