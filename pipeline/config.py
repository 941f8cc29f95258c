"""Frozen configuration, one object per stage, every default explained where it is set.

Configs are plain values passed explicitly down the call chain; nothing in the library reads
environment variables. The CLI and the DAGs build a ``RunConfig`` and hand it to ``pipeline.run``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MiB = 1024 * 1024

# The repository's expectations/ folder, next to the package. An installed (non-editable) copy
# has to be told where the suites are (ValidateConfig.expectations_dir / --expectations).
DEFAULT_EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


@dataclass(frozen=True)
class FetchConfig:
    # Landing layouts tried, in order, to find the files of one date under the source. `{date}` is
    # YYYY-MM-DD; `{yyyy}/{mm}/{dd}` the nested form. Without --date the same layouts give each
    # file its landing date from its path.
    layouts: tuple[str, ...] = ("{date}", "{yyyy}/{mm}/{dd}")
    # One document larger than this (after decompression) is quarantined, not read whole into
    # memory: news articles are kilobytes, a 64 MiB "article" is a mistake upstream.
    max_document_bytes: int = 64 * MiB
    # An archive is expanded in memory; these bound what one archive may expand to.
    max_archive_bytes: int = 512 * MiB
    max_archive_members: int = 100_000
    # Dot-files (.DS_Store, editor swap files, our own staging folders) are not articles. They are
    # listed in the run report as skipped, never silently ignored.
    skip_hidden: bool = True
    # Keep every input's bytes (after decompression) in OUT/raw/landing=<date>/ (zstd Parquet),
    # published with the date, so that a run can be replayed exactly even when the source (a
    # scraper folder, a remote bucket) has changed since. Off by default: it doubles the storage.
    keep_raw: bool = False


@dataclass(frozen=True)
class DecodeConfig:
    # Legacy code pages tried when a file is not UTF-8, best first. cp1252 is a superset of the
    # printable latin-1 range and the most common legacy encoding of Western news by far; iso-8859-15
    # differs in 8 positions (the euro sign, œ, Œ, Ÿ, Š, š, Ž, ž) and wins only where its reading
    # is more plausible; latin-1 is total, so it is the last resort that never fails.
    legacy_encodings: tuple[str, ...] = ("cp1252", "iso-8859-15", "latin-1")
    # Mojibake can be stacked (UTF-8 read as cp1252, saved, read as cp1252 again). Three passes
    # undo everything seen in the wild; more would only risk false repairs.
    max_mojibake_passes: int = 3
    # Code pages of scripts other than Latin, tried on a file that is not UTF-8 and declares
    # nothing, before the Latin ones above. gb18030 reads all of GB2312 and GBK, cp874 all of
    # TIS-620; Shift-JIS, Big5 and EUC-KR come before the supersets that read a few of their byte
    # sequences otherwise (cp932; cp950, big5hkscs; cp949), which win only where the bytes need
    # their extensions (a reading that must drop bytes scores lower). Order breaks ties.
    detect_encodings: tuple[str, ...] = (
        "gb18030",
        "big5",
        "cp950",
        "big5hkscs",
        "shift_jis",
        "cp932",
        "euc_jp",
        "euc_jis_2004",
        "euc_kr",
        "cp949",
        "cp1251",
        "koi8-r",
        "cp1253",
        "cp1255",
        "cp1256",
        "cp874",
    )
    # The share of a reading's letters that must be the common letters of its language (see
    # decode._COMMON) for that reading to win over the Latin code pages. The right reading of news
    # text scores 0.6-0.9, a wrong one at most 0.6 and usually below 0.3, a Latin text read with
    # any of them at most 0 (measured on our golden texts and every non-UTF-8 corpus file).
    min_detect_score: float = 0.4
    # Fewer non-ASCII characters than this are too little evidence for any non-Latin code page.
    min_detect_chars: int = 8
    # A declared multi-byte charset (or a detected candidate) still wins when a few bytes are
    # invalid in it (a page cut or patched by hand; they are dropped and counted); more than this
    # share of its non-ASCII bytes and the declaration is ignored (the candidate is out).
    max_declared_invalid: float = 0.01


# Whole-line boilerplate, per language (ISO 639-1) plus "*" for every language. Patterns are
# regular expressions matched case-insensitively against a whole stripped line. Keep them tight:
# a pattern that matches a real sentence deletes text.
_DEFAULT_BOILERPLATE: dict[str, tuple[str, ...]] = {
    "*": (
        r"(share|partager|teilen)( (this|on|sur|via) \w+)?( (article|story))?",
        r"(facebook|twitter|linkedin|whatsapp|e-?mail|imprimer|print)"
        r"( ?[|·•/] ?(facebook|twitter|linkedin|whatsapp|e-?mail|imprimer|print))+",
    ),
    "fr": (
        r"réagissez",
        r"réagir",
        r"commentez?( cet article)?",
        r"\d+ commentaires?",
        r"partagez?( cet article| sur \w+)?",
        r"publicité",
        r"abonnez-vous.{0,60}",
        r"lire aussi ?:?.{0,160}",
        r"à lire aussi ?:?.{0,160}",
        r"(ce site|nous) utilise(z|ons)? des cookies.{0,200}",
        r"accepter (les|tous les) cookies",
        r"suivez-nous sur .{0,60}",
    ),
    "en": (
        r"advertisement",
        r"share( this)?( article| story)?",
        r"comments?( \(\d+\))?",
        r"\d+ comments?",
        r"leave a comment",
        r"read more ?:?.{0,160}",
        r"related ?:.{0,160}",
        r"sign up for our newsletter.{0,120}",
        r"(this (web)?site|we) uses? cookies.{0,200}",
        r"accept (all )?cookies",
        r"follow us on .{0,60}",
    ),
    "de": (
        r"anzeige",
        r"werbung",
        r"kommentare?( \(\d+\))?",
        r"artikel teilen",
        r"mehr zum thema.{0,160}",
        r"(diese website|wir) (verwendet|verwenden|nutzt|nutzen) cookies.{0,200}",
    ),
}


def default_boilerplate() -> dict[str, tuple[str, ...]]:
    """A fresh copy of the default lists, to extend: ``{**default_boilerplate(), "es": (...)}``."""
    return dict(_DEFAULT_BOILERPLATE)


@dataclass(frozen=True)
class CleanConfig:
    # A plain dict (it must pickle to worker processes); treat it as read-only.
    boilerplate: Mapping[str, tuple[str, ...]] = field(default_factory=default_boilerplate)
    # Unescape HTML/XML entities (&quot; &amp; &#8217;) that scrapers leave in plain text.
    unescape_entities: bool = True


@dataclass(frozen=True)
class DateConfig:
    # Numeric dates like 8-1-2019 are read day first (European press). A first number over 12 is
    # always a day; a second number over 12 makes the date month-first whatever this says.
    day_first: bool = True
    # A date with a time but no zone is taken in this zone, then converted to UTC. Dates without a
    # time are not shifted: a day is a day.
    default_timezone: str = "UTC"
    # Dates outside [min_year, landing date + max_future_days] are rejected as implausible.
    min_year: int = 1800
    max_future_days: int = 2


@dataclass(frozen=True)
class MetadataConfig:
    # Language is identified on a bounded prefix: 1,000 characters are as accurate as the whole
    # article for news prose and keep the cost per document constant.
    language_prefix_chars: int = 1000
    # Restrict identification to these ISO 639 codes (None: all of py3langid's, Chinese, Japanese,
    # Korean, Thai, Arabic and Russian among them).
    languages: tuple[str, ...] | None = None
    # Below this probability the best guess is not an identification: the language is `und`. On
    # the developer corpora every Reuters number table (`Shr 27 cts vs 39 cts ...`, guessed as
    # Nigerian Pidgin or English at 0.1-0.5) falls below it; prose of a few lines scores over 0.9.
    language_min_score: float = 0.5
    # A first line is a title when it is short and does not read like a sentence.
    title_max_chars: int = 300
    title_max_words: int = 40
    # A sub-heading is a short standalone line between paragraphs.
    subheading_max_words: int = 12
    subheading_max_chars: int = 100


@dataclass(frozen=True)
class ValidateConfig:
    expectations_dir: Path = DEFAULT_EXPECTATIONS_DIR
    row_suite: str = "articles_rows"
    batch_suite: str = "articles_batch"
    # Validation off is for debugging only: the CLI flag says so.
    enabled: bool = True
    # Row-level expectations run on chunks of this many rows: about 40 MB of text in Arrow (GX sees
    # only narrow columns: its regexes run before it, ``validate.predicate_suite``), so memory stays
    # bounded whatever the date's size. GX costs about 55 ms a call on top of about 11 us a row:
    # 29 us a row with chunks of 3,000, 21 us with 6,000, 16 us with 12,000.
    chunk_rows: int = 6_000


@dataclass(frozen=True)
class WriteConfig:
    compression: str = "zstd"
    compression_level: int = 3
    # Row groups of ~10k articles (~40 MB of text) keep reads selective and writers' memory flat.
    row_group_rows: int = 10_000
    # Published snapshots kept besides the current one, so that a reader that listed files just
    # before a publish can still open them.
    keep_snapshots: int = 2


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@dataclass(frozen=True)
class RunConfig:
    source: str
    output: str
    # A landing date (YYYY-MM-DD) or None for everything under the source.
    date: str | None = None
    # Worker processes; 0 means one per available core.
    workers: int = 0
    # Files are handed to workers in tasks of at most this many files / bytes: large enough to
    # amortise inter-process overhead (a few ms a task), small enough that a worker's memory and
    # the results in flight stay small (128 articles of 7 KB: about 25 MB a worker at its peak).
    task_files: int = 128
    task_bytes: int = 16 * MiB
    run_id: str | None = None
    # Near duplicates: MinHash-estimated Jaccard similarity of word 5-shingles at or above which two
    # articles are one story (None: exact duplicates only). 0.7 keeps small edits together and
    # template stories (market reports, weather) apart.
    near_duplicate_jaccard: float | None = 0.7
    # Also look for duplicates among the articles earlier runs published (other landing dates).
    dedup_against_published: bool = True
    # fsspec options for a remote source and output (credentials, endpoint_url, ...), e.g.
    # {"key": ..., "secret": ..., "client_kwargs": {"endpoint_url": "http://minio:9000"}}. Empty:
    # the backend's own defaults (for S3 the standard AWS variables and credential files).
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    # With an object-store output, shards stage in a local work folder before uploading:
    # this folder (default: the system's temporary folder). A local output is its own work folder.
    work_dir: str | None = None
    fetch: FetchConfig = field(default_factory=FetchConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    dates: DateConfig = field(default_factory=DateConfig)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    write: WriteConfig = field(default_factory=WriteConfig)

    def effective_workers(self) -> int:
        return self.workers if self.workers > 0 else default_workers()

    def with_(self, **changes) -> RunConfig:
        return replace(self, **changes)
