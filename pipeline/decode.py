"""Decode: bytes to text, with every repair recorded.

In:  the bytes of one document, a ``DecodeConfig``.
Out: a ``Decoded`` (text, the encoding that won, the repairs made, undecodable bytes counted).

Order of work, cheapest first (most files stop at step 3):
1. a BOM (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) decides;
2. BOM-less UTF-16 is recognised by its NUL bytes;
3. strict UTF-8 (the fast path);
4. not UTF-8: if the file holds valid UTF-8 sequences too, it is UTF-8 with stray legacy bytes
   (each read as cp1252 and counted); otherwise a legacy code page is chosen by scoring each
   candidate's reading for implausible characters;
5. mojibake (UTF-8 that was read as cp1252/latin-1, even twice) is repaired only where its
   signature appears, sequence by sequence, so a legitimate ``São`` or ``Ãngela`` stays (a
   wholly mis-read text is re-read in one codec call, with the same result).

Undecodable bytes (bytes a code page leaves undefined, broken UTF-16) are never silently lost:
they are dropped from the text, counted in ``undecodable_bytes`` and named in ``repairs``.

Not here: Unicode normalization, control characters, whitespace (``clean``).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

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
_CONT = "\u0080-\u00bf" + re.escape("".join(ch for ch, b in _CHAR_TO_BYTE.items() if 0x80 <= b <= 0xBF and ord(ch) > 0xFF))
MOJIBAKE_RE = re.compile(f"[\u00c2-\u00f4][{_CONT}]")


def _chars_of(lo: int, hi: int) -> str:
    """A character class body: every character whose byte (``_CHAR_TO_BYTE``) is in lo..hi."""
    return "".join(re.escape(ch) for ch, b in sorted(_CHAR_TO_BYTE.items()) if lo <= b <= hi)


# A lead byte's reading followed by one to three continuation bytes' readings: where every
# sequence ``repair_mojibake`` re-reads starts (lead and continuation bytes are disjoint, so a
# lead is never inside another sequence). One character class first: the regex engine skips
# to candidates at C speed.
_CANDIDATE_RE = re.compile(f"[{_chars_of(0xC2, 0xF4)}][{_chars_of(0x80, 0xBF)}]{{1,3}}")

_UTF8_MULTIBYTE_RE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")

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


class _Counter:
    """A codec error handler that counts what it had to drop or substitute."""

    def __init__(self, mode: str):
        self.mode = mode
        self.dropped = 0
        self.substituted = 0

    def __call__(self, exc: UnicodeDecodeError):
        bad = exc.object[exc.start:exc.end]
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


def _decode_counting(data: bytes, encoding: str, mode: str = "drop") -> tuple[str, _Counter]:
    global _handler_counter
    counter = _Counter(mode)
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
            sample = "\x00".join(text[max(0, i - 1):i + 2] for i in spots[:2000])
            score = _legacy_score(sample) + dropped
        else:
            score = _legacy_score(text) + dropped
        if best is None or (score, rank) < (best[0], best[1]):
            best = (score, rank, text, enc, dropped)
    if best is None:  # no candidate at all: latin-1 is total
        return data.decode("latin-1"), "latin-1", 0
    return best[2], best[3], best[4]


_HIGH_BYTES = bytes(range(0x80, 0x100))


def _reread_sequences(text: str) -> tuple[str, int]:
    """Each well-formed UTF-8 sequence read as cp1252/latin-1 read again as UTF-8; (text,
    sequences re-read). Everything else (a legitimate ``é``, an overlong form) stays as it is."""
    total = 0

    def fix(m: re.Match[str]) -> str:
        nonlocal total
        chars = m.group(0)
        lead = _CHAR_TO_BYTE[chars[0]]
        need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if len(chars) < need:
            return chars
        try:
            seq = bytes(_CHAR_TO_BYTE[ch] for ch in chars[:need]).decode("utf-8")
        except UnicodeDecodeError:  # overlong, surrogate or beyond U+10FFFF: not UTF-8
            return chars
        total += 1
        return seq + chars[need:]

    return _CANDIDATE_RE.sub(fix, text), total


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


def repair_mojibake(text: str, max_passes: int = 3) -> tuple[str, list[str]]:
    """Undo UTF-8-read-as-cp1252/latin-1 where its signature appears; (text, repairs)."""
    repairs: list[str] = []
    for n in range(1, max_passes + 1):
        if text.isascii() or not MOJIBAKE_RE.search(text):
            break
        new, total = _reread_whole(text) or _reread_sequences(text)
        if total == 0:
            break
        repairs.append(f"mojibake: {total} UTF-8 sequences read as cp1252/latin-1 re-read (pass {n})")
        text = new
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


def codec_name(label: str | None) -> str | None:
    """Python's codec for a charset label (``ISO-8859-1``, ``windows-1250``, ``gb2312``), or None."""
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip("\"'").lower()).name
    except LookupError:
        return None


