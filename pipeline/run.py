"""Run: compose the stages into one batch run. The one entry point of the CLI and the DAGs.

In:  a ``RunConfig`` (source, output, optional landing date, stage configs).
Out: published Parquet (``pipeline.write``), a run report ``OUT/_runs/<run_id>.json`` and a
     ledger ``OUT/_runs/<run_id>.ledger.parquet`` with one row per document (written,
     quarantined or duplicate: nothing an input held goes unaccounted for); returns the
     ``RunReport``. Raises ``StageError`` when the run cannot complete (the report still says why).

Flow: the main process lists the files and cuts them into tasks (bounded in files and bytes);
worker processes fetch, decode, parse, clean, date and describe each document and send back one
Arrow batch per task; the main process validates chunks with the row suite, drops duplicates
(same cleaned text; the first in path order wins), stages Parquet, validates each landing date
with the batch suite, and publishes the dates that passed in one atomic swap. At most
``2 x workers`` tasks are in flight, so memory stays bounded whatever the corpus size, and the
output is the same with one worker or many (tasks are consumed in path order).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import multiprocessing
import os
import secrets
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import __version__
from .clean import normalize, remove_boilerplate
from .config import RunConfig
from .dates import resolve
from .dedup import DuplicateIndex, load_published
from .errors import BatchValidationError, StageError
from .fetch import FetchFailure, FetchItem, RawDocument, Skipped, Source, list_items, read_item
from .formats import read_document
from .metadata import article_id, content_sha256, detect_language, extract, minhash
from .parse import Parsed, Rejected
from .records import (
    ARTICLE_SCHEMA,
    LEDGER_SCHEMA,
    QUARANTINE_KEEP_RAW_BYTES,
    QUARANTINE_SCHEMA,
    Article,
    LedgerEntry,
    Quarantined,
    to_batch,
)
from .validate import Validator
from .write import Stager, key_of, publish

log = logging.getLogger("news_etl")


# ---------------------------------------------------------------------------------------------
# One document


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
    date = resolve(header.date, ext.dateline, header.url, raw.landing_date, config.dates)
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


# ---------------------------------------------------------------------------------------------
# One task (runs in a worker)


@dataclass
class TaskResult:
    articles: pa.RecordBatch
    quarantined: list[Quarantined]
    skipped: list[Skipped]
    files: int
    documents: int
    bytes_read: int
    seconds: float


def process_task(source: Source, items: list[FetchItem], config: RunConfig) -> TaskResult:
    t0 = time.perf_counter()
    articles: list[Article] = []
    quarantined: list[Quarantined] = []
    skipped: list[Skipped] = []
    documents = 0
    nbytes = 0
    for item in items:
        for got in read_item(source, item, config.fetch):
            if isinstance(got, Skipped):
                skipped.append(got)
                continue
            documents += 1
            if isinstance(got, FetchFailure):
                quarantined.append(Quarantined(got.source_uri, got.source_path, got.landing_date, "fetch", got.reason,
                                               None, article_id(got.source_path), None, got.size_bytes, None, got.data, None))
                continue
            nbytes += len(got.data)
            try:
                results = process_document(got, config)
            except Exception as exc:  # a bug must not lose the document: quarantine it, say so
                log.exception("unexpected error on %s", got.source_uri)
                results = [Quarantined(got.source_uri, got.source_path, got.landing_date, "internal",
                                       f"unexpected error ({type(exc).__name__}: {exc}); please report it",
                                       None, article_id(got.source_path), None, len(got.data), got.raw_sha256,
                                       got.data if len(got.data) <= QUARANTINE_KEEP_RAW_BYTES else None, None)]
            documents += len(results) - 1
            for out in results:
                (articles if isinstance(out, Article) else quarantined).append(out)
    return TaskResult(to_batch(articles, ARTICLE_SCHEMA), quarantined, skipped, len(items), documents, nbytes,
                      time.perf_counter() - t0)


def make_tasks(items: list[FetchItem], max_files: int, max_bytes: int) -> list[list[FetchItem]]:
    tasks: list[list[FetchItem]] = []
    current: list[FetchItem] = []
    size = 0
    for item in items:
        if current and (len(current) >= max_files or size + max(item.size, 0) > max_bytes):
            tasks.append(current)
            current, size = [], 0
        current.append(item)
        size += max(item.size, 0)
    if current:
        tasks.append(current)
    return tasks


def _worker_init() -> None:
    # Workers stay quiet: their errors come back as quarantine rows, not log noise.
    logging.getLogger().setLevel(logging.WARNING)


def _results(source: Source, tasks: list[list[FetchItem]], config: RunConfig, workers: int) -> Iterator[TaskResult]:
    """Task results in task order, with at most 2 x workers tasks in flight (bounded memory)."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield process_task(source, task, config)
        return
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    window = 2 * workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        pending: collections.deque[Future] = collections.deque()
        it = iter(tasks)
        for task in it:
            pending.append(pool.submit(process_task, source, task, config))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(process_task, source, nxt, config))
            yield result


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class RunReport:
    run_id: str
    status: str  # succeeded | failed | empty
    source: str
    output: str
    date: str | None
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    workers: int = 1
    pipeline_version: str = __version__
    files_seen: int = 0
    documents_seen: int = 0
    articles_written: int = 0
    quarantined: int = 0
    duplicates: int = 0
    duplicate_kinds: dict[str, int] = field(default_factory=dict)
    published_indexed: int = 0
    bytes_read: int = 0
    files_skipped: list[dict] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_by_stage: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    date_sources: dict[str, int] = field(default_factory=dict)
    date_precisions: dict[str, int] = field(default_factory=dict)
    repaired_documents: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    batches: dict[str, dict] = field(default_factory=dict)  # per landing date: counts, published
    published_snapshot: str | None = None
    partitions: list[str] = field(default_factory=list)
    ledger: str | None = None
    error: str | None = None

    def balanced(self) -> bool:
        return self.documents_seen == self.articles_written + self.quarantined + self.duplicates

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=str)


