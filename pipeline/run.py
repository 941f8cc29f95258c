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
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import __version__
from .config import RunConfig
from .dedup import find_duplicates, published_batches
from .docs import DataDocs
from .errors import BatchValidationError, PublishError, StageError
from .document import process_document
from .fetch import FetchFailure, FetchItem, RawDocument, Skipped, Source, list_items, read_item
from .metadata import article_id
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
from .storage import STAGING, ObjectStore, open_store, publish_remote, work_dir
from .validate import Validator
from .write import Stager, key_of, publish

log = logging.getLogger("news_etl")


# ---------------------------------------------------------------------------------------------
# One task (runs in a worker)


@dataclass
class TaskResult:
    articles: pa.RecordBatch
    quarantined: list[Quarantined]
    raw: dict[str, list]  # landing key -> [(source_uri, source_path, sha256, bytes)] when keep_raw
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
    raw: dict[str, list] = {}
    for item in items:
        for got in read_item(source, item, config.fetch):
            if config.fetch.keep_raw and isinstance(got, RawDocument):
                raw.setdefault(key_of(got.landing_date), []).append((got.source_uri, got.source_path, got.raw_sha256, got.data))
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
    batch = to_batch(articles, ARTICLE_SCHEMA)
    del articles
    if multiprocessing.parent_process() is not None:  # a pool worker: keep its footprint flat
        _release_memory()
    return TaskResult(batch, quarantined, raw, skipped, len(items), documents, nbytes, time.perf_counter() - t0)


def make_tasks(items: Iterable[FetchItem], max_files: int, max_bytes: int) -> Iterator[list[FetchItem]]:
    """Consecutive items cut into tasks of at most ``max_files`` files and ``max_bytes`` bytes
    (a larger file is a task of its own), lazily."""
    current: list[FetchItem] = []
    size = 0
    for item in items:
        if current and (len(current) >= max_files or size + max(item.size, 0) > max_bytes):
            yield current
            current, size = [], 0
        current.append(item)
        size += max(item.size, 0)
    if current:
        yield current


_libc: object = None


def _release_memory() -> None:
    """Give freed memory back to the system between chunks: Arrow's pool keeps what it freed,
    and glibc's heap keeps freed blocks below its top, so a long run's peak would creep up with
    every chunk's temporary tables and frames. A few milliseconds a call."""
    global _libc
    pa.default_memory_pool().release_unused()
    if _libc is None:
        import ctypes
        import ctypes.util

        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to trim
            _libc = False
    if _libc:
        _libc(0)


def _worker_init() -> None:
    # Workers stay quiet: their errors come back as quarantine rows, not log noise.
    logging.getLogger().setLevel(logging.WARNING)
    # The coordinating process is the serial part of a shard (row validation, writing, feeding
    # the pool): workers yield the CPU to it, so it never starves the pool it feeds.
    try:
        os.nice(5)
    except OSError:
        pass


def _results(source: Source, tasks: Iterable[list[FetchItem]], config: RunConfig, workers: int) -> Iterator[TaskResult]:
    """Task results in task order, with at most 2 x workers tasks in flight (bounded memory)."""
    tasks = iter(tasks)
    first = list(itertools.islice(tasks, 2))
    tasks = itertools.chain(first, tasks)
    if workers <= 1 or len(first) <= 1:
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
# The run: plan -> process_shard (one or many, anywhere) -> finalize


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
    shards: int = 1
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
    formats: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    date_sources: dict[str, int] = field(default_factory=dict)
    date_precisions: dict[str, int] = field(default_factory=dict)
    repaired_documents: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    batches: dict[str, dict] = field(default_factory=dict)  # per landing date: counts, published
    published_snapshot: str | None = None
    partitions: list[str] = field(default_factory=list)
    data_docs: str | None = None
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


