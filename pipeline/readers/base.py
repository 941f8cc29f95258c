"""The types every reader hands over: ``Header``, ``Parsed``, ``Rejected``.

In:  nothing (types only, and ``read_date``, the one way a reader turns a stated date into a
     ``ParsedDate``).
Out: ``Parsed`` (format, typed header fields, body text, position inside a container, warnings)
     or ``Rejected`` (why a document is no article), bound for quarantine with the reason.

A header date is parsed once, by the reader that found it: ``Header.date`` is the ``ParsedDate``
(None when the words could not be read) and ``Header.date_text`` the words as the source wrote
them, which ``dates.resolve`` quotes in its warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DateConfig
from ..dates import ParsedDate, parse_date


@dataclass(frozen=True, slots=True)
class Header:
    """Metadata a document states about itself (header lines, attributes, meta tags, fields)."""

    date: ParsedDate | None = None  # the stated publication date, parsed by the reader
    date_text: str | None = None  # the words it was read from (also when they could not be read)
    date_source: str = "header"  # who found it: the document's own fields (header), or htmldate
    title: str | None = None
    url: str | None = None
    source_name: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    description: str | None = None
    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    section: str | None = None  # the publication's section (article:section, JSON-LD articleSection)
    image: str | None = None  # URL of the article's lead image (og:image, JSON-LD image)
    license: str | None = None  # the licence the page states (a rel="license" link, CC terms)
    hostname: str | None = None  # the domain of the article's URL, as trafilatura gives it
    # Names the document itself gives its site (og:site_name, the JSON-LD publisher): a title
    # suffix to drop. None: the source_name is the one name known; (): no name is known.
    site_names: tuple[str, ...] | None = None
    # Fields the reader does not map (JSON keys, SGML attributes): kept, JSON-encoded, never dropped.
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Parsed:
    format: str  # text | html | json | sgml | feed
    header: Header
    body: str
    position: int | None = None  # 1-based position inside a multi-document container
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    format: str
    reason: str
    position: int | None = None


def read_date(text: str | None, config: DateConfig) -> dict:
    """``Header`` keywords (``date``, ``date_text``) for a stated date; empty when none is stated."""
    if not text:
        return {}
    return {"date": parse_date(text, config), "date_text": text}
