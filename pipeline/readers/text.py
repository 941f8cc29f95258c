"""Parse: tell what a decoded document is, and split its header from its body.

In:  decoded text (and the first bytes, for binary signatures), a ``DateConfig`` (a header date
     line is recognised by parsing it).
Out: a ``Parsed`` (format, typed header fields, body text) or a ``Rejected`` (why the document is
     not a plain-text article: empty, binary, HTML, JSON, SGML ...), bound for quarantine.

Header dialects recognised at the top of a plain-text article:
- a pseudo-XML tag: ``<ARTICLE url=".." date="..">``, ``<doc url=https://...\\n>``,
  ``<doc title=".." source="..">``; its attributes become metadata, never text, and a closing
  ``</ARTICLE>``/``</doc>`` is dropped;
- header lines: ``date 2016-12`` (a ``date`` line needs a readable date after the key, so a
  sentence starting "Date night ..." stays text), ``Date: Wed, 07 Dec 2016 10:30:00 +0100``,
  ``Title: ...``, ``URL: ...``, ``Source: ...``, ``Author: ...``, ``Language: ...``.
  Words after a header date (the ``Réagissez`` glued to the reference header) go back to the
  body as their own line, where ``clean`` decides whether they are boilerplate.

Not here: datelines inside the body and titles (``metadata``), whitespace (``clean``).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

from ..config import DateConfig
from ..dates import parse_date


@dataclass(frozen=True, slots=True)
class Header:
    """Metadata a document states about itself (header lines, attributes, meta tags, fields)."""

    date: str | None = None
    title: str | None = None
    url: str | None = None
    source_name: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    description: str | None = None
    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    # Fields the reader does not map (JSON keys, SGML attributes): kept, JSON-encoded, never dropped.
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Parsed:
    format: str  # text | html | json | sgml
    header: Header
    body: str
    header_kind: str | None  # pseudo-xml | lines | meta | fields | None
    position: int | None = None  # 1-based position inside a multi-document container
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    format: str
    reason: str
    position: int | None = None


_BINARY_MAGIC = (
    (b"%PDF", "PDF document"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"\x7fELF", "executable (ELF)"),
    (b"\xd0\xcf\x11\xe0", "Office document (OLE)"),
    (b"PK\x03\x04", "zip-based document"),
    (b"\x00asm", "WebAssembly binary"),
    (b"SQLite format 3", "SQLite database"),
    (b"PAR1", "Parquet file"),
)

_PSEUDO_XML = re.compile(r"\A\s*<(?P<tag>ARTICLE|doc|DOC|article)\b(?P<attrs>[^>]*)>[ \t]*\n?", re.S)
_ATTR = re.compile(r"""(?P<k>[\w:-]+)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))""")
_CLOSE = re.compile(r"\s*</(?:ARTICLE|doc|DOC|article)>\s*\Z")
_HEADER_LINE = re.compile(
    r"^[ \t]*(?P<key>date|dateline|published|title|titre|url|link|source|author|auteur|by|language|lang)"
    r"(?P<colon>[ \t]*[:=])?[ \t]*(?P<value>.*)$",
    re.I,
)
_KEYS = {
    "date": "date", "dateline": "date", "published": "date", "title": "title", "titre": "title",
    "url": "url", "link": "url", "source": "source_name", "author": "authors", "auteur": "authors",
    "by": "authors", "language": "language", "lang": "language",
}


_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f]")


def sniff(head: bytes, text: str) -> Rejected | None:
    """Reject what is no document at all (empty, binary); None when a reader should try it."""
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return Rejected("binary", f"binary file ({what}), not an article")
    if not text.strip():
        return Rejected("empty", "empty file (no text after decoding)")
    sample = text[:4096]
    controls = len(_CONTROLS.findall(sample))
    if controls > max(2, len(sample) // 50):
        return Rejected("binary", f"binary file ({controls} control characters in the first {len(sample)}), not an article")
    if sample.lstrip()[:5].lower() == "<?xml" and "<rss" not in sample.lower():
        return Rejected("xml", "XML document: not an article format news-etl reads")
    return None


def _attrs(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        value = m.group("dq") if m.group("dq") is not None else m.group("sq") if m.group("sq") is not None else m.group("bare")
        out[m.group("k").lower()] = html.unescape(value).strip()
    return out


def parse(text: str, dates: DateConfig = DateConfig()) -> Parsed:
    """Split a plain-text article into header fields and body."""
    fields: dict[str, str] = {}
    m = _PSEUDO_XML.match(text)
    if m:
        attrs = _attrs(m.group("attrs"))
        extra = []
        for key, value in attrs.items():
            name = _KEYS.get(key)
            if name and value and name not in fields:
                fields[name] = (value,) if name == "authors" else value
            elif not name:
                extra.append((key, json.dumps(value, ensure_ascii=False)))
        body = _CLOSE.sub("", text[m.end():])
        return Parsed("text", Header(**fields, extra=tuple(extra)), body, "pseudo-xml")

    lines = text.split("\n")
    i = 0
    consumed = False
    leftovers: list[str] = []
    while i < len(lines) and i < 12:
        line = lines[i]
        if not line.strip():
            if consumed:  # a blank line ends a header block
                i += 1
                break
            i += 1
            continue
        hm = _HEADER_LINE.match(line)
        if not hm:
            break
        key = _KEYS[hm.group("key").lower()]
        value = hm.group("value").strip()
        if key == "date":
            parsed = parse_date(value, dates)
            if parsed is None and re.match(r"\d", value):
                # A date key followed by digits is a header even when its date cannot be read
                # ("date 2016-13-45"): keep the raw value so that dates.resolve says so in warnings.
                raw = value.split()[0]
                fields.setdefault("date", raw)
                rest = value[len(raw):].strip(" \t|-–—,;")
                if rest:
                    leftovers.append(rest)
                consumed = True
                i += 1
                continue
            if parsed is None or not (hm.group("colon") or parsed.precision != "year"):
                break
            fields.setdefault("date", value[: parsed.end].strip())
            rest = value[parsed.end:].strip(" \t|-–—,;")
            if rest:
                leftovers.append(rest)
        elif hm.group("colon") and value:
            fields.setdefault(key, tuple(a.strip() for a in re.split(r",| and | et ", value) if a.strip()) if key == "authors" else value)
        else:
            break
        consumed = True
        i += 1
    if not consumed:
        return Parsed("text", Header(), text, None)
    body = "\n".join(leftovers + [""] + lines[i:]) if leftovers else "\n".join(lines[i:])
    return Parsed("text", Header(**fields), body, "lines")
