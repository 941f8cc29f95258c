"""Plain text: split a plain-text article's header from its body.

In:  decoded text, a ``DateConfig`` (a header date line is recognised by parsing it).
Out: a ``Parsed`` (format ``text``): typed header fields (the header date parsed once, here) and
     the body text.

Header dialects recognised at the top of a plain-text article:
- a pseudo-XML tag: ``<ARTICLE url=".." date="..">``, ``<doc url=https://...\\n>``,
  ``<doc title=".." source="..">``; its attributes become metadata, never text, and a closing
  ``</ARTICLE>``/``</doc>`` is dropped;
- header lines: ``date 2016-12`` (a ``date`` line needs a readable date after the key, so a
  sentence starting "Date night ..." stays text), ``Date: Wed, 07 Dec 2016 10:30:00 +0100``,
  ``Title: ...``, ``URL: ...``, ``Source: ...``, ``Author: ...``, ``Language: ...``.
  Words after a header date (the ``Réagissez`` glued to the reference header) go back to the
  body as their own line, where ``clean`` decides whether they are boilerplate.

Not here: what a file is (``readers.dispatch``), datelines inside the body and titles
(``metadata``), whitespace (``clean``).
"""

from __future__ import annotations

import html
import json
import re

from ..config import DateConfig
from ..dates import parse_date
from .base import Header, Parsed, read_date

_PSEUDO_XML = re.compile(r"\A\s*<(?P<tag>ARTICLE|doc|DOC|article)\b(?P<attrs>[^>]*)>[ \t]*\n?", re.S)
_ATTR = re.compile(r"""(?P<k>[\w:-]+)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))""")
_CLOSE = re.compile(r"\s*</(?:ARTICLE|doc|DOC|article)>\s*\Z")  # what _without_close removes
_CLOSE_TAGS = ("</ARTICLE>", "</doc>", "</DOC>", "</article>")


def _without_close(body: str) -> str:
    """``_CLOSE.sub("", body)``: a closing tag at the end, with the white space around it, gone
    (str methods: the regex tries its leading ``\\s*`` at every position of the body)."""
    stripped = body.rstrip()  # what \s* matches: str.isspace() characters
    for tag in _CLOSE_TAGS:
        if stripped.endswith(tag):
            return stripped[: -len(tag)].rstrip()
    return body


_HEADER_LINE = re.compile(
    r"^[ \t]*(?P<key>date|dateline|published|title|titre|url|link|source|author|auteur|by|language|lang)"
    r"(?P<colon>[ \t]*[:=])?[ \t]*(?P<value>.*)$",
    re.I,
)
_KEYS = {
    "date": "date",
    "dateline": "date",
    "published": "date",
    "title": "title",
    "titre": "title",
    "url": "url",
    "link": "url",
    "source": "source_name",
    "author": "authors",
    "auteur": "authors",
    "by": "authors",
    "language": "language",
    "lang": "language",
}


def _attrs(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        value = (
            m.group("dq")
            if m.group("dq") is not None
            else m.group("sq")
            if m.group("sq") is not None
            else m.group("bare")
        )
        out[m.group("k").lower()] = html.unescape(value).strip()
    return out


def parse(text: str, dates: DateConfig = DateConfig()) -> Parsed:
    """Split a plain-text article into header fields and body."""
    fields: dict = {}
    m = _PSEUDO_XML.match(text)
    if m:
        attrs = _attrs(m.group("attrs"))
        extra = []
        for key, value in attrs.items():
            name = _KEYS.get(key)
            if name == "date" and value and "date_text" not in fields:
                fields.update(read_date(value, dates))
            elif name and value and name not in fields:
                fields[name] = (value,) if name == "authors" else value
            elif not name:
                extra.append((key, json.dumps(value, ensure_ascii=False)))
        body = _without_close(text[m.end() :])
        return Parsed("text", Header(**fields, extra=tuple(extra)), body)

    lines = text.split("\n", 12)  # a header is in the first 12 lines; the rest stays one piece
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
                if "date_text" not in fields:
                    fields.update(date=None, date_text=raw)
                rest = value[len(raw) :].strip(" \t|-–—,;")
                if rest:
                    leftovers.append(rest)
                consumed = True
                i += 1
                continue
            if parsed is None or not (hm.group("colon") or parsed.precision != "year"):
                break
            if "date_text" not in fields:
                fields.update(date=parsed, date_text=value[: parsed.end].strip())
            rest = value[parsed.end :].strip(" \t|-–—,;")
            if rest:
                leftovers.append(rest)
        elif hm.group("colon") and value:
            fields.setdefault(
                key,
                tuple(a.strip() for a in re.split(r",| and | et ", value) if a.strip()) if key == "authors" else value,
            )
        else:
            break
        consumed = True
        i += 1
    if not consumed:
        return Parsed("text", Header(), text)
    body = "\n".join(leftovers + [""] + lines[i:]) if leftovers else "\n".join(lines[i:])
    return Parsed("text", Header(**fields), body)
