"""Formats: which reader a document needs, and the document(s) it holds.

In:  the bytes of one input (a file or an archive member), ``DecodeConfig``/``DateConfig``.
Out: the ``Decoded`` text and a list of ``Parsed`` documents or ``Rejected`` ones: one for a
     plain-text article or an HTML page, many for a container (Reuters SGML, a JSON array, JSONL).

Binary signatures are checked on the bytes; an HTML page's declared charset is read from the
bytes before decoding; everything else is told apart on the decoded text.
"""

from __future__ import annotations

import re

from . import html as html_page, json as json_records, sgml
from ..config import DateConfig, DecodeConfig
from ..decode import Decoded, decode
from .text import Parsed, Rejected, parse, sniff

_HTML_BYTES = re.compile(rb"<!doctype\s+html|<(html|head|body)[\s>]", re.I)


def read_document(
    data: bytes,
    decode_config: DecodeConfig = DecodeConfig(),
    dates: DateConfig = DateConfig(),
    url_hint: str | None = None,
) -> tuple[Decoded, list[Parsed | Rejected]]:
    head = data[:8192]
    is_sgml = b"<REUTERS" in head or head.lstrip()[:15].lower() == b"<!doctype lewis"
    declared = html_page.declared_charset(head) if not is_sgml and _HTML_BYTES.search(head) else None
    decoded = decode(data, decode_config, declared=declared)
    rejected = sniff(data[:16], decoded.text)
    if rejected:
        return decoded, [rejected]
    text = decoded.text
    if sgml.is_container(text):  # before HTML: Reuters documents have <BODY> tags too
        return decoded, list(sgml.read(text))
    if html_page.looks_like_html(text):
        return decoded, [html_page.read(data, text, dates, url_hint)]
    if json_records.looks_like_json(text):
        return decoded, list(json_records.read(text))
    if text.lstrip()[:5].lower() == "<?xml":
        return decoded, [Rejected("xml", "XML document: not an article format news-etl reads (RSS/Atom/NewsML are planned)")]
    return decoded, [parse(text, dates)]
