"""Document: every per-document step applied to one input's bytes, as a pure function.

In:  a ``RawDocument`` (bytes, landing date, where it came from) and the ``RunConfig``.
Out: one ``Article`` or ``Quarantined`` per document the input holds (a container such as SGML,
     a JSON array, JSONL or a feed gives several). Nothing here touches the file system or the
     output.

The order, top to bottom (the README's diagram): decode and parse (``readers``: what the file is,
and the document(s) it holds), then ``STEPS`` for each document. A step that rejects the document
ends it there, as a quarantine row naming the step's stage.
"""

from __future__ import annotations

from collections.abc import Iterator

from .config import RunConfig
from .fetch import RawDocument
from .metadata import article_id
from .readers import read_document
from .readers.base import Rejected
from .records import QUARANTINE_KEEP_RAW_BYTES, Article, Quarantined
from .steps import (
    Step,
    Work,
    boilerplate,
    clean,
    dates,
    fidelity,
    fingerprints,
    header,
    language,
    located,
    metadata,
    quality,
    reading_time,
    source,
)

STEPS: tuple[Step, ...] = (
    source,  # ids, where the bytes came from, how they were decoded
    header,  # what the document states about itself: URL, source, authors, topics ...
    clean,  # normalize the body
    language,  # identified on the normalized body, before boilerplate; a header language wins
    boilerplate,  # drop the language's boilerplate lines
    metadata,  # title, subheadings, quotes, counts, dateline; no text left: quarantined (clean)
    quality,  # an HTTP error, bot-wall or consent page: quarantined (quality)
    dates,  # header date, dateline, URL, else none (null); no date and no landing date: quarantined
    reading_time,  # reading_time_minutes
    fingerprints,  # content_sha256, minhash
    fidelity,  # a script the source does not hold: a warning the row suite quarantines
)


def process_document(raw: RawDocument, config: RunConfig) -> list[Article | Quarantined]:
    """Every per-document step, as a pure function of the bytes and the config. A container
    (SGML, a JSON array, JSONL, a feed) gives one result per document it holds."""
    return list(iter_document(raw, config))


def iter_document(raw: RawDocument, config: RunConfig) -> Iterator[Article | Quarantined]:
    """``process_document``'s results one at a time: a caller can turn them into columns as they
    come (a JSONL file of 100,000 broken lines is 100,000 quarantine rows)."""
    decoded, documents = read_document(raw.data, config.decode, config.dates)
    keep_raw = True  # the input's bytes go on its first quarantine row only
    # Each document is let go once it has its result: its rejection and its quarantine row are
    # never both held for the whole file.
    documents.reverse()
    while documents:
        doc = documents.pop()
        if isinstance(doc, Rejected):
            yield _quarantine(raw, "parse", doc.reason, decoded.encoding, None, doc.position, keep_raw)
            keep_raw = False
            continue
        work = Work(raw, decoded, doc, config)
        for step in STEPS:
            rejected = step(work)
            if rejected is not None:
                stage, reason, text = rejected
                yield _quarantine(raw, stage, reason, decoded.encoding, text, doc.position, keep_raw)
                keep_raw = False
                break
        else:
            yield Article(**work.row)


def _quarantine(
    raw: RawDocument,
    stage: str,
    reason: str,
    encoding: str | None,
    text: str | None,
    position: int | None,
    keep_raw: bool = True,
) -> Quarantined:
    """A quarantine row: a bounded excerpt and the input's digest; the input's bytes (when small
    enough) only if ``keep_raw`` (the first row of its input: a file of 4,000 broken lines must not
    carry its whole self 4,000 times)."""
    uri, path = located(raw, position)
    return Quarantined(
        source_uri=uri,
        source_path=path,
        landing_date=raw.landing_date,
        stage=stage,
        reason=reason,
        expectation=None,
        article_id=article_id(path),
        encoding=encoding,
        size_bytes=len(raw.data),
        raw_sha256=raw.raw_sha256,
        raw=raw.data if keep_raw and len(raw.data) <= QUARANTINE_KEEP_RAW_BYTES else None,
        text_excerpt=text[:2000] if text else None,
    )
