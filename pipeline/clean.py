"""Clean: normalize decoded text without damaging meaning.

In:  text (the body of a parsed document), a ``CleanConfig``; for boilerplate, the language.
Out: text that is NFC, has one kind of line ending, no control or invisible characters, single
     spaces, paragraphs separated by exactly one blank line (``separate_paragraphs`` gives that
     line to texts written one paragraph a line), and no boilerplate lines.

The whitespace rule (one rule, for every language): a run of horizontal white space becomes one
character. If the run holds a typographic space (no-break U+00A0, narrow no-break U+202F, thin
U+2009, figure U+2007, ideographic U+3000), the first such character is kept, because French and
other typographies put them before « : ; ! ? » and inside guillemets on purpose; otherwise the run
becomes one ASCII space. Other typographic characters (« » ’ “ ” – — …) are never replaced:
straightening quotes or dashes changes what a quote-extractor or a reader sees.

Removed: C0/C1 controls except newline (tab becomes a space), zero-width space U+200B, word
joiner U+2060, BOM U+FEFF inside text, soft hyphen U+00AD. Kept: zero-width joiner and non-joiner
(U+200C/U+200D carry meaning in Persian, Indic scripts and emoji) and bidi marks.

Boilerplate: whole lines matching the ``CleanConfig.boilerplate`` patterns of the document's
language and of "*" (share/comment/ad/cookie lines, the ``Réagissez`` of the reference header).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from typing import NamedTuple

from .config import CleanConfig

_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85\x0b\x0c]")

_REMOVE = {c: None for c in list(range(0, 9)) + list(range(11, 32)) + [0x7F] + list(range(0x80, 0xA0))}
_REMOVE.update({0x200B: None, 0x2060: None, 0xFEFF: None, 0x00AD: None, 0x180E: None, 0x09: " "})
_REMOVE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\u00ad\u180e\t]")
_REMOVE_LATIN1 = bytes(c for c in range(256) if _REMOVE_RE.match(chr(c)))  # the same, as Latin-1 bytes

TYPOGRAPHIC_SPACES = "\u00a0\u202f\u2009\u2007\u3000"
_HSPACE = " \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_WS_RUN = re.compile(f"[{_HSPACE}]{{2,}}|[\u1680\u2000-\u2006\u2008\u200a\u205f]")
_HSPACE_CHARS = " \t\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u202f\u205f\u3000"
_BLANKS = re.compile(r"\n{3,}")
_ODD_NEWLINES = "\r\u2028\u2029\x85\x0b\x0c"


def _removed(m: re.Match[str]) -> str:
    return _REMOVE[ord(m.group(0))] or ""


def _collapse(m: re.Match[str]) -> str:
    run = m.group(0)
    for ch in run:
        if ch in TYPOGRAPHIC_SPACES:
            return ch
    return " "


# What _WS_RUN matches, found faster. Its runs that hold a non-ASCII space start (but for ASCII
# spaces before it) at a non-ASCII space that is followed by another space, or preceded by an
# ASCII one, or is odd on its own: one character class first, so that the regex engine skips to
# non-ASCII spaces at C speed instead of trying a class at every ASCII space. What is left, runs
# of ASCII spaces only, str.replace halves.
_ODD_SPACES = "\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u200a\u205f"
_NB_SPACES = _HSPACE.replace(" \t", "")
_NB_RUN = re.compile(f"[{_NB_SPACES}](?:[{_HSPACE}]+|(?<= .)|(?<=[{_ODD_SPACES}]))")
# The same in Latin-1 text, whose only non-ASCII space is U+00A0 (and no odd one): a literal first,
# found at C speed.
_NB_RUN_LATIN1 = re.compile("\u00a0(?:[ \t\u00a0]+|(?<= .))")


def _collapse_spaces(text: str, latin1: bool = False) -> str:
    """``_WS_RUN.sub(_collapse, text)``: each run of horizontal white space as one character.
    ``latin1``: the text is known to hold Latin-1 characters only."""
    if "\t" in text:  # normalize has made tabs spaces before: the definition itself
        return _WS_RUN.sub(_collapse, text)
    if not text.isascii():
        parts: list[str] = []
        pos = 0
        for m in (_NB_RUN_LATIN1 if latin1 else _NB_RUN).finditer(text):
            start, end = m.span()
            while start > pos and text[start - 1] == " ":
                start -= 1
            run = text[start:end]
            parts += (text[pos:start], next((ch for ch in run if ch in TYPOGRAPHIC_SPACES), " "))
            pos = end
        if parts:
            parts.append(text[pos:])
            text = "".join(parts)
    while "  " in text:  # runs of ASCII spaces: halved at C speed
        text = text.replace("  ", " ")
    return text


def unescape_entities(text: str) -> str:
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def normalize(text: str, config: CleanConfig = CleanConfig()) -> str:
    """Entities, line endings, NFC, controls, spaces, blank lines. Idempotent."""
    if config.unescape_entities:
        text = unescape_entities(text)
    # Literal checks (C speed) before any regex pass: Python's re walks a character class
    # position by position, which costs more than the rest of normalize on a long article.
    if any(ch in text for ch in _ODD_NEWLINES):
        text = _NEWLINES.sub("\n", text)
    try:  # Latin-1 text (most of it): NFC as it is (tests/test_clean.py), controls found by bytes
        removable = len(text.encode("latin-1").translate(None, _REMOVE_LATIN1)) != len(text)
        latin1 = True
    except UnicodeEncodeError:
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        removable = _REMOVE_RE.search(text) is not None
        latin1 = False
    if removable:  # rare: a regex pass beats str.translate's per-character lookups
        text = _REMOVE_RE.sub(_removed, text)
    text = _collapse_spaces(text, latin1)
    text = "\n".join(line.strip(_HSPACE_CHARS) for line in text.split("\n"))
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip("\n")


class _Boilerplate(NamedTuple):
    lines: re.Pattern[str]  # a whole boilerplate line, at a line start (multi-line ^)
    # The same after a newline: a literal first, which the regex engine finds at C speed, where
    # ``lines`` tries its ^ at every position. Nothing found by it nor by ``lines`` at the start
    # of the text: ``lines`` finds nothing either.
    after_newline: re.Pattern[str]


_compiled: dict[tuple[int, str], _Boilerplate | None] = {}


def _boilerplate_re(patterns: Mapping[str, tuple[str, ...]], language: str | None) -> _Boilerplate | None:
    key = (id(patterns), language or "")
    if key not in _compiled:
        chosen = list(patterns.get("*", ())) + (list(patterns.get(language, ())) if language else [])
        line = "(?:" + "|".join(f"(?:{p})" for p in chosen) + r")(?:[^\S\n]|[.!:…])*(?:\n|\Z)"
        _compiled[key] = (
            _Boilerplate(re.compile("^" + line, re.I | re.M), re.compile("\n" + line, re.I | re.M)) if chosen else None
        )
    return _compiled[key]


def remove_boilerplate(text: str, language: str | None, config: CleanConfig = CleanConfig()) -> tuple[str, int]:
    """Drop whole boilerplate lines; (text, lines removed)."""
    pattern = _boilerplate_re(config.boilerplate, language)
    if pattern is None or not (pattern.lines.match(text) or pattern.after_newline.search(text)):
        return text, 0
    new, count = pattern.lines.subn("", text)
    if not count:
        return text, 0
    if "\n\n\n" in new:
        new = _BLANKS.sub("\n\n", new)
    new = new.strip("\n")
    return new, count


_SENTENCE_FINAL = tuple(".!?…:;»\"”“’')]")
# A line longer than this was not hard-wrapped by a typewriter-era tool (72 to 80 columns).
HARD_WRAP_MAX = 100


def lines_are_paragraphs(text: str) -> bool:
    """Whether a block of normalized text with no blank line writes one paragraph a line (some line
    is longer than a hard wrap, and most lines end a sentence or a quarter are that long), as
    opposed to prose hard-wrapped at a fixed width (Reuters, e-mail), whose lines end mid-sentence."""
    if "\n" not in text or "\n\n" in text:
        return False
    lines = text.split("\n")
    if max(map(len, lines)) <= HARD_WRAP_MAX:
        return False
    ended = sum(1 for line in lines[:-1] if line.endswith(_SENTENCE_FINAL))
    long = sum(1 for line in lines if len(line) > HARD_WRAP_MAX)
    # Paragraphs a line: most lines end a sentence, or many are longer than any hard wrap (lists
    # and sub-headings between them end without a full stop).
    return ended >= 0.5 * (len(lines) - 1) or long >= 0.25 * len(lines)


def separate_paragraphs(text: str) -> str:
    """Each block of a normalized text (between blank lines) whose paragraphs are one a line gets
    the blank line between them that the output promises (a title, then a blank line, then one
    paragraph a line is the usual shape); any other block is kept as it is. Idempotent."""
    if "\n" not in text:
        return text
    blocks = text.split("\n\n")
    changed = [b.replace("\n", "\n\n") if lines_are_paragraphs(b) else b for b in blocks]
    return "\n\n".join(changed) if changed != blocks else text


def clean(text: str, language: str | None = None, config: CleanConfig = CleanConfig()) -> str:
    """normalize + remove_boilerplate, for callers that know the language already."""
    return remove_boilerplate(normalize(text, config), language, config)[0]
