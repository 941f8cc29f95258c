"""Steps: the per-document steps after decode and parse, one job each.

In:  a ``Work`` (one parsed document on its way, with the input's bytes, its decoding and the
     ``RunConfig``).
Out: each step fills in its own ``Article`` columns in ``Work.row`` (and the text in the making,
     ``Work.body``) and returns None, or returns a ``Reject`` (stage, reason, text) when the
     document cannot become an article.

``document.STEPS`` lists them in the order they run; each docstring says what the step reads and
what it writes. A step is a plain function of one ``Work``: adding a column is a field in
``records.py`` and a step (or a line in one) that sets it (see CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import ceil
from typing import NamedTuple

from . import __version__, attribution
from .clean import normalize, remove_boilerplate, separate_paragraphs
from .config import RunConfig
from .dates import resolve
from .decode import Decoded, scripts_of, source_scripts
from .fetch import RawDocument
from .metadata import Extracted, article_id, content_sha256, detect_language, extract, minhash
from .quality import not_an_article
from .readers.base import Parsed


@dataclass(slots=True)
class Work:
    """One document between steps: what they read, and the row they fill in."""

    raw: RawDocument
    decoded: Decoded
    doc: Parsed
    config: RunConfig
    row: dict = field(default_factory=dict)  # the Article's columns, by name
    body: str = ""  # the text in the making (normalized, then without boilerplate)
    extracted: Extracted | None = None


class Reject(NamedTuple):
    stage: str
    reason: str
    text: str | None  # what the document held when it was rejected (quarantine excerpt)


Step = Callable[[Work], "Reject | None"]


def located(raw: RawDocument, position: int | None) -> tuple[str, str]:
    """(source_uri, source_path) of a document: a container's documents add ``#position``."""
    if position is None:
        return raw.source_uri, raw.source_path
    return f"{raw.source_uri}#{position}", f"{raw.source_path}#{position}"


def source(w: Work) -> None:
    """In: the input and its decoding. Out: ``article_id``, ``source_uri``, ``source_path``,
    ``landing_date``, ``format``, ``encoding``, ``repairs``, ``undecodable_bytes``,
    ``raw_sha256``, ``pipeline_version``."""
    uri, path = located(w.raw, w.doc.position)
    w.row.update(
        article_id=article_id(path),
        source_uri=uri,
        source_path=path,
        landing_date=w.raw.landing_date,
        format=w.doc.format,
        encoding=w.decoded.encoding,
        repairs=list(w.decoded.repairs),
        undecodable_bytes=w.decoded.undecodable_bytes,
        raw_sha256=w.raw.raw_sha256,
        pipeline_version=__version__,
    )


def header(w: Work) -> None:
    """In: the reader's ``Header``. Out: ``url``, ``source_name`` (a publication, never a year or a
    URL), ``authors`` (names only, split), ``description`` (normalized), ``topics`` (one keyword
    each), ``section``, ``places``, ``image``, ``license``, ``hostname`` (the reader's, else the
    URL's registered domain, as trafilatura computes it), ``extra``. See ``attribution``."""
    h = w.doc.header
    source_name = attribution.source_name(h.source_name)
    w.row.update(
        url=h.url,
        source_name=source_name,
        authors=list(attribution.authors(h.authors, (*(h.site_names or ()), source_name))),
        description=normalize(h.description, w.config.clean) if h.description else None,
        topics=list(attribution.keywords(h.topics)),
        section=h.section or None,
        places=list(h.places),
        image=h.image or None,
        license=h.license or None,
        hostname=h.hostname or _hostname(h.url),
        extra=dict(h.extra),
    )


