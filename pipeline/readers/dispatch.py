"""Dispatch: what a file is, and which reader turns it into document(s).

In:  the bytes of one input (a file or an archive member), ``DecodeConfig``/``DateConfig``.
Out: the ``Decoded`` text and a list of ``Parsed`` documents or ``Rejected`` ones: one for a
     plain-text article or an HTML page, many for a container (Reuters SGML, a JSON array, JSONL,
     an RSS/Atom feed).

``kind`` is the one place that decides what a file is, in this order: no document at all (binary
signatures on the bytes, empty, control characters), XML (a feed, or refused), SGML (before HTML:
Reuters documents have ``<BODY>`` tags too), HTML (``looks_like_html``), JSON, else plain text. An
HTML page's declared charset (``<meta charset>``) is read from the bytes before decoding; everything
else is told apart on the decoded text.
To add a format: a module in this package with ``looks_like_*`` and ``read``, one line in ``kind``
and one in ``read_document`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

import re

from ..config import DateConfig, DecodeConfig
from ..decode import Decoded, decode
from . import feed, html, json, sgml, text
from .base import Parsed, Rejected

_HTML_BYTES = re.compile(rb"<!doctype\s+html|<(html|head|body)[\s>]", re.I)
_TAG_BYTES = re.compile(rb"(?:\xef\xbb\xbf)?\s*<[!a-zA-Z]")  # a text that starts with a tag (a page fragment?)

# HTML tag names that only markup uses: a page (or a saved fragment of one: a corpus wrapper such as
# <text id=URL>, then <form>, <table>, <script> ...) is full of them; prose that mentions a tag or two
# (an article about the <b> element) is not.
_HTML_TAG = re.compile(
    r"</?(?:html|head|body|meta|title|link|script|style|noscript|form|input|select|option|textarea|button|div|span|"
    r"table|tbody|thead|tr|td|th|ul|ol|li|p|a|img|br|hr|h[1-6]|iframe|center|font|b|i|strong|em|nav|header|footer|"
    r"section|article|aside|label|map|area|object|embed|param)(?=[\s/>])",
    re.I,
)
_HTML_LEAD = re.compile(r"(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I)
_MARKUP_TAGS = 12  # tags in the first 8 KB of a text that starts with a tag; prose quoting tags has a few


def looks_like_html(text: str) -> bool:
    """Whether a decoded text is an HTML page or a saved part of one.

    Yes when, after white space and a byte order mark, it starts with a doctype, ``<html>``,
    ``<head>`` or ``<body>``, or has one of those in its first 1 KB (after a comment, a
    ``<script>``, an XML-ish wrapper); or when it starts with a tag and its first 8 KB hold at
    least ``_MARKUP_TAGS`` HTML tags of at least three kinds (pages saved without their
    ``<html>``: a ``<form>``, a ``<table>`` layout). A plain-text article that mentions ``<b>``
    does not start with a tag and stays text."""
    lead = text.lstrip(" \t\r\n\ufeff\u200b")
    if not lead.startswith("<"):
        return False
    if _HTML_LEAD.search(lead[:1024]):
        return True
    tags = [m.group(0).lstrip("</").lower() for m in _HTML_TAG.finditer(lead[:8192])]
    return len(tags) >= _MARKUP_TAGS and len(set(tags)) >= 3


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

_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f]")
# The same characters as UTF-8 bytes, which no other character's bytes hold: counted by
# bytes.translate at C speed (a fifth of the regex's time).
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x20))


def sniff(head: bytes, text: str) -> Rejected | None:
    """Reject what is no document at all (empty, binary); None when a reader should try it."""
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return Rejected("binary", f"binary file ({what}), not an article")
    if not text or text.isspace():  # (not text.strip(), without copying the text)
        return Rejected("empty", "empty file (no text after decoding)")
    sample = text[:4096]
    data = sample.encode("utf-8", "surrogatepass")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))  # len(_CONTROLS.findall(sample))
    if controls > max(2, len(sample) // 50):
        return Rejected(
            "binary", f"binary file ({controls} control characters in the first {len(sample)}), not an article"
        )
    return None


def kind(head: bytes, text_: str) -> str | Rejected:
    """What a decoded document is: ``feed``, ``sgml``, ``html``, ``json`` or ``text``, or why it is
    no document (binary, empty, an XML document that is no feed)."""
    rejected = sniff(head, text_)
    if rejected:
        return rejected
    if feed.looks_like_feed(text_):
        return "feed"
    if text_.lstrip()[:5].lower() == "<?xml":
        return Rejected(
            "xml",
            "XML document: not an article format news-etl reads (the XML it reads: RSS 2.0, RSS 1.0 and Atom feeds)",
        )
    if sgml.is_container(text_):
        return "sgml"
    if looks_like_html(text_):
        return "html"
    if json.looks_like_json(text_):
        return "json"
    return "text"


def read_document(
    data: bytes,
    decode_config: DecodeConfig = DecodeConfig(),
    dates: DateConfig = DateConfig(),
    url_hint: str | None = None,
) -> tuple[Decoded, list[Parsed | Rejected]]:
    head = data[:8192]
    is_sgml = b"<REUTERS" in head or head.lstrip()[:15].lower() == b"<!doctype lewis"
    declared = (
        html.declared_charset(head) if not is_sgml and (_HTML_BYTES.search(head) or _TAG_BYTES.match(head)) else None
    )
    decoded = decode(data, decode_config, declared=declared)
    what = kind(data[:16], decoded.text)
    if isinstance(what, Rejected):
        return decoded, [what]
    if what == "feed":
        return decoded, feed.read(decoded.text, dates)
    if what == "sgml":
        return decoded, sgml.read(decoded.text, dates)
    if what == "html":
        return decoded, [html.read(data, decoded.text, dates, url_hint)]
    if what == "json":
        return decoded, json.read(decoded.text, dates)
    return decoded, [text.parse(decoded.text, dates)]
