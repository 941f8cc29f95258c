"""JSON and JSONL records (crawler dumps: news-please, newspaper, Common Crawl derivatives).

In:  the decoded text of a ``.json`` (one object, or an array of objects) or ``.jsonl`` file
     (one object per line).
Out: one ``Parsed`` per record (1-based position: array index or line number), or a ``Rejected``
     for a record that is not valid JSON or has no text. In JSONL a broken line costs only that
     line; a broken whole-file JSON is one rejection naming the line and column.

Common field names map onto the schema (first present wins): title ``title``/``headline``; text
``maintext``/``text``/``content``/``body``/``article``/``articleBody``; date ``date_publish``/
``published``/``date``/``datePublished``/``pubDate``/``published_at``/``publish_date``; authors
``authors``/``author``/``byline``; language ``language``/``lang``; URL ``url``/``link``/
``canonical_url``; source ``source_domain``/``source``/``site_name``/``publisher``; section
``section``/``articleSection``; image ``image_url``/``image``/``top_image``. Every other
field is kept in ``extra`` as JSON text under its own key. A text field holding HTML is reduced to
its text.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from ..config import DateConfig
from .base import Header, Parsed, Rejected, read_date

TITLE = ("title", "headline", "name")
TEXT = ("maintext", "text", "content", "body", "article", "articleBody", "article_body", "full_text", "fulltext")
DATE = (
    "date_publish",
    "published",
    "date",
    "datePublished",
    "pubDate",
    "published_at",
    "publish_date",
    "date_published",
    "publication_date",
    "created_at",
    "date_modify",
    "date_download",
)
AUTHORS = ("authors", "author", "byline", "creator")
LANGUAGE = ("language", "lang", "inLanguage")
URL = ("url", "link", "canonical_url", "canonical_link", "source_url")
SOURCE = ("source_domain", "source", "site_name", "sitename", "publisher", "outlet")
DESCRIPTION = ("description", "summary", "abstract", "lead")
TOPICS = ("topics", "categories", "tags", "keywords")
SECTION = ("section", "articleSection", "section_name")
IMAGE = ("image_url", "image", "top_image", "thumbnail")

_HTMLISH = re.compile(r"</?(p|br|div|span|a|em|strong|h[1-6]|li|ul)\b[^>]*>", re.I)


def looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    return stripped[:1] in ("{", "[")


def _first(rec: dict, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in rec and rec[k] not in (None, "", [], {}):
            return k, rec[k]
    return None, None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(a.strip() for a in re.split(r",|;| and ", value) if a.strip())
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, dict):
                v = v.get("name") or v.get("@name")
            if isinstance(v, str) and v.strip():
                out.append(v.strip())
        return tuple(out)
    if isinstance(value, dict):
        return _names(value.get("name"))
    return ()


def _text(value: Any) -> str | None:
    """One string from a field that may hold a string, a list of them, or an object's name/url."""
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if isinstance(value, dict):
        value = value.get("url") or value.get("name")
    return value.strip() or None if isinstance(value, str) else None


def _html_to_text(text: str) -> str:
    if not _HTMLISH.search(text):
        return text
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li)>", "\n\n", text)
    return re.sub(r"<[^>]+>", "", text)


def record(rec: Any, position: int | None, dates: DateConfig = DateConfig()) -> Parsed | Rejected:
    if not isinstance(rec, dict):
        return Rejected("json", f"record is a JSON {type(rec).__name__}, not an object", position)
    used: set[str] = set()

    def take(keys):
        k, v = _first(rec, keys)
        if k:
            used.add(k)
        return v

    text = take(TEXT)
    if isinstance(text, list):
        text = "\n\n".join(str(t) for t in text if t)
    if not isinstance(text, str) or not text.strip():
        return Rejected("json", "record has no text field (maintext, text, content, body, article ...)", position)
    title, date, authors = take(TITLE), take(DATE), take(AUTHORS)
    language, url, source, description, topics = (
        take(LANGUAGE),
        take(URL),
        take(SOURCE),
        take(DESCRIPTION),
        take(TOPICS),
    )
    section = _text(take(SECTION))
    image_key, image = _first(rec, IMAGE)
    image = _text(image)
    if image and "://" in image:
        used.add(image_key)
    else:
        image = None  # not a URL: stays in extra
    if isinstance(source, dict):
        source = source.get("name")
    extra = tuple((k, json.dumps(v, ensure_ascii=False, default=str)) for k, v in rec.items() if k not in used)
    header = Header(
        **read_date(str(date) if date is not None else None, dates),
        title=str(title) if title is not None else None,
        url=str(url) if url else None,
        source_name=str(source) if source else None,
        authors=_names(authors),
        language=str(language) if language else None,
        description=str(description) if description else None,
        topics=_names(topics),
        section=section,
        image=image,
        extra=extra,
    )
    return Parsed("json", header, _html_to_text(text), position)


def _parses(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def read(text: str, dates: DateConfig = DateConfig()) -> list[Parsed | Rejected]:
    try:
        return _read(text, dates)
    except RecursionError:  # json and the record walk recurse once per level
        return [Rejected("json", f"JSON nested deeper than {sys.getrecursionlimit():,} levels")]


def _read(text: str, dates: DateConfig) -> list[Parsed | Rejected]:
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as whole_error:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(lines) <= 1 or not _parses(lines[0][1]):  # JSONL only if its first line is a record
            return [
                Rejected(
                    "json",
                    f"JSON syntax error at line {whole_error.lineno}, column {whole_error.colno}: {whole_error.msg}",
                )
            ]
        out: list[Parsed | Rejected] = []
        for n, line in lines:  # JSONL: one record per line; a bad line costs only itself
            try:
                out.append(record(json.loads(line), n, dates))
            except json.JSONDecodeError as exc:
                out.append(Rejected("json", f"JSON syntax error on line {n}, column {exc.colno}: {exc.msg}", n))
        return out
    if isinstance(data, list):
        return [record(r, i, dates) for i, r in enumerate(data, start=1)] or [Rejected("json", "empty JSON array")]
    if isinstance(data, dict):
        for key in ("articles", "items", "results", "data", "documents", "docs"):
            if isinstance(data.get(key), list) and all(isinstance(r, dict) for r in data[key]):
                return [record(r, i, dates) for i, r in enumerate(data[key], start=1)] or [
                    Rejected("json", f"empty {key!r} list")
                ]
        return [record(data, None, dates)]
    return [Rejected("json", f"JSON {type(data).__name__} is not a record")]
