"""SGML newswire containers (Reuters-21578): one file, many articles.

In:  the decoded text of a container (``<REUTERS ...> ... </REUTERS>`` documents).
Out: one ``Parsed`` per document (its position in the file, 1-based), or a ``Rejected`` for a
     document cut short (no closing tag: a truncated file) or with no body.

Fields: ``<DATE>`` (``26-FEB-1987 15:01:01.79``, read to the second), ``<TITLE>``, ``<BODY>``,
``<DATELINE>``, ``<TOPICS>``/``<PLACES>``/``<PEOPLE>``/``<ORGS>``/``<EXCHANGES>`` (``<D>`` lists),
and the ``<REUTERS>`` attributes (``NEWID``, ``LEWISSPLIT`` ...) kept as extra fields. Entities
(``&lt;``, the ``&#3;`` end-of-text marks) are resolved; control characters never reach ``text``.
The hard-wrapped newswire lines are joined back into paragraphs, and the closing ``Reuter``
sign-off is dropped (the source is recorded as ``Reuters``).
"""

from __future__ import annotations

import html
import json
import re

from ..config import DateConfig
from .base import Header, Parsed, Rejected, read_date

_DOC = re.compile(r"<REUTERS\b(?P<attrs>[^>]*)>(?P<body>.*?)(?:</REUTERS>|(?=<REUTERS\b)|\Z)", re.S | re.I)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_SIGNOFF = re.compile(r"\s*\b(?:Reuter|REUTER)\s*$")
_PARA_BREAK = re.compile(r"\n(?=[ \t]+\S)|\n[ \t]*\n")


def _field(doc: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", doc, re.S | re.I)
    return m.group(1) if m else None


def _list(doc: str, tag: str) -> tuple[str, ...]:
    inner = _field(doc, tag)
    return tuple(html.unescape(d).strip() for d in re.findall(r"<D>(.*?)</D>", inner or "", re.S)) if inner else ()


def _text(raw: str | None) -> str:
    if not raw:
        return ""
    text = html.unescape(raw)
    paragraphs = [" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in _PARA_BREAK.split(text)]
    body = "\n\n".join(p for p in paragraphs if p)
    return _SIGNOFF.sub("", body).strip()


def is_container(text: str) -> bool:
    if text.find("<", 0, 2048) < 0:  # no tag at all in the head (no case mapping makes a "<")
        return False
    head = text[:2048].lower()
    return "<reuters" in head or head.lstrip().startswith("<!doctype lewis")


def read(text: str, dates: DateConfig = DateConfig()) -> list[Parsed | Rejected]:
    out: list[Parsed | Rejected] = []
    for position, m in enumerate(_DOC.finditer(text), start=1):
        doc = m.group("body")
        closed = m.group(0).rstrip().upper().endswith("</REUTERS>")
        if not closed:
            out.append(Rejected("sgml", "document cut short: no closing </REUTERS> (truncated container?)", position))
            continue
        attrs = dict(_ATTR.findall(m.group("attrs")))
        title = _field(doc, "TITLE")
        date = _field(doc, "DATE")
        text_type = (re.search(r'<TEXT\b[^>]*TYPE="(\w+)"', doc) or [None, "NORM"])[1].upper()
        raw_body = _field(doc, "BODY")
        if raw_body is None and text_type == "UNPROC":
            # Unprocessed items: the story sits directly in <TEXT>, without <TITLE>/<BODY> tags.
            raw_body = re.sub(r"<[^>]+>", "", _field(doc, "TEXT") or "")
        body = _text(raw_body)
        if text_type == "BRIEF" or body.lower().strip(". ") == "blah blah blah":
            out.append(
                Rejected(
                    "sgml", "headline-only brief: the collection's body is the placeholder 'Blah blah blah.'", position
                )
            )
            continue
        if not body:
            out.append(Rejected("sgml", "no <BODY> text", position))
            continue
        dateline = _field(doc, "DATELINE")
        extra = [(k.lower(), json.dumps(v)) for k, v in attrs.items()]
        for tag in ("PEOPLE", "ORGS", "EXCHANGES", "COMPANIES"):
            values = _list(doc, tag)
            if values:
                extra.append((tag.lower(), json.dumps(list(values))))
        if dateline:
            extra.append(("dateline", json.dumps(html.unescape(dateline).strip(" -\n"))))
        header = Header(
            **read_date(date.strip() if date else None, dates),
            title=" ".join(html.unescape(title).split()) if title else None,
            source_name="Reuters",
            topics=_list(doc, "TOPICS"),
            places=_list(doc, "PLACES"),
            extra=tuple(extra),
        )
        out.append(Parsed("sgml", header, body, position))
    if not out:
        out.append(Rejected("sgml", "SGML container without any <REUTERS> document"))
    return out