def _reason_key(q: Quarantined) -> str:
    if q.expectation:
        return q.expectation
    return f"{q.stage}: {q.reason.split(':')[0].split('(')[0].strip()}"


def _count(counter: dict[str, int], values) -> None:
    for v in values:
        if v is None:
            continue
        counter[str(v)] = counter.get(str(v), 0) + 1


def new_run_id(date: str | None) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{date or 'all'}-{secrets.token_hex(3)}"


def run(config: RunConfig, on_progress: Callable[[dict], None] | None = None) -> RunReport:
    """Run the pipeline once; see the module docstring."""
    started = time.perf_counter()
    run_id = config.run_id or new_run_id(config.date)
    output = Path(config.output).expanduser().resolve()
    report = RunReport(run_id=run_id, status="failed", source=config.source, output=str(output), date=config.date,
                       started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    stage = collections.Counter()
    try:
        date = None
        if config.date:
            try:
                date = dt.date.fromisoformat(config.date)
            except ValueError:
                raise StageError("fetch", f"--date {config.date!r} is not a date", hint="use YYYY-MM-DD") from None
        validator = Validator(config.validate) if config.validate.enabled else None

        t = time.perf_counter()
        source = Source(config.source)
        items, skipped = list_items(source, date, config.fetch)
        stage["list"] += time.perf_counter() - t
        report.files_seen = len(items)
        report.files_skipped = [{"source_uri": s.source_uri, "reason": s.reason} for s in skipped]
        workers = min(config.effective_workers(), max(1, len(items)))
        report.workers = workers

        output.mkdir(parents=True, exist_ok=True)
        stager = Stager(output, run_id, config.write)
        ledger: list[LedgerEntry] = []
        duplicates = DuplicateIndex(config.near_duplicate_jaccard)
        if config.dedup_against_published:
            t0 = time.perf_counter()
            replaced = {key_of(i.landing_date) for i in items}
            report.published_indexed = load_published(output, duplicates, replaced)
            stage["dedup (load published)"] += time.perf_counter() - t0
        buffer: list[pa.RecordBatch] = []
        buffered = 0
        keys_seen: set[str] = set()
        files_done = 0

        def stage_quarantine(rows: list[Quarantined]) -> None:
            if not rows:
                return
            stager.add_quarantine(to_batch(rows, QUARANTINE_SCHEMA), [key_of(q.landing_date) for q in rows])
            report.quarantined += len(rows)
            for q in rows:
                reason = _reason_key(q)
                report.quarantine_reasons[reason] = report.quarantine_reasons.get(reason, 0) + 1
                report.quarantine_by_stage[q.stage] = report.quarantine_by_stage.get(q.stage, 0) + 1
                ledger.append(LedgerEntry(q.source_uri, "quarantined", q.article_id, None, q.reason))

        def flush() -> None:
            nonlocal buffer, buffered
            if not buffer:
                return
            table = pa.Table.from_batches(buffer, schema=ARTICLE_SCHEMA)
            buffer, buffered = [], 0
            t0 = time.perf_counter()
            failures = validator.rows(table) if validator else []
            stage["validate_rows"] += time.perf_counter() - t0
            if failures:
                bad = {f.index: f for f in failures}
                rows = table.take(pa.array(list(bad), pa.int64())).to_pylist()
                stage_quarantine([
                    Quarantined(r["source_uri"], r["source_path"], r["landing_date"], "validate", f.reason,
                                ", ".join(f.expectations), r["article_id"], r["encoding"], len(r["text"].encode()),
                                r["raw_sha256"], None, r["text"][:2000])
                    for f, r in zip(bad.values(), rows)
                ])
                mask = pa.array([i not in bad for i in range(table.num_rows)])
                table = table.filter(mask)
            # De-duplicate: exact text, then near (MinHash); first in path order wins.
            t0 = time.perf_counter()
            keep = []
            shas = table.column("content_sha256").to_pylist()
            ids = table.column("article_id").to_pylist()
            uris = table.column("source_uri").to_pylist()
            sigs = table.column("minhash").to_pylist()
            for sha, aid, uri, sig in zip(shas, ids, uris, sigs):
                dup = duplicates.check(sha, sig)
                if dup is None:
                    duplicates.add(aid, sha, sig)
                    keep.append(True)
                    ledger.append(LedgerEntry(uri, "written", aid, None, None))
                else:
                    keep.append(False)
                    report.duplicates += 1
                    report.duplicate_kinds[dup.kind] = report.duplicate_kinds.get(dup.kind, 0) + 1
                    what = "same text as" if dup.kind == "exact" else f"near duplicate (Jaccard ~{dup.similarity:.2f}) of"
                    ledger.append(LedgerEntry(uri, "duplicate", aid, dup.of, f"{what} article {dup.of}"))
            stage["dedup"] += time.perf_counter() - t0
            if not all(keep):
                table = table.filter(pa.array(keep))
            t0 = time.perf_counter()
            landing = table.column("landing_date").to_pylist()
            keys = [key_of(d) for d in landing]
            keys_seen.update(keys)
            stager.add_articles(table, keys)
            stage["write"] += time.perf_counter() - t0
            report.articles_written += table.num_rows
            _count(report.encodings, table.column("encoding").to_pylist())
            _count(report.languages, table.column("language").to_pylist())
            _count(report.date_sources, table.column("date_source").to_pylist())
            _count(report.date_precisions, table.column("date_precision").to_pylist())
            report.repaired_documents += sum(1 for r in table.column("repairs").to_pylist() if r)

        tasks = make_tasks(items, config.task_files, config.task_bytes)
        t_process = time.perf_counter()
        last_progress = 0.0
        for result in _results(source, tasks, config, workers):
            stage["process (workers, summed)"] += result.seconds
            files_done += result.files
            report.documents_seen += result.documents
            report.bytes_read += result.bytes_read
            report.files_skipped.extend({"source_uri": s.source_uri, "reason": s.reason} for s in result.skipped)
            for q in result.quarantined:
                keys_seen.add(key_of(q.landing_date))
            stage_quarantine(result.quarantined)
            if result.articles.num_rows:
                buffer.append(result.articles)
                buffered += result.articles.num_rows
                if buffered >= config.validate.chunk_rows:
                    flush()
            now = time.perf_counter()
            if on_progress and (now - last_progress > 1.0 or files_done == len(items)):
                last_progress = now
                on_progress({"files_done": files_done, "files": len(items), "documents": report.documents_seen,
                             "articles": report.articles_written + buffered, "quarantined": report.quarantined,
                             "seconds": now - started})
        flush()
        stage["process (wall)"] = time.perf_counter() - t_process
        stager.close()

        for k in keys_seen:
            stager.touch(k)
        if report.documents_seen == 0:
            report.status = "empty"
            stager.discard()
            return report

        # Batch-level validation, one batch per landing date.
        t0 = time.perf_counter()
        passed: list[str] = []
        failed: dict[str, list[str]] = {}
        for key in sorted(stager.keys):
            staged = stager.keys[key]
            info = {"articles": staged.articles, "quarantined": staged.quarantined, "published": False}
            if validator:
                files = [stager.root / rel for rel in staged.article_files]
                view = pq.read_table(files, columns=[n for n in ARTICLE_SCHEMA.names if n != "text"], schema=ARTICLE_SCHEMA) \
                    if files else ARTICLE_SCHEMA.empty_table().drop(["text"])
                result = validator.batch(view)
                info["expectations"] = result.results
                if not result.success:
                    failed[key] = result.failures
                    info["failures"] = result.failures
                    report.batches[key] = info
                    continue
            passed.append(key)
            report.batches[key] = info
        stage["validate_batches"] += time.perf_counter() - t0
        report.validation = {
            "row_suite": config.validate.row_suite if validator else None,
            "batch_suite": config.validate.batch_suite if validator else None,
            "batches_passed": len(passed),
            "batches_failed": len(failed),
        }

        t0 = time.perf_counter()
        if passed:
            manifests = {
                key: {"key": key, "run_id": run_id, "pipeline_version": __version__, "source": config.source,
                      "articles": stager.keys[key].articles, "quarantined": stager.keys[key].quarantined,
                      "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
                for key in passed
            }
            report.partitions = sorted({rel.rsplit("/", 1)[0] for k in passed for rel in stager.keys[k].article_files})
            report.published_snapshot = publish(output, stager, passed, manifests, config.write)
            for key in passed:
                report.batches[key]["published"] = True
        else:
            stager.discard()
        stage["publish"] += time.perf_counter() - t0
        if failed:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(failed.items()))
            raise BatchValidationError([details], source=config.source,
                                       report_path=str(output / "_runs" / f"{run_id}.json"))
        report.status = "succeeded"
        return report
    except StageError as exc:
        report.error = str(exc)
        raise
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report.seconds = round(time.perf_counter() - started, 3)
        report.finished_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        report.stage_seconds = {k: round(v, 3) for k, v in stage.items()}
        _write_report(output, report, locals().get("ledger"))


def _write_report(output: Path, report: RunReport, ledger: list[LedgerEntry] | None) -> None:
    try:
        runs = output / "_runs"
        runs.mkdir(parents=True, exist_ok=True)
        if ledger:
            path = runs / f"{report.run_id}.ledger.parquet"
            pq.write_table(pa.Table.from_batches([to_batch(ledger, LEDGER_SCHEMA)]), path, compression="zstd")
            report.ledger = str(path)
        tmp = runs / f".{report.run_id}.json.tmp"
        tmp.write_text(report.to_json(), encoding="utf-8")
        os.replace(tmp, runs / f"{report.run_id}.json")
    except OSError as exc:  # the report must never hide the run's own error
        log.warning("could not write the run report: %s", exc)
