"""Document: every per-document stage applied to one input's bytes, as a pure function.

In:  a ``RawDocument`` (bytes, landing date, where it came from) and the ``RunConfig``.
Out: one ``Article`` or ``Quarantined`` per document the input holds (a container such as SGML,
     a JSON array or JSONL gives several). Nothing here touches the file system or the output.
"""

from __future__ import annotations

from . import __version__
from .clean import normalize, remove_boilerplate
from .config import RunConfig
from .dates import resolve
from .fetch import RawDocument
from .readers import read_document
from .metadata import article_id, content_sha256, detect_language, extract, minhash
from .readers.base import Parsed, Rejected
from .records import QUARANTINE_KEEP_RAW_BYTES, Article, Quarantined


def process_document(raw: RawDocument, config: RunConfig) -> list[Article | Quarantined]:
    """Every per-document stage, as a pure function of the bytes and the config. A container
    (SGML, a JSON array, JSONL) gives one result per document it holds."""

    def quarantine(stage: str, reason: str, encoding: str | None = None, text: str | None = None,
                   position: int | None = None) -> Quarantined:
        keep = raw.data if len(raw.data) <= QUARANTINE_KEEP_RAW_BYTES else None
        uri, path = _at(raw, position)
        return Quarantined(uri, path, raw.landing_date, stage, reason, None, article_id(path), encoding,
                           len(raw.data), raw.raw_sha256, keep, text[:2000] if text else None)

    decoded, documents = read_document(raw.data, config.decode, config.dates)
    out: list[Article | Quarantined] = []
    for doc in documents:
        if isinstance(doc, Rejected):
            out.append(quarantine("parse", doc.reason, decoded.encoding, position=doc.position))
            continue
        out.append(_article(raw, decoded, doc, config, quarantine))
    return out


def _at(raw: RawDocument, position: int | None) -> tuple[str, str]:
    if position is None:
        return raw.source_uri, raw.source_path
    return f"{raw.source_uri}#{position}", f"{raw.source_path}#{position}"


def _article(raw: RawDocument, decoded, doc: Parsed, config: RunConfig, quarantine) -> Article | Quarantined:
    header = doc.header
    body = normalize(doc.body, config.clean)
    language, score = detect_language(body, config.metadata)
    if header.language:
        code = header.language.strip().lower().replace("_", "-").split("-")[0]
        if 2 <= len(code) <= 3 and code.isalpha():
            language, score = code, 1.0
    body, _removed = remove_boilerplate(body, language, config.clean)
    title = normalize(header.title, config.clean) if header.title else None
    ext = extract(body, title or None, config.metadata, config.dates)
    date = resolve(header.date, ext.dateline, header.url, raw.landing_date, config.dates, header_text=header.date_text)
    uri, path = _at(raw, doc.position)
    if not ext.text:
        return quarantine("clean", "no text left once the header, title and boilerplate are removed",
                          decoded.encoding, body, doc.position)
    if date.published_at is None:
        reason = "no publication date: no header, dateline or URL date, and no landing date " \
                 "(run with --date, or land files under SRC/YYYY-MM-DD/)"
        if date.warnings:
            reason += "; " + "; ".join(date.warnings)
        return quarantine("dates", reason, decoded.encoding, ext.text, doc.position)
    return Article(
        article_id=article_id(path),
        source_uri=uri,
        source_path=path,
        landing_date=raw.landing_date,
        format=doc.format,
        url=header.url,
        source_name=header.source_name,
        title=ext.title,
        authors=list(header.authors),
        description=normalize(header.description, config.clean) if header.description else None,
        topics=list(header.topics),
        places=list(header.places),
        subheadings=ext.subheadings,
        text=ext.text,
        language=language,
        language_score=score,
        published_at=date.published_at,
        date_precision=date.precision,
        date_source=date.source,
        utc_offset_minutes=date.offset_minutes,
        encoding=decoded.encoding,
        repairs=list(decoded.repairs),
        undecodable_bytes=decoded.undecodable_bytes,
        content_sha256=content_sha256(ext.text),
        raw_sha256=raw.raw_sha256,
        word_count=ext.word_count,
        char_count=ext.char_count,
        quotes=ext.quotes,
        warnings=list(doc.warnings) + list(date.warnings),
        minhash=minhash(ext.text),
        extra=dict(header.extra),
        pipeline_version=__version__,
    )
