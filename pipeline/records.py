"""The typed records that travel between stages, and the one Arrow schema of each dataset.

``Article`` is what a document becomes; ``Quarantined`` is what a document becomes when it cannot
be an article (with the stage and the reason); ``LedgerEntry`` accounts for every document of a
run. Each has exactly one Arrow schema, declared here and nowhere else; ``tests/test_records.py``
keeps the dataclasses and the schemas from drifting apart.

Partition columns (``year``, ``month`` of the articles; ``landing`` of the quarantine) are not
stored inside the Parquet files: they live in the hive paths, where every reader finds them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 3


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """What changed in one dataset's columns from schema version ``version`` to ``version + 1``:
    ``pipeline.migrate`` applies these, in order, to the published files of an older version.
    Added columns take the type of the current schema and are null in the rows written before."""

    version: int  # files of this version become version + 1
    dataset: str  # articles | quarantine | raw
    added: tuple[str, ...] = ()  # null in older rows
    renamed: tuple[tuple[str, str], ...] = ()  # (old name, new name)
    dropped: tuple[str, ...] = ()


# Every change since the oldest version that can be migrated (MIGRATES_FROM). Adding a column:
# bump SCHEMA_VERSION, declare the change here, and freeze an output of the old version under
# tests/golden/ (CONTRIBUTING.md, "Add a column").
MIGRATES_FROM = 2
SCHEMA_CHANGES = (
    # Version 2 gained these columns without a bump (commits 07a7597 and b77162d): a version-2 file
    # holds 32, 33 or all 37 article columns. Migration keeps those it has and adds the others.
    SchemaChange(2, "articles", added=("reading_time_minutes", "section", "image", "license", "hostname")),
)

TS_UTC = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True, slots=True)
class Article:
    article_id: str  # stable: derived from the source path (and position inside a container)
    source_uri: str  # where the bytes came from (file, URL, or archive!member)
    source_path: str  # path relative to the source root
    landing_date: (
        dt.date | None
    )  # the landing folder's date (or --date): when the file reached us, never a publication date
    format: str  # text | html | json | sgml | feed
    url: str | None  # the article's own URL, from its header
    source_name: str | None  # the publication, from its header
    title: str | None
    authors: list[str]
    description: str | None
    topics: list[str]  # topics, categories, tags: one keyword each
    section: str | None  # the publication's section (article:section, JSON-LD articleSection)
    places: list[str]
    subheadings: list[str]
    text: str
    language: str
    language_score: float
    # Only a date the document states (dates.resolve); null when it states none (date_source none).
    # The Parquet partition year=/month= is this date's, else the landing date's (write.partition_dates).
    published_at: dt.datetime | None  # UTC; truncated to date_precision
    date_precision: str | None  # year | month | day | minute | second; null with published_at
    date_source: str | None  # header | htmldate | dateline | url | none (dates.SOURCES)
    utc_offset_minutes: int | None  # the source's own UTC offset: published_at + offset = local time
    encoding: str
    repairs: list[str]  # every change decode made beyond a plain decode
    undecodable_bytes: int
    content_sha256: str  # of `text`
    raw_sha256: str  # of the input bytes (after decompression)
    word_count: int
    char_count: int
    reading_time_minutes: int  # words / 200 rounded up (by characters in Chinese, Japanese)
    image: str | None  # URL of the article's lead image (og:image, JSON-LD image)
    license: str | None  # the licence the page states (trafilatura's reading of it)
    hostname: str | None  # the domain of the article's URL (telegraph.co.uk), as trafilatura gives it
    quotes: list[str]
    warnings: list[str]  # things worth a look that did not stop the article
    minhash: bytes  # MinHash signature of the text (64 x uint32): near-duplicate detection
    extra: dict[str, str]  # unmapped source fields (JSON keys, SGML attributes), JSON-encoded
    pipeline_version: str


ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("landing_date", pa.date32()),
        pa.field("format", pa.string()),
        pa.field("url", pa.string()),
        pa.field("source_name", pa.string()),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("description", pa.string()),
        pa.field("topics", pa.list_(pa.string())),
        pa.field("section", pa.string()),
        pa.field("places", pa.list_(pa.string())),
        pa.field("subheadings", pa.list_(pa.string())),
        pa.field("text", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("language_score", pa.float32()),
        pa.field("published_at", TS_UTC),
        pa.field("date_precision", pa.string()),
        pa.field("date_source", pa.string()),
        pa.field("utc_offset_minutes", pa.int16()),
        pa.field("encoding", pa.string()),
        pa.field("repairs", pa.list_(pa.string())),
        pa.field("undecodable_bytes", pa.int32()),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("char_count", pa.int32()),
        pa.field("reading_time_minutes", pa.int32()),
        pa.field("image", pa.string()),
        pa.field("license", pa.string()),
        pa.field("hostname", pa.string()),
        pa.field("quotes", pa.list_(pa.string())),
        pa.field("warnings", pa.list_(pa.string())),
        pa.field("minhash", pa.binary(256)),
        pa.field("extra", pa.map_(pa.string(), pa.string())),
        pa.field("pipeline_version", pa.string()),
    ],
    metadata={"news_etl.schema_version": str(SCHEMA_VERSION), "news_etl.dataset": "articles"},
)


@dataclass(frozen=True, slots=True)
class Quarantined:
    source_uri: str
    source_path: str
    landing_date: dt.date | None
    stage: str  # fetch | decode | parse | clean | quality | dates | metadata | validate
    reason: str  # one line a person can act on
    expectation: str | None  # the failed expectation, when validate sent it here
    article_id: str | None
    encoding: str | None
    size_bytes: int
    raw_sha256: str | None
    # Bytes of small inputs are kept so that nothing is lost; large ones by reference only.
    raw: bytes | None
    text_excerpt: str | None


QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("landing_date", pa.date32()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("expectation", pa.string()),
        pa.field("article_id", pa.string()),
        pa.field("encoding", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("raw_sha256", pa.string()),
        pa.field("raw", pa.large_binary()),
        pa.field("text_excerpt", pa.string()),
    ],
    metadata={"news_etl.schema_version": str(SCHEMA_VERSION), "news_etl.dataset": "quarantine"},
)

# Quarantined inputs up to this size keep their bytes in the quarantine dataset.
QUARANTINE_KEEP_RAW_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    source_uri: str
    outcome: str  # written | quarantined | duplicate | skipped
    article_id: str | None
    duplicate_of: str | None
    reason: str | None


LEDGER_SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("article_id", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("reason", pa.string()),
    ]
)


RAW_SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("raw", pa.large_binary()),
    ],
    metadata={"news_etl.schema_version": str(SCHEMA_VERSION), "news_etl.dataset": "raw"},
)


def to_batch(records: list, schema: pa.Schema) -> pa.RecordBatch:
    """Records (dataclasses of one type) to one Arrow batch of the declared schema."""
    names = schema.names
    columns = {name: [getattr(r, name) for r in records] for name in names}
    return pa.RecordBatch.from_pydict(columns, schema=schema)


# The datasets of a run's staging (never published): what finalize reads from each shard.

# One row per staged article, in input order: what finalize de-duplicates and accounts from.
# Written in row groups whose landing_key statistics let a reader take one date's rows.
INDEX_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64()),
        pa.field("article_id", pa.string()),
        pa.field("source_uri", pa.string()),
        pa.field("landing_key", pa.string()),
        pa.field("content_sha256", pa.string()),
        pa.field("minhash", pa.binary(256)),
        pa.field("raw_sha256", pa.string()),
    ]
)

# One row per quarantined document of a shard, in the order the shard met them: the ledger rows
# finalize streams into the run's ledger (never held as a list: a file of broken JSON lines is
# one row per line).
QUARANTINE_LEDGER_SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("article_id", pa.string()),
        pa.field("reason", pa.string()),
    ]
)

# One row per input file of a shard, in path order: the plan's file list of that shard.
PLAN_SCHEMA = pa.schema(
    [
        pa.field("uri", pa.string()),
        pa.field("path", pa.string()),
        pa.field("rel", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("landing_date", pa.date32()),
    ]
)