def decode(data: bytes, config: DecodeConfig = DecodeConfig(), declared: str | None = None) -> Decoded:
    """Bytes to text; never raises for any input.

    ``declared`` is the charset the document claims (an HTML meta tag, an HTTP header). It is
    evidence, not truth: valid UTF-8 wins over any declaration; a declared legacy charset wins
    over our guess when the bytes decode cleanly in it. Which won is recorded in ``repairs``.
    """
    codec = codec_name(declared)
    if codec in ("latin-1", "iso8859-1", "ascii") and declared and declared.strip().lower() not in ("utf-8",):
        codec = "cp1252"  # as browsers do (WHATWG Encoding Standard): these labels mean windows-1252
    if codec and codec not in ("utf-8", "ascii") and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode(codec)
            except (UnicodeDecodeError, LookupError):
                pass
            else:
                text, mojibake = repair_mojibake(text, config.max_mojibake_passes)
                return Decoded(text, codec, (f"declared charset {declared} used",) + tuple(mojibake), 0)
        else:
            if not data.isascii():
                got = decode(data, config)
                return Decoded(got.text, got.encoding, (f"declared charset {declared} ignored: the bytes are valid UTF-8",) + got.repairs,
                               got.undecodable_bytes)
    elif codec == "utf-8" and not data.isascii():
        got = decode(data, config)
        if got.encoding not in ("utf-8", "utf-8-bom"):
            return Decoded(got.text, got.encoding, (f"declared charset {declared} ignored: the bytes are not UTF-8",) + got.repairs,
                           got.undecodable_bytes)
        return got
    repairs: list[str] = []
    undecodable = 0
    truncated = 0
    encoding: str | None = None
    text: str | None = None

    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8":
                data = data[len(bom):]
                encoding = name
            else:
                text, counter = _decode_counting(data[len(bom):], codec)
                encoding = name
                undecodable = counter.dropped
            break

    if text is None and encoding is None:
        utf16 = _sniff_utf16(data)
        if utf16:
            text, counter = _decode_counting(data, utf16)
            encoding = utf16.replace("-le", "le").replace("-be", "be")
            undecodable = counter.dropped
            repairs.append(f"no BOM: {encoding} recognised by its NUL bytes")

    if text is None:
        try:
            text = data.decode("utf-8")  # the fast path
            encoding = encoding or "utf-8"
        except UnicodeDecodeError as exc:
            text = _truncated_utf8(data, exc)
            if text is not None:
                encoding = encoding or "utf-8"
                truncated = len(data) - exc.start
                repairs.append(f"file ends inside a UTF-8 sequence (truncated?): {truncated} trailing bytes dropped")
        if text is None:
            valid = len(_UTF8_MULTIBYTE_RE.findall(data))
            # Without a single valid multi-byte sequence the file is not UTF-8 whatever the
            # count of invalid bytes: skip counting them (one Python call each).
            text, counter = _decode_counting(data, "utf-8", "cp1252") if valid else (None, None)
            if counter is not None and valid >= max(1, counter.substituted + counter.dropped):
                encoding = encoding or "utf-8"
                undecodable = counter.dropped
                if counter.substituted:
                    repairs.append(f"{counter.substituted} invalid UTF-8 bytes read as cp1252")
            else:
                text, encoding, undecodable = _decode_legacy(data, config)

    if undecodable:
        repairs.append(f"{undecodable} undecodable bytes dropped")
    text, mojibake = repair_mojibake(text, config.max_mojibake_passes)
    repairs.extend(mojibake)
    return Decoded(text, encoding or "utf-8", tuple(repairs), undecodable + truncated)