def _merge(into: dict[str, int], other: dict[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def new_run_id(date: str | None) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{date or 'all'}-{secrets.token_hex(3)}"


def _staging(output: Path, run_id: str) -> Path:
    return output / ".staging" / run_id


def _places(config: RunConfig) -> tuple[Path, ObjectStore | None]:
    """The local work folder of a run and, for an object-store output, the store. A local output
    is its own work folder; an object store's shards stage locally and travel through
    ``OUT/_staging/<run_id>/`` (``pipeline.storage``)."""
    return work_dir(config.output, config.work_dir), open_store(config.output, config.storage_options)


def _remote_staging(run_id: str, rel: str = "") -> str:
    return f"{STAGING}/{run_id}" + (f"/{rel}" if rel else "")


def _shard_dir(output: Path, run_id: str, index: int) -> Path:
    return _staging(output, run_id) / f"shard-{index:05d}"


def _parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise StageError("fetch", f"--date {value!r} is not a date", hint="use YYYY-MM-DD") from None


INDEX_SCHEMA = pa.schema([
    pa.field("seq", pa.int64()), pa.field("article_id", pa.string()), pa.field("source_uri", pa.string()),
    pa.field("landing_key", pa.string()), pa.field("content_sha256", pa.string()), pa.field("minhash", pa.binary(256)),
    pa.field("raw_sha256", pa.string()),
])


PLAN_SCHEMA = pa.schema([
    pa.field("uri", pa.string()), pa.field("path", pa.string()), pa.field("rel", pa.string()),
    pa.field("size", pa.int64()), pa.field("landing_date", pa.date32()),
])
_SHARD_LIST = "plan-shard-{:05d}.parquet"


def plan(config: RunConfig, shards: int = 1) -> dict:
    """List the source and cut it into ``shards`` contiguous, path-ordered shards.

    Writes ``OUT/.staging/<run_id>/plan.json`` and returns it (run_id, keys, shards). Balanced by
    bytes, so that shards take about the same time.
    """
    run_id = config.run_id or new_run_id(config.date)
    output, store = _places(config)
    date = _parse_date(config.date)
    source = Source(config.source, config.storage_options)
    items, skipped = list_items(source, date, config.fetch)
    n = max(1, min(shards, len(items) or 1))
    total = sum(max(i.size, 1) for i in items) or 1
    cuts: list[list[FetchItem]] = [[] for _ in range(n)]
    acc = 0
    for item in items:
        index = min(n - 1, acc * n // total)
        cuts[index].append(item)
        acc += max(item.size, 1)
    cuts = [c for c in cuts if c] or [[]]
    body = {
        "run_id": run_id, "source": config.source, "output": config.output if store else str(output), "date": config.date,
        "keys": sorted({key_of(i.landing_date) for i in items}),
        "skipped": [{"source_uri": s.source_uri, "reason": s.reason} for s in skipped],
        # Each shard's file list is its own Parquet file, read a batch at a time: a plan of
        # millions of files must not be an object per file in every task that reads it.
        "shards": [{"files": len(c), "bytes": sum(max(i.size, 0) for i in c), "list": _SHARD_LIST.format(k)}
                   for k, c in enumerate(cuts)],
        "planned_at": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    staging = _staging(output, run_id)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for k, c in enumerate(cuts):
        pq.write_table(pa.table({"uri": [i.uri for i in c], "path": [i.path for i in c], "rel": [i.rel for i in c],
                                 "size": [i.size for i in c], "landing_date": [i.landing_date for i in c]},
                                schema=PLAN_SCHEMA), staging / _SHARD_LIST.format(k), compression="zstd")
    with open(staging / "plan.json", "w", encoding="utf-8") as fh:
        json.dump(body, fh)
    del items
    if store:
        try:  # the first write to the output: where a missing bucket or a read-only key shows
            for k in range(len(cuts)):
                store.put_file(staging / _SHARD_LIST.format(k), _remote_staging(run_id, _SHARD_LIST.format(k)))
            store.put_file(staging / "plan.json", _remote_staging(run_id, "plan.json"))
        except Exception as exc:
            raise PublishError(f"cannot write to the output: {type(exc).__name__}: {exc}", source=config.output,
                               hint="check that the bucket exists and that the credentials may write to it "
                                    "(the news_etl_storage connection, the AWS_* variables or --storage-option)") from exc
    del cuts
    _release_memory()  # the listing was an object per file: give it back before the shards run
    return body


def _load_plan(output: Path, run_id: str, store: ObjectStore | None = None) -> dict:
    path = _staging(output, run_id) / "plan.json"
    if store and not path.exists():  # a shard on another machine than the plan
        text = store.read_text(_remote_staging(run_id, "plan.json"))
        if text is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise StageError("run", f"no plan for run {run_id}", source=str(path),
                         hint="run plan() first (the DAG's plan task), or rerun the whole date") from None


def _shard_items(output: Path, run_id: str, planned: dict, index: int,
                 store: ObjectStore | None = None) -> Iterator[FetchItem]:
    """The files of one shard, in path order, read from its list a batch at a time."""
    path = _staging(output, run_id) / planned["shards"][index]["list"]
    if store and not path.exists():  # a shard on another machine than the plan
        store.get_file(_remote_staging(run_id, path.name), path)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for uri, p, rel, size, day in zip(*(batch.column(n).to_pylist() for n in PLAN_SCHEMA.names)):
            yield FetchItem(uri, p, rel, size, day)


def process_shard(config: RunConfig, run_id: str, index: int,
                  on_progress: Callable[[dict], None] | None = None) -> dict:
    """Fetch, decode, parse, clean, date, describe and row-validate one shard of a plan.

    Writes the shard's staged Parquet, its index (ids, hashes, signatures in input order) and a
    summary; returns the summary. Idempotent: a retry starts the shard over.
    """
    started = time.perf_counter()
    output, store = _places(config)
    planned = _load_plan(output, run_id, store)
    n_files = planned["shards"][index]["files"]
    items = _shard_items(output, run_id, planned, index, store)
    source = Source(planned["source"], config.storage_options)
    root = _shard_dir(output, run_id, index)
    stager = Stager(root, index, config.write)
    validator = Validator(config.validate) if config.validate.enabled else None
    workers = min(config.effective_workers(), max(1, n_files))
    gx_loading = validator.load_in_background(ARTICLE_SCHEMA) if validator and workers > 1 else None
    stage: collections.Counter = collections.Counter()
    summary = {"shard": index, "files": n_files, "documents": 0, "quarantined": 0, "articles": 0, "bytes_read": 0,
               "skipped": [], "quarantine_reasons": {}, "quarantine_by_stage": {}, "quarantine_ledger": [],
               "encodings": {}, "formats": {}, "languages": {}, "date_sources": {}, "date_precisions": {},
               "repaired_documents": 0, "workers": workers, "keys": []}
    # The shard's index (what finalize de-duplicates and accounts from), written as it grows, in
    # row groups whose landing_key statistics let finalize read one date's rows.
    index_writer = pq.ParquetWriter(root / "index.parquet", INDEX_SCHEMA, compression="zstd")
    buffer: list[pa.RecordBatch] = []
    buffered = 0
    seq = 0
    keys_seen: set[str] = set()

    def stage_quarantine(rows: list[Quarantined]) -> None:
        if not rows:
            return
        stager.add_quarantine(to_batch(rows, QUARANTINE_SCHEMA), [key_of(q.landing_date) for q in rows])
        summary["quarantined"] += len(rows)
        for q in rows:
            keys_seen.add(key_of(q.landing_date))
            reason = _reason_key(q)
            summary["quarantine_reasons"][reason] = summary["quarantine_reasons"].get(reason, 0) + 1
            summary["quarantine_by_stage"][q.stage] = summary["quarantine_by_stage"].get(q.stage, 0) + 1
            summary["quarantine_ledger"].append([q.source_uri, q.article_id, q.reason])

    def flush() -> None:
        nonlocal buffer, buffered, seq
        if not buffer:
            return
        table = pa.Table.from_batches(buffer, schema=ARTICLE_SCHEMA)
        buffer, buffered = [], 0
        if gx_loading is not None and gx_loading.is_alive():  # import time is counted by the thread
            gx_loading.join()
        t0 = time.perf_counter()
        failures = validator.rows(table) if validator else []
        stage["validate rows"] += time.perf_counter() - t0
        if failures:
            bad = {f.index: f for f in failures}
            rows = table.take(pa.array(list(bad), pa.int64())).to_pylist()
            stage_quarantine([
                Quarantined(r["source_uri"], r["source_path"], r["landing_date"], "validate", f.reason,
                            ", ".join(f.expectations), r["article_id"], r["encoding"], len(r["text"].encode()),
                            r["raw_sha256"], None, r["text"][:2000])
                for f, r in zip(bad.values(), rows)
            ])
            table = table.filter(pa.array([i not in bad for i in range(table.num_rows)]))
        if table.num_rows == 0:
            return
        t0 = time.perf_counter()
        keys = [key_of(d) for d in table.column("landing_date").to_pylist()]
        keys_seen.update(keys)
        stager.add_articles(table, keys)
        index_writer.write_table(pa.Table.from_pydict({
            "seq": list(range(seq, seq + table.num_rows)), "article_id": table.column("article_id"),
            "source_uri": table.column("source_uri"), "landing_key": keys,
            "content_sha256": table.column("content_sha256"), "minhash": table.column("minhash"),
            "raw_sha256": table.column("raw_sha256")}, schema=INDEX_SCHEMA))
        seq += table.num_rows
        del table
        _release_memory()
        stage["write"] += time.perf_counter() - t0

    tasks = make_tasks(items, config.task_files, config.task_bytes)
    files_done = 0
    last = 0.0
    t_process = time.perf_counter()
    for result in _results(source, tasks, config, workers):
        stage["process (workers, summed)"] += result.seconds
        files_done += result.files
        summary["documents"] += result.documents
        summary["bytes_read"] += result.bytes_read
        summary["skipped"].extend({"source_uri": s.source_uri, "reason": s.reason} for s in result.skipped)
        stage_quarantine(result.quarantined)
        if result.raw:
            t0 = time.perf_counter()
            stager.add_raw(result.raw)
            stage["write raw"] += time.perf_counter() - t0
        if result.articles.num_rows:
            batch = result.articles
            buffer.append(batch)
            buffered += batch.num_rows
            _count(summary["encodings"], batch.column("encoding").to_pylist())
            _count(summary["formats"], batch.column("format").to_pylist())
            if buffered >= config.validate.chunk_rows:
                flush()
        now = time.perf_counter()
        if on_progress and (now - last > 1.0 or files_done == n_files):
            last = now
            on_progress({"files_done": files_done, "files": n_files, "documents": summary["documents"],
                         "quarantined": summary["quarantined"], "seconds": now - started})
    flush()
    stage["process (wall)"] = time.perf_counter() - t_process
    if gx_loading is not None:
        gx_loading.join()
        stage["gx import (background)"] = validator.load_seconds
    stager.close()
    index_writer.close()
    summary["articles"] = seq
    summary["keys"] = sorted(keys_seen)
    summary["article_files"] = {k: v.article_files for k, v in stager.keys.items()}
    summary["quarantine_files"] = {k: v.quarantine_files for k, v in stager.keys.items()}
    summary["raw_files"] = {k: v.raw_files for k, v in stager.keys.items()}
    summary["stage_seconds"] = {k: round(v, 3) for k, v in stage.items()}
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["hostname"] = os.uname().nodename
    tmp = root / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, default=str), encoding="utf-8")
    os.replace(tmp, root / "summary.json")
    if store:  # the summary goes last: its presence says the shard is complete
        remote = _remote_staging(run_id, root.name)
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "summary.json"):
            store.put_file(path, f"{remote}/{path.relative_to(root).as_posix()}")
        store.put_file(root / "summary.json", f"{remote}/summary.json")
        shutil.rmtree(root, ignore_errors=True)
    return summary


def _filter_file(src: Path, dst: Path, dropped_ids: pa.Array, config: RunConfig) -> None:
    """Copy a staged articles file without the rows whose id is in ``dropped_ids``, a few
    thousand rows at a time (a date's file can hold gigabytes of text)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    pending: list[pa.RecordBatch] = []
    buffered = 0
    with pq.ParquetWriter(dst, ARTICLE_SCHEMA, compression=config.write.compression,
                          compression_level=config.write.compression_level) as writer:
        for batch in pq.ParquetFile(src).iter_batches(batch_size=1000):
            batch = batch.filter(pc.invert(pc.is_in(batch.column("article_id"), dropped_ids)))
            pending.append(batch)
            buffered += batch.num_rows
            if buffered >= config.validate.chunk_rows:
                writer.write_table(pa.Table.from_batches(pending, schema=ARTICLE_SCHEMA))
                pending, buffered = [], 0
        if buffered:
            writer.write_table(pa.Table.from_batches(pending, schema=ARTICLE_SCHEMA))


def finalize(config: RunConfig, run_id: str, started: float | None = None) -> RunReport:
    """Merge a plan's shards: de-duplicate (input order), validate each landing date as a batch,
    publish the dates that pass in one atomic swap, write the run report and ledger.

    Raises ``BatchValidationError`` if a date failed (the others are published)."""
    started_given = started is not None
    started = started if started is not None else time.perf_counter()
    output, store = _places(config)
    if store:  # every shard's staged files, wherever they ran
        local = _staging(output, run_id)
        shutil.rmtree(local, ignore_errors=True)
        store.fs.invalidate_cache()
        store.get_dir(_remote_staging(run_id), local)
    planned = _load_plan(output, run_id, store)
    report = RunReport(run_id=run_id, status="failed", source=planned["source"], output=planned["output"],
                       date=planned["date"], started_at=planned["planned_at"], shards=len(planned["shards"]))
    stage: collections.Counter = collections.Counter()
    ledger = _Ledger(output / "_runs" / f"{run_id}.ledger.parquet")
    try:
        staging = _staging(output, run_id)
        summaries = []
        for index in range(len(planned["shards"])):
            path = _shard_dir(output, run_id, index) / "summary.json"
            if not path.exists():
                raise StageError("run", f"shard {index} of run {run_id} has not been processed", source=str(path),
                                 hint="rerun its process_shard task, then finalize again")
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        report.files_skipped = list(planned["skipped"])
        report.files_seen = sum(s["files"] for s in summaries)
        for s in summaries:
            report.documents_seen += s["documents"]
            report.quarantined += s["quarantined"]
            report.bytes_read += s["bytes_read"]
            report.files_skipped.extend(s["skipped"])
            report.workers = max(report.workers, s["workers"])
            for name in ("quarantine_reasons", "quarantine_by_stage", "encodings", "formats"):
                _merge(getattr(report, name), s[name])
            for k, v in s["stage_seconds"].items():
                stage[k] += v
            ledger.add([LedgerEntry(uri, "quarantined", aid, None, reason) for uri, aid, reason in s["quarantine_ledger"]])
        if report.documents_seen == 0:
            report.status = "empty"
            shutil.rmtree(staging, ignore_errors=True)
            if store:
                store.rm_prefix(_remote_staging(run_id))
            return report

        # De-duplicate across shards, in input order (shards are contiguous and path-ordered),
        # from the shards' index files: columnar, a batch at a time, never an object per article.
        t0 = time.perf_counter()
        index_paths = [_shard_dir(output, run_id, i) / "index.parquet" for i in range(len(planned["shards"]))]
        published = published_batches(config.output if store else output, set(planned["keys"]), config.storage_options) \
            if config.dedup_against_published else None
        report.published_indexed, found = find_duplicates(
            lambda: _index_batches(index_paths, ["article_id", "content_sha256", "minhash"]),
            config.near_duplicate_jaccard, published)
        dropped: set[str] = set()
        position = 0
        for part in _index_batches(index_paths, ["source_uri", "article_id"]):
            uris, aids = part.column("source_uri").to_pylist(), part.column("article_id").to_pylist()
            outcome, of, reason = ["written"] * len(aids), [None] * len(aids), [None] * len(aids)
            for k in range(len(aids)):
                dup = found.get(position + k)
                if dup is None:
                    continue
                dropped.add(aids[k])
                report.duplicates += 1
                report.duplicate_kinds[dup.kind] = report.duplicate_kinds.get(dup.kind, 0) + 1
                what = "same text as" if dup.kind == "exact" else f"near duplicate (Jaccard ~{dup.similarity:.2f}) of"
                outcome[k], of[k], reason[k] = "duplicate", dup.of, f"{what} article {dup.of}"
            position += len(aids)
            ledger.write(pa.record_batch([uris, outcome, aids, of, reason], schema=LEDGER_SCHEMA))
        del found
        _release_memory()
        stage["dedup"] += time.perf_counter() - t0

        # The final files of each key: shard files as they are, or filtered where duplicates were dropped.
        t0 = time.perf_counter()
        final = staging / "final"
        if final.exists():
            shutil.rmtree(final)
        files: dict[str, list[tuple[Path, str]]] = collections.defaultdict(list)
        dropped_ids = pa.array(sorted(dropped), pa.string())
        rows_by_file: dict[str, dict[str, int]] = collections.defaultdict(dict)
        keys = sorted({k for s in summaries for k in s["keys"]})
        rewrites: list[tuple[Path, Path]] = []
        for index, s in enumerate(summaries):
            root = _shard_dir(output, run_id, index)
            for key, entries in s["article_files"].items():
                for rel, rows in entries.items():
                    src = root / rel
                    if dropped:
                        ids = pq.read_table(src, columns=["article_id"]).column("article_id")
                        drop = pc.is_in(ids, dropped_ids)
                        n_drop = pc.sum(drop).as_py() or 0
                        if n_drop:
                            if n_drop == len(ids):
                                continue
                            src = final / rel
                            rewrites.append((root / rel, src))
                        rows = len(ids) - n_drop
                    files[key].append((src, rel))
                    rows_by_file[key][rel] = rows
            for name in ("quarantine_files", "raw_files"):
                for key, entries in s.get(name, {}).items():
                    for rel, rows in entries.items():
                        files[key].append((root / rel, rel))
                        rows_by_file[key][rel] = rows
        # Files that lost duplicates are rewritten on every core: Parquet decoding, filtering and
        # encoding run in Arrow, outside the GIL.
        threads = max(1, min(config.effective_workers(), len(rewrites)))
        if threads == 1:
            for src, dst in rewrites:
                _filter_file(src, dst, dropped_ids, config)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(lambda job: _filter_file(job[0], job[1], dropped_ids, config), rewrites))
        _release_memory()  # what the rewrites held goes back before the batch views are read
        stage["write"] += time.perf_counter() - t0

        # Batch-level validation, one batch per landing date, and the data docs of the run. Timed
        # apart: reading each date's view (ours), validating it and rendering the docs (GX's).
        validator = Validator(config.validate) if config.validate.enabled else None
        passed: list[str] = []
        failed: dict[str, list[str]] = {}
        docs: DataDocs | None = None
        if validator:
            try:
                docs = DataDocs(output, run_id)
            except Exception as exc:  # docs are a view of the results, never a reason to fail
                log.warning("could not write data docs: %s", exc)
        view_columns = [n for n in ARTICLE_SCHEMA.names if n != "text"]
        for key in keys:
            # The batch view: every article of the date that passed row validation, duplicates
            # included and flagged (is_duplicate), every column but the text.
            t0 = time.perf_counter()
            shard_files = [_shard_dir(output, run_id, i) / rel for i, s in enumerate(summaries)
                           for rel in s["article_files"].get(key, {})]
            view = pq.read_table(shard_files, columns=view_columns, schema=ARTICLE_SCHEMA) if shard_files \
                else ARTICLE_SCHEMA.empty_table().select(view_columns)
            view = view.append_column("is_duplicate", pc.is_in(view.column("article_id"), pa.array(sorted(dropped), pa.string())))
            quarantined = sum(r for rel, r in rows_by_file[key].items() if rel.startswith("quarantine/"))
            published_rows = view.num_rows - pc.sum(view.column("is_duplicate")).as_py() if view.num_rows else 0
            info = {"articles": published_rows, "duplicates": view.num_rows - published_rows, "quarantined": quarantined,
                    "published": False}
            kept = view.filter(pc.invert(view.column("is_duplicate")))
            _count(report.languages, kept.column("language").to_pylist())
            _count(report.date_sources, kept.column("date_source").to_pylist())
            _count(report.date_precisions, kept.column("date_precision").to_pylist())
            report.repaired_documents += pc.sum(pc.greater(pc.list_value_length(kept.column("repairs")), 0)).as_py() or 0
            stage["batch views"] += time.perf_counter() - t0
            if validator:
                t0 = time.perf_counter()
                result = validator.batch(view)
                stage["validate batches"] += time.perf_counter() - t0
                info["expectations"] = result.results
                if docs:
                    t0 = time.perf_counter()
                    try:
                        docs.add(key, result)
                    except Exception as exc:
                        log.warning("could not write data docs: %s", exc)
                        docs = None
                    stage["data docs"] += time.perf_counter() - t0
                result.raw = None
                if not result.success:
                    failed[key] = result.failures
                    info["failures"] = result.failures
                    report.batches[key] = info
                    continue
            passed.append(key)
            report.batches[key] = info
            del view, kept
            _release_memory()
        report.validation = {
            "row_suite": config.validate.row_suite if validator else None,
            "batch_suite": config.validate.batch_suite if validator else None,
            "batches_passed": len(passed),
            "batches_failed": len(failed),
        }
        if docs:
            t0 = time.perf_counter()
            try:
                index = docs.close()
                report.data_docs = str(index)
                if store:
                    store.put_dir(index.parent, f"_docs/{run_id}")
                    report.data_docs = store.uri(f"_docs/{run_id}/{index.name}")
            except Exception as exc:  # docs are a view of the results, never a reason to fail
                log.warning("could not write data docs: %s", exc)
            stage["data docs"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        report.articles_written = sum(report.batches[k]["articles"] for k in passed)
        if passed:
            manifests = {}
            for key in passed:
                n_inputs, digest = _inputs_digest(index_paths, key)
                manifests[key] = {
                    "key": key, "run_id": run_id, "pipeline_version": __version__, "source": planned["source"],
                    "articles": report.batches[key]["articles"], "quarantined": report.batches[key]["quarantined"],
                    "inputs": n_inputs, "inputs_sha256": digest,
                    "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "rows_by_file": rows_by_file[key],
                }
            report.partitions = sorted({rel.rsplit("/", 1)[0] for k in passed for _, rel in files.get(k, []) if rel.startswith("articles/")})
            if store:
                version = "v" + hashlib.sha256(run_id.encode()).hexdigest()[:12]
                report.published_snapshot = publish_remote(store, {k: files.get(k, []) for k in passed}, manifests, version)
            else:
                report.published_snapshot = publish(output, {k: files.get(k, []) for k in passed}, manifests, config.write)
            for key in passed:
                report.batches[key]["published"] = True
        # Articles of failed batches were not written; the equation counts them as quarantined.
        for key in failed:
            report.quarantined += report.batches[key]["articles"]
            report.quarantine_reasons[f"batch {key} failed"] = report.batches[key]["articles"]
        stage["publish"] += time.perf_counter() - t0
        shutil.rmtree(staging, ignore_errors=True)
        if store:
            store.rm_prefix(_remote_staging(run_id))
        if failed:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(failed.items()))
            raise BatchValidationError([details], source=planned["source"],
                                       report_path=f"{planned['output'].rstrip('/')}/_runs/{run_id}.json")
        report.status = "succeeded"
        return report
    except StageError as exc:
        report.error = str(exc)
        raise
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        now = dt.datetime.now(dt.timezone.utc)
        report.finished_at = now.isoformat(timespec="seconds")
        # Called by run(): time since run() started. Called on its own (the DAG's publish task): time
        # since the plan was made, so that the report covers every shard, wherever it ran.
        report.seconds = round(time.perf_counter() - started, 3) if started_given \
            else round((now - dt.datetime.fromisoformat(planned["planned_at"])).total_seconds(), 3)
        report.stage_seconds = {k: round(v, 3) for k, v in stage.items()}
        _write_report(output, report, ledger, store)


def run(config: RunConfig, on_progress: Callable[[dict], None] | None = None) -> RunReport:
    """Run the pipeline once, in this process and its workers: plan, one shard, finalize."""
    started = time.perf_counter()
    output, store = _places(config)
    run_id = config.run_id or new_run_id(config.date)
    config = config.with_(run_id=run_id)
    try:
        if config.validate.enabled:
            Validator(config.validate)  # a missing or broken suite fails before any work
        output.mkdir(parents=True, exist_ok=True)
        plan(config, shards=1)
        process_shard(config, run_id, 0, on_progress)
    except StageError as exc:
        report = RunReport(run_id=run_id, status="failed", source=config.source,
                           output=config.output if store else str(output), date=config.date,
                           started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), error=str(exc))
        _write_report(output, report, None, store)
        raise
    return finalize(config, run_id, started)


class _Ledger:
    """The run's ledger, one row per input document, written as it grows (a run of millions of
    articles must not hold an object per article until the end)."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._writer: pq.ParquetWriter | None = None

    def add(self, entries: list[LedgerEntry]) -> None:
        if entries:
            self.write(to_batch(entries, LEDGER_SCHEMA))

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, LEDGER_SCHEMA, compression="zstd")
        self._writer.write_batch(batch)

    def close(self) -> Path | None:
        """The ledger's path, or None if nothing was written."""
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        os.replace(self._tmp, self.path)
        return self.path


