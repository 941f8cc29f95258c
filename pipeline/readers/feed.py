"""RSS and Atom feeds: one article per ``<item>`` or ``<entry>``.

In:  the decoded text of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, a ``DateConfig``.
Out: one ``Parsed`` (format ``feed``) per item, 1-based position in the feed (``source_uri`` =
     file ``#position``, as for SGML and JSONL), or a ``Rejected`` for an item that is not
     well-formed XML, is cut short (a truncated feed) or has no text; a feed without any item is
     one rejection. A broken item costs only itself.

Fields (first present wins): title ``title``; URL ``link`` (RSS: its text; Atom: the ``href`` of
the ``alternate`` link); date ``pubDate``/``published``/``dc:date``/``updated`` (parsed once, here,
with its precision and offset); text ``content:encoded``/``content``, else
``description``/``summary``, with its HTML reduced to text; description ``description``/
``summary`` when the text came from the full content; authors ``dc:creator``/``author`` (Atom:
``author/name``; RSS ``jo@example.com (Jo Smith)`` gives ``Jo Smith``); topics ``category`` (Atom:
its ``term``) and ``dc:subject``; source name the channel's or feed's ``title``. The item's
``guid``/``id`` is kept in ``extra``. A feed's declared language is a site default, as for HTML
pages: the language is identified from the text.

Items are cut out of the feed by their tags and each parsed as XML on its own (with the feed's
namespace declarations), so one malformed item does not cost the others.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

from ..config import DateConfig
from .base import Header, Parsed, Rejected, read_date

# A comment never reaches past its first "-->", and the prolog is matched one way only (``*+``):
# with ``<!--.*?-->`` a page of many comments that is not a feed took time exponential in their
# number (18 comments: 0.5 s; a fuzzed page: minutes).
_ROOT = re.compile(
    r"\A\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--(?:(?!-->).)*-->\s*|<\?[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*)*+"
    r"<(?P<root>rss|feed|rdf:RDF)\b",
    re.S,
)
_ITEM = re.compile(r"<(?P<tag>item|entry)\b[^>]*>.*?(?:</(?P=tag)\s*>|(?=<(?P=tag)\b)|\Z)", re.S)
_XMLNS = re.compile(r"""\sxmlns(?::[\w.-]+)?\s*=\s*("[^"]*"|'[^']*')""")
_CHANNEL_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.S)
_EMAIL_NAME = re.compile(r"^\S+@\S+\s*\((?P<name>[^)]+)\)$")
_BLOCK_END = re.compile(r"(?i)</(?:\w+:)?(p|div|h[1-6]|li|blockquote)\s*>")  # Atom XHTML comes back as <ns0:p>
_BREAK = re.compile(r"(?i)<(?:\w+:)?br\b[^>]*>")
_SCRIPT = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>")
_TAG = re.compile(r"<[^>]+>")


def looks_like_feed(text: str) -> bool:
    m = _ROOT.match(text[:4096])
    if not m:
        return False
    return m.group("root") != "rdf:RDF" or "purl.org/rss/1.0" in text[:4096]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _html_text(markup: str) -> str:
    """Text of an HTML fragment: paragraphs and line breaks kept, tags gone, entities resolved."""
    markup = _SCRIPT.sub("", markup)
    markup = _BREAK.sub("\n", markup)
    markup = _BLOCK_END.sub("\n\n", markup)
    return html.unescape(_TAG.sub("", markup)).strip()


def _inner(el: ET.Element) -> str:
    """An element's content as markup: its text, or its XHTML children (Atom ``type="xhtml"``)."""
    if len(el) == 0:
        return el.text or ""
    return (el.text or "") + "".join(ET.tostring(child, encoding="unicode") for child in el)


def _fields(item: ET.Element) -> dict[str, list[ET.Element]]:
    out: dict[str, list[ET.Element]] = {}
    for child in item:
        out.setdefault(_local(child.tag), []).append(child)
    return out


def _first_text(fields: dict[str, list[ET.Element]], *names: str) -> str | None:
    for name in names:
        for el in fields.get(name, ()):
            value = _html_text(_inner(el))
            if value:
                return value
    return None


def _link(fields: dict[str, list[ET.Element]]) -> str | None:
    for el in fields.get("link", ()):
        href = el.get("href")
        if href and el.get("rel", "alternate") == "alternate":
            return href.strip()
        if not href and el.text and el.text.strip():
            return el.text.strip()
    return None


def _authors(fields: dict[str, list[ET.Element]]) -> tuple[str, ...]:
    names: list[str] = []
    for el in fields.get("creator", []) + fields.get("author", []):
        name = next((c.text for c in el if _local(c.tag) == "name" and c.text), None) or el.text or ""
        name = name.strip()
        m = _EMAIL_NAME.match(name)
        name = m.group("name").strip() if m else name
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _topics(fields: dict[str, list[ET.Element]]) -> tuple[str, ...]:
    topics: list[str] = []
    for el in fields.get("category", []) + fields.get("subject", []):
        value = (el.get("term") or el.text or "").strip()
        if value and value not in topics:
            topics.append(value)
    return tuple(topics)


def item(markup: str, namespaces: str, position: int, source_name: str | None, dates: DateConfig) -> Parsed | Rejected:
    """One ``<item>``/``<entry>`` (its markup, with the feed's ``xmlns`` declarations)."""
    try:
        element = ET.fromstring(f"<feed-item{namespaces}>{markup}</feed-item>")[0]
    except ET.ParseError as exc:
        return Rejected("feed", f"item {position} is not well-formed XML ({exc}); the other items are kept", position)
    fields = _fields(element)
    content = _first_text(fields, "encoded", "content")
    summary = _first_text(fields, "description", "summary")
    body = content or summary
    if not body:
        return Rejected("feed", f"item {position} has no text (no description, summary or content)", position)
    guid = _first_text(fields, "guid", "id")
    header = Header(
        **read_date(_first_text(fields, "pubDate", "published", "date", "updated"), dates),
        title=_first_text(fields, "title"),
        url=_link(fields),
        source_name=source_name,
        authors=_authors(fields),
        description=summary if content else None,
        topics=_topics(fields),
        extra=(("guid", json.dumps(guid, ensure_ascii=False)),) if guid else (),
    )
    return Parsed("feed", header, body, position)


def read(text: str, dates: DateConfig = DateConfig()) -> list[Parsed | Rejected]:
    matches = list(_ITEM.finditer(text))
    if not matches:
        return [Rejected("feed", "feed without any <item> or <entry>")]
    preamble = text[: matches[0].start()]
    declared = {m.group(0).split("=", 1)[0].strip(): m.group(0).strip() for m in _XMLNS.finditer(preamble)}
    namespaces = "".join(f" {d}" for d in declared.values())  # one declaration a prefix
    channel_title = _CHANNEL_TITLE.search(preamble)
    source_name = None
    if channel_title:
        source_name = _html_text(re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", channel_title.group(1), flags=re.S)) or None
    out: list[Parsed | Rejected] = []
    for position, m in enumerate(matches, start=1):
        if not re.search(rf"</{m.group('tag')}\s*>\Z", m.group(0)):
            reason = f"item {position} cut short: no closing </{m.group('tag')}> (truncated feed?)"
            out.append(Rejected("feed", reason, position))
            continue
        out.append(item(m.group(0), namespaces, position, source_name, dates))
    return out