def _hostname(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    from courlan import extract_domain  # trafilatura's own dependency: the same rule as its hostname

    try:
        found = extract_domain(url, fast=True)
    except ValueError:
        found = None
    if not found:  # a domain outside the public suffix list (.example, .local): its host name
        from urllib.parse import urlsplit

        try:
            found = urlsplit(url).hostname
        except ValueError:
            return None
        found = found[4:] if found and found.startswith("www.") else found
    return found or None


def clean(w: Work) -> None:
    """In: the parsed body. Out: ``Work.body``, normalized (``clean.normalize``), paragraphs
    separated by a blank line where the body wrote one a line (``clean.separate_paragraphs``)."""
    w.body = separate_paragraphs(normalize(w.doc.body, w.config.clean))


def language(w: Work) -> None:
    """In: the normalized body, before boilerplate removal (whose patterns depend on the
    language), and the header's language. Out: ``language``, ``language_score``: identified from
    the text, unless the header states a readable code (then score 1.0)."""
    code, score = detect_language(w.body, w.config.metadata)
    stated = w.doc.header.language
    if stated:
        stated = stated.strip().lower().replace("_", "-").split("-")[0]
        if 2 <= len(stated) <= 3 and stated.isalpha():
            code, score = stated, 1.0
    w.row.update(language=code, language_score=score)


def boilerplate(w: Work) -> None:
    """In: the normalized body and ``language``. Out: ``Work.body`` without boilerplate lines."""
    w.body, _removed = remove_boilerplate(w.body, w.row["language"], w.config.clean)


def metadata(w: Work) -> Reject | None:
    """In: the body, the header title and the site names the document states (a title's site
    suffix is dropped: ``attribution.title_without_site``). Out: ``title``, ``subheadings``, ``text``, ``quotes``,
    ``word_count``, ``char_count`` and the dateline (``Work.extracted``); a ``clean`` rejection
    when no text is left."""
    h = w.doc.header
    title = normalize(h.title, w.config.clean) if h.title else None
    sites = h.site_names if h.site_names is not None else (w.row["source_name"],)
    title = attribution.title_without_site(title, sites)
    ext = extract(w.body, title or None, w.config.metadata, w.config.dates)
    if not ext.text:
        return Reject("clean", "no text left once the header, title and boilerplate are removed", w.body)
    w.extracted = ext
    w.row.update(
        title=ext.title,
        subheadings=ext.subheadings,
        text=ext.text,
        quotes=ext.quotes,
        word_count=ext.word_count,
        char_count=ext.char_count,
    )
    return None


def quality(w: Work) -> Reject | None:
    """In: ``title``, ``text``, ``word_count``, ``char_count``, the reader's body (before
    boilerplate removal took cookie lines out). Out: nothing; a ``quality``
    rejection for an HTTP error, bot-wall or consent page (``quality.not_an_article``)."""
    reason = not_an_article(w.row["title"], w.row["text"], w.row["word_count"], w.row["char_count"], w.doc.body)
    if reason:
        return Reject("quality", reason, w.row["text"])
    return None


def dates(w: Work) -> Reject | None:
    """In: the header date (parsed by the reader), the dateline, the URL, the landing date.
    Out: ``published_at``, ``date_precision``, ``date_source``, ``utc_offset_minutes`` and the
    ``warnings`` (the reader's and the dates'). A document that states no date gets a null
    ``published_at`` and ``date_source = none`` and is written under its landing date; a ``dates``
    rejection only when it has neither a stated date nor a landing date (nowhere to partition it)."""
    h, ext = w.doc.header, w.extracted
    date = resolve(
        h.date,
        ext.dateline,
        h.url,
        w.raw.landing_date,
        w.config.dates,
        header_text=h.date_text,
        header_source=h.date_source,
    )
    if date.published_at is None and w.raw.landing_date is None:
        reason = (
            "no date to file it under: the document states no publication date (header, dateline "
            "or URL) and it has no landing date (run with --date, or land files under SRC/YYYY-MM-DD/)"
        )
        if date.warnings:
            reason += "; " + "; ".join(date.warnings)
        return Reject("dates", reason, ext.text)
    w.row.update(
        published_at=date.published_at,
        date_precision=date.precision,
        date_source=date.source,
        utc_offset_minutes=date.offset_minutes,
        warnings=list(w.doc.warnings) + list(date.warnings),
    )
    return None


# Reading speeds. Languages written with spaces: 200 words a minute. Chinese and Japanese, written
# without spaces between words, by characters: the mean silent reading speeds of the IReST study
# (Trauzettel-Klosinski & Dietz, 2012): 255 characters a minute in Chinese, 357 in Japanese.
WORDS_PER_MINUTE = 200
CHARACTERS_PER_MINUTE = {"zh": 255, "ja": 357}


def reading_time(w: Work) -> None:
    """In: ``language``, ``word_count``, ``char_count``. Out: ``reading_time_minutes``: words / 200
    rounded up, or characters / the language's speed for Chinese and Japanese."""
    per_minute = CHARACTERS_PER_MINUTE.get(w.row["language"])
    if per_minute:
        w.row["reading_time_minutes"] = ceil(w.row["char_count"] / per_minute)
    else:
        w.row["reading_time_minutes"] = ceil(w.row["word_count"] / WORDS_PER_MINUTE)


def fingerprints(w: Work) -> None:
    """In: ``text``. Out: ``content_sha256`` and ``minhash`` (near-duplicate detection)."""
    text = w.row["text"]
    w.row.update(content_sha256=content_sha256(text), minhash=minhash(text))


_source_scripts_cache: tuple[str, str | None, set[str]] | None = None  # one input's documents in a row


def _scripts_of_source(w: Work) -> set[str]:
    """Scripts of the input's plain decodes and of the codec ``decode`` chose, computed once per
    input (a JSONL or SGML file's records share it)."""
    global _source_scripts_cache
    key = (w.raw.raw_sha256, w.decoded.encoding)
    if _source_scripts_cache is None or _source_scripts_cache[:2] != key:
        _source_scripts_cache = (*key, source_scripts(w.raw.data, w.decoded.encoding))
    return _source_scripts_cache[2]


def fidelity(w: Work) -> None:
    """In: ``title``, ``text``, the input's bytes and the codec that decoded them. Out: a warning
    ``invented characters: <scripts> ...`` when they hold a script (CJK, Arabic, Cyrillic, Ethiopic
    ...) that the source does not contain under any plain decode nor the codec decode chose: a
    decode or a repair made them up. The row suite's ``invented characters`` expectation sends
    such an article to quarantine (nothing invented is published)."""
    title, text = w.row.get("title") or "", w.row["text"]
    found = scripts_of(text) | scripts_of(title)  # (Latin text: one regex scan)
    invented = found - _scripts_of_source(w) if found else found
    if invented:
        warnings = w.row.get("warnings") or []
        w.row["warnings"] = [
            *warnings,
            f"invented characters: {', '.join(sorted(invented))} script(s) that the "
            "source's bytes do not hold under any plain decode",
        ]