def _index_batches(paths: list[Path], columns: list[str]) -> Iterator[pa.RecordBatch]:
    for path in paths:
        yield from pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=columns)


def _inputs_digest(index_paths: list[Path], key: str) -> tuple[int, str]:
    """How many articles a landing date's inputs gave, and a SHA-256 of their sorted
    (source_uri, raw_sha256) lines. The index's row groups carry landing_key statistics, so a date
    reads mostly its own rows."""
    table = pq.read_table([str(p) for p in index_paths], columns=["source_uri", "raw_sha256"],
                          filters=[("landing_key", "=", key)], schema=INDEX_SCHEMA)
    table = table.sort_by([("source_uri", "ascending"), ("raw_sha256", "ascending")])
    digest = hashlib.sha256()
    for batch in table.to_batches(max_chunksize=10_000):
        for uri, raw_sha in zip(batch.column("source_uri").to_pylist(), batch.column("raw_sha256").to_pylist()):
            digest.update(f"{uri}\t{raw_sha}\n".encode())
    return table.num_rows, digest.hexdigest()


def _write_report(output: Path, report: RunReport, ledger: _Ledger | None,
                  store: ObjectStore | None = None) -> None:
    try:
        runs = output / "_runs"
        runs.mkdir(parents=True, exist_ok=True)
        path = ledger.close() if ledger else None
        if path:
            report.ledger = str(path)
            if store:
                report.ledger = store.uri(f"_runs/{path.name}")
                store.put_file(path, f"_runs/{path.name}")
                path.unlink()
        tmp = runs / f".{report.run_id}.json.tmp"
        tmp.write_text(report.to_json(), encoding="utf-8")
        if store:
            store.put_file(tmp, f"_runs/{report.run_id}.json")
            tmp.unlink()
        else:
            os.replace(tmp, runs / f"{report.run_id}.json")
    except Exception as exc:  # the report must never hide the run's own error
        log.warning("could not write the run report: %s", exc)
