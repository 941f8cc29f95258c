"""The ``news-etl`` command: the same library the DAGs call, without Airflow.

    news-etl run --source SRC --output OUT [--date YYYY-MM-DD]
    news-etl sql --output OUT "SELECT ... FROM articles"
    news-etl report --output OUT

Exit codes: 0 the command completed (a run with quarantined rows included); 1 it failed (a batch
expectation, a source that does not exist or cannot be read, nothing published to list or query),
with a one-line reason on stderr; 2 bad arguments (a date that is not YYYY-MM-DD, an output that is
a file, a malformed option), also one line, before anything is written. A run that cannot start
creates nothing in the output.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .config import RunConfig, ValidateConfig
from .errors import NewsEtlError

EPILOG = """\
examples:
  news-etl run --source samples/landing --output out --date 2016-12-07
  news-etl run --source samples/landing --output out               # every date under SRC
  news-etl run --source s3://bucket/landing --output s3://bucket/news --date 2024-03-01
  news-etl sql --output out "SELECT language, count(*) FROM articles GROUP BY ALL"
  news-etl report --output out                        # rewrite out/_report/index.html
  news-etl files --output s3://bucket/news --sql      # what to read, atomically, from DuckDB
  news-etl migrate out                                # older schema versions to the current one

The source is a landing zone: files under SRC/YYYY-MM-DD/ (or SRC/YYYY/MM/DD/), any encoding,
optionally compressed (.gz .bz2 .xz) or archived (.zip .tar .tgz). Output:
  OUT/articles/year=YYYY/month=MM/*.parquet   articles, partitioned by publication date
  OUT/quarantine/landing=YYYY-MM-DD/*.parquet rejected documents with a reason
  OUT/_runs/<run_id>.json                     the run report (every input accounted for)
  OUT/_report/index.html                      plots of every published date and run
Rerunning a date replaces exactly that date's output, atomically.
"""


def _progress(state: dict) -> None:
    files, done = state["files"], state["files_done"]
    pct = 100.0 * done / files if files else 100.0
    rate = state["documents"] / state["seconds"] if state["seconds"] > 0 else 0.0
    print(
        f"\r  {done}/{files} files ({pct:5.1f}%)  {state['articles']} articles  "
        f"{state['quarantined']} quarantined  {rate:,.0f} docs/s",
        end="",
        file=sys.stderr,
        flush=True,
    )


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _summary(report, page: str | None = None) -> str:
    out = report.output.rstrip("/")
    lines = [
        f"news-etl {__version__}  run {report.run_id}  {report.status}  "
        f"in {report.seconds:.1f}s with {report.workers} worker(s)",
        f"  documents seen   {report.documents_seen:>8}   "
        f"({plural(report.files_seen, 'file')}, {len(report.files_skipped)} skipped)",
        f"  articles written {report.articles_written:>8}",
        f"  quarantined      {report.quarantined:>8}",
        f"  duplicates       {report.duplicates:>8}",
    ]
    if report.quarantine_reasons:
        lines.append("  quarantine reasons:")
        for reason, n in sorted(report.quarantine_reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {n:>6}  {reason}")
    failed = {k: v for k, v in report.batches.items() if v.get("failures")}
    for key, info in failed.items():
        lines.append(f"  batch {key} NOT published: " + "; ".join(info["failures"]))
    if report.articles_written:
        lines.append(f"  data:    {out}/articles   (quarantine: {out}/quarantine)")
    lines.append(f"  report:  {out}/_runs/{report.run_id}.json")
    if report.data_docs:
        lines.append(f"  validation (Data Docs): {report.data_docs}")
    if page:
        lines.append(f"  plots:   {page}")
    if report.articles_written:
        lines += [
            "  query it:",
            f'    news-etl sql --output {_shell_quote(out)} "SELECT year, month, language, count(*) FROM articles '
            f'GROUP BY ALL ORDER BY ALL"',
        ]
    return "\n".join(lines)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-etl",
        description="Batch ETL for news corpora: article files in, clean, validated, hive-partitioned Parquet out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"news-etl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    c = sub.add_parser(
        "check",
        help="list expected vs published dates and verify each against its manifest",
        description="For every date from --start to --end: is it published, how many rows and what "
        "quarantine share, and do its files match its manifest? Exit 1 if a date is MISSING or "
        "BROKEN (its files differ from its manifest).",
    )
    c.add_argument("--output", required=True, help="the output folder news-etl publishes to")
    c.add_argument("--start", required=True, help="first landing date, YYYY-MM-DD")
    c.add_argument("--end", required=True, help="last landing date, YYYY-MM-DD (inclusive)")
    c.add_argument("--no-checksums", action="store_true", help="compare sizes only (faster on large outputs)")
    c.add_argument("--json", action="store_true", help="print the statuses as JSON")
    _storage_arg(c)
    f = sub.add_parser(
        "files",
        help="list the published files, as the manifests say (atomic on object storage)",
        description="Print the files of one dataset that the published manifests list: one whole "
        "version of every date, even while a rerun is publishing. With --sql, print a "
        "DuckDB query over exactly those files instead.",
    )
    f.add_argument("--output", required=True, help="the output folder or URL news-etl publishes to")
    f.add_argument("--dataset", default="articles", choices=("articles", "quarantine", "raw"))
    f.add_argument("--sql", action="store_true", help="print a DuckDB query (with its S3 secret) instead of the list")
    _storage_arg(f)
    _add_sql(sub)
    m = sub.add_parser(
        "migrate",
        help="rewrite every published date of an older schema version to the current one",
        description="Rewrite every published date of OUTPUT written with an older schema version "
        "(columns added since are null in the old rows), one date at a time, each in one atomic "
        "publish. Safe to stop and rerun: a date is old or new, never mixed; dates already at the "
        "current version are skipped. A date of a newer version stops it before anything changes.",
    )
    m.add_argument("output", help="the output folder or URL news-etl publishes to")
    _storage_arg(m)
    p = sub.add_parser(
        "report",
        help="(re)write OUT/_report/index.html: plots of every published date and run",
        description="Write OUT/_report/index.html from the run reports and the published data: per "
        "landing date and over all dates, articles vs quarantined vs duplicates, "
        "quarantine reasons, languages, date sources and precisions, encodings, repairs "
        "and words per article. A static page (inline SVG) that needs no network. "
        "news-etl run rewrites it at the end of every run.",
    )
    p.add_argument("--output", required=True, help="the output folder or URL news-etl publishes to")
    _storage_arg(p)
    e = sub.add_parser(
        "evaluate",
        help="score text, date, title and language fidelity on the labelled corpora",
        description="Run every labelled corpus found under CORPORA through the pipeline and print a "
        "fidelity table, side by side with trafilatura and htmldate on the same files.",
    )
    e.add_argument(
        "--corpora",
        type=Path,
        default=Path(__file__).resolve().parent.parent.parent / "shared" / "corpora",
        help="folder of the corpora (default: ../shared/corpora next to the repository)",
    )
    e.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def _add_sql(sub) -> None:
    """The ``sql`` command and its options."""
    q = sub.add_parser(
        "sql",
        help="run a SQL query (DuckDB) over the published output",
        description="Run one SQL statement with DuckDB over an output, with these views defined: "
        "articles, quarantine (exactly the files the published manifests list, also on "
        "object storage), ledger (every run's ledger, with its run_id) and daily_counts "
        "(once the news_etl_daily_counts DAG has written it).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        '  news-etl sql --output out "SELECT year, month, language, count(*) FROM articles GROUP BY ALL ORDER BY ALL"\n'
        '  news-etl sql --output out "SELECT landing, stage, reason FROM quarantine" --format csv\n'
        '  news-etl sql --output out "SELECT outcome, count(*) FROM ledger GROUP BY ALL"\n'
        '  news-etl sql --output out "DESCRIBE articles"',
    )
    q.add_argument("query", metavar="SQL", help="one SQL statement (DuckDB's dialect)")
    q.add_argument(
        "--output", default="output", help="the output folder or URL news-etl publishes to (default: output)"
    )
    q.add_argument("--format", default="table", choices=("table", "csv", "json"), help="how to print the result")
    q.add_argument("--max-rows", type=int, default=100, help="rows a table shows (csv and json print all)")
    _storage_arg(q)


def _add_run(sub) -> None:
    """The ``run`` command and its options."""
    r = sub.add_parser(
        "run",
        help="process the article files of a date (or of the whole source)",
        description="Fetch, decode, clean, date, describe, validate and publish the article files of one "
        "landing date (or of every date under SRC).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    r.add_argument("--source", required=True, help="landing zone: a folder or an fsspec URL (s3://, gs://, file://)")
    r.add_argument(
        "--output", required=True, help="output folder (created if missing) or object-store URL (s3://bucket/prefix)"
    )
    r.add_argument("--date", help="landing date YYYY-MM-DD; without it, everything under SRC")
    r.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    r.add_argument(
        "--expectations", type=Path, help="folder of the GX suites (default: the repository's expectations/)"
    )
    r.add_argument("--run-id", help="name of this run in OUT/_runs/ (default: a timestamp)")
    r.add_argument(
        "--keep-raw",
        action="store_true",
        help="also publish every input's bytes in OUT/raw/ (reproducible reruns when the source changes)",
    )
    r.add_argument(
        "--no-validate", action="store_true", help="skip Great Expectations (debugging only: nothing checks the output)"
    )
    r.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    r.add_argument("--json", action="store_true", help="print the run report as JSON instead of the summary")
    r.add_argument(
        "--work-dir",
        help="local folder where shards stage before uploading to an object-store output "
        "(default: the system's temporary folder)",
    )
    _storage_arg(r)


def _storage_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fsspec option for s3:// and other URLs, repeatable (endpoint_url=http://localhost:9000, "
        "key=..., secret=...); default: the standard AWS variables and credential files",
    )


class UsageError(Exception):
    """A command line that cannot be run as given (exit 2)."""


def _storage_options(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--storage-option takes KEY=VALUE (e.g. endpoint_url=http://localhost:9000), not {pair!r}"
            )
        out[key.strip()] = {"true": True, "false": False}.get(value.lower(), value)
    return out


def _fail(command: str, message: str, code: int) -> int:
    """The one line a mistake gets: ``news-etl: [command] what is wrong: what to do``."""
    text = message if message.startswith("[") else f"[{command}] {message}"
    print(f"news-etl: {text}", file=sys.stderr)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, Airflow, Kubernetes, systemd): stop as on Ctrl-C."""


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)  # like Ctrl-C: the run cleans up and says so
    handlers = {
        "run": _run,
        "check": _check,
        "files": _files,
        "sql": _sql,
        "report": _report,
        "evaluate": _evaluate,
        "migrate": _migrate,
    }
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        return _fail(args.command, str(exc), 2)
    except NewsEtlError as exc:
        return _fail(args.command, str(exc), 1)
    except BrokenPipeError:  # `news-etl sql ... | head`: the reader has what it wanted
        sys.stderr.close()
        return 0


def _date_arg(option: str, value: str | None):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date: use YYYY-MM-DD (e.g. 2016-12-07)") from None


def _local_output(option: str, output: str) -> None:
    """A local output must be a folder or not exist yet."""
    from .storage import is_remote, local_path

    if not is_remote(output) and local_path(output).exists() and not local_path(output).is_dir():
        raise UsageError(f"{option} {output} is a file: pass a folder (created if missing) or an object-store URL")


def _check_run_args(args) -> dict:
    """The ``run`` command's usage errors, before anything is imported or written; its storage options."""
    import re

    options = _storage_options(args.storage_option)
    _date_arg("--date", args.date)
    _local_output("--output", args.output)
    if args.run_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.run_id):
        raise UsageError(
            f"--run-id {args.run_id!r} must be letters, digits, '.', '_' or '-' (it names files in OUT/_runs/)"
        )
    if args.workers < 0:
        raise UsageError(f"--workers {args.workers} is negative: pass 0 for one per core, or a count")
    if args.expectations is not None and not args.expectations.is_dir():
        raise UsageError(
            f"--expectations {args.expectations} is not a folder: pass the folder of the GX suites "
            "(the repository's expectations/ by default)"
        )
    return options


def _run(args) -> int:
    options = _check_run_args(args)
    from .errors import BatchValidationError, SourceError
    from .fetch import Source
    from .run import new_run_id, run  # heavy imports after argument errors

    try:
        source_missing = not Source(args.source, options).exists_dir("")
    except Exception:  # a backend or credential problem: the run itself reports it, with its hint
        source_missing = False
    if source_missing:  # before run(): a run that cannot start leaves nothing in the output
        raise SourceError(
            "source folder does not exist or is not a folder",
            source=args.source,
            hint="pass --source with the landing zone's root (it holds YYYY-MM-DD/ folders)",
        )
    validate = ValidateConfig(enabled=not args.no_validate)
    if args.expectations:
        validate = ValidateConfig(expectations_dir=args.expectations, enabled=not args.no_validate)
    from .config import FetchConfig

    run_id = args.run_id or new_run_id(args.date)
    config = RunConfig(
        source=args.source,
        output=args.output,
        date=args.date,
        workers=args.workers,
        run_id=run_id,
        validate=validate,
        fetch=FetchConfig(keep_raw=args.keep_raw),
        storage_options=options,
        work_dir=args.work_dir,
    )
    show = not args.quiet and sys.stderr.isatty()
    try:
        report = run(config, on_progress=_progress if show else None)
    except BatchValidationError as exc:
        if show:
            print(file=sys.stderr)
        page = _write_page(args.output, options)
        message = str(exc)
        docs = _data_docs_of(args.output, run_id, options)
        if docs and docs not in message:
            message += f"; Data Docs: {docs}"
        if page:
            message += f"; plots: {page}"
        return _fail("run", message, 1)
    except NewsEtlError:
        if show:
            print(file=sys.stderr)
        raise
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(
            f"\nnews-etl: {'terminated (SIGTERM)' if terminated else 'interrupted'}; every date is published "
            "whole or not at all, the run's staging was removed: rerun to finish",
            file=sys.stderr,
        )
        return 143 if terminated else 130
    if show:
        print(file=sys.stderr)
    page = _write_page(args.output, options)
    print(report.to_json() if args.json else _summary(report, page))
    if report.status == "empty":
        print(f"news-etl: no article files found for {args.date or 'any date'} under {args.source}", file=sys.stderr)
    return 0


def _write_page(output: str, options: dict) -> str | None:
    """The report page, rewritten after every run; a page that cannot be written never fails it."""
    from .report_page import write_report_page

    try:
        return write_report_page(output, options)
    except Exception as exc:
        logging.getLogger("news_etl").warning("could not write the report page: %s: %s", type(exc).__name__, exc)
        return None


def _data_docs_of(output: str, run_id: str, options: dict) -> str | None:
    import json

    from .storage import local_path, open_store

    store = open_store(output, options)
    try:
        text = (
            store.read_text(f"_runs/{run_id}.json")
            if store
            else (local_path(output) / "_runs" / f"{run_id}.json").read_text(encoding="utf-8")
        )
        return json.loads(text or "{}").get("data_docs")
    except (OSError, ValueError):
        return None


def _check(args) -> int:
    import dataclasses
    import json

    from .check import check, table

    start, end = _date_arg("--start", args.start), _date_arg("--end", args.end)
    if end < start:
        raise UsageError(f"--end {args.end} is before --start {args.start}: swap them")
    options = _storage_options(args.storage_option)
    _local_output("--output", args.output)
    statuses = check(args.output, start, end, verify_checksums=not args.no_checksums, storage_options=options)
    if args.json:
        print(
            json.dumps(
                [dict(dataclasses.asdict(s), ok=s.ok, quarantine_share=s.quarantine_share) for s in statuses], indent=2
            )
        )
    else:
        print(table(statuses))
    return 0 if all(s.ok for s in statuses) else 1


def _migrate(args) -> int:
    from .migrate import migrate
    from .records import SCHEMA_VERSION

    options = _storage_options(args.storage_option)
    _local_output("output", args.output)

    def said(done) -> None:
        size = f"{plural(done.files, 'file')}, {plural(done.rows, 'row')}"
        print(f"  {done.key}: schema version {done.from_version} -> {SCHEMA_VERSION} ({size})")

    done = migrate(args.output, options, on_date=said)
    if not done:
        print(f"every published date of {args.output} is at schema version {SCHEMA_VERSION}: nothing to migrate")
        return 0
    keys = sorted(d.key for d in done)
    print(f"migrated {plural(len(done), 'date')} to schema version {SCHEMA_VERSION}; verify with:")
    print(f"  news-etl check --output {_shell_quote(args.output)} --start {keys[0]} --end {keys[-1]}")
    return 0


def _nothing_published(output: str, options: dict) -> str | None:
    """Why ``output`` has nothing to list or query, or None."""
    from .storage import is_remote, local_path, read_manifests

    if not is_remote(output) and not local_path(output).is_dir():
        return f"no output folder at {output}: pass --output with the folder news-etl run published to"
    if not read_manifests(output, options):
        return f"nothing published at {output} (no manifest in _manifests/): run news-etl run first, or check --output"
    return None


def _files(args) -> int:
    from .storage import duckdb_s3_secret, is_remote, published_files

    options = _storage_options(args.storage_option)
    _local_output("--output", args.output)
    why = _nothing_published(args.output, options)
    if why:
        return _fail("files", why, 1)
    paths = published_files(args.output, args.dataset, options)
    if not paths:
        hint = {
            "raw": "runs publish raw bytes only with news-etl run --keep-raw (DAG parameter Keep raw bytes)",
            "quarantine": "no published date had a quarantined document",
        }.get(args.dataset, "every published date is empty")
        return _fail("files", f"the manifests at {args.output} list no {args.dataset} files: {hint}", 1)
    if not args.sql:
        print("\n".join(paths))
    else:
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        if is_remote(args.output):
            print("LOAD httpfs;")
            print(duckdb_s3_secret(options) + ";")
        print(f"SELECT * FROM read_parquet([{listed}], hive_partitioning = true, union_by_name = true);")
    return 0


def _sql(args) -> int:
    from .query import as_csv, as_json, as_table, query

    options = _storage_options(args.storage_option)
    _local_output("--output", args.output)
    if args.max_rows < 1:
        raise UsageError(f"--max-rows {args.max_rows}: pass 1 or more")
    if not args.query.strip():
        raise UsageError('the SQL statement is empty: pass one, e.g. "SELECT count(*) FROM articles"')
    why = _nothing_published(args.output, options)
    if why:
        return _fail("sql", why, 1)
    result = query(args.output, args.query, options)
    text = {"csv": as_csv, "json": as_json}.get(args.format, lambda r: as_table(r, args.max_rows))(result)
    if text:
        print(text)
    return 0


def _report(args) -> int:
    from .report_page import write_report_page

    options = _storage_options(args.storage_option)
    _local_output("--output", args.output)
    from .storage import is_remote, local_path

    if not is_remote(args.output) and not local_path(args.output).is_dir():
        return _fail(
            "report", f"no output folder at {args.output}: pass --output with the folder news-etl run published to", 1
        )
    print(write_report_page(args.output, options))
    return 0


def _evaluate(args) -> int:
    import dataclasses
    import json

    from .evaluate import evaluate, table

    if not args.corpora.is_dir():
        return _fail("evaluate", f"no corpora folder at {args.corpora}: pass --corpora", 1)
    metrics = evaluate(args.corpora, args.workers)
    print(json.dumps([dataclasses.asdict(m) for m in metrics], indent=2) if args.json else table(metrics))
    return 0


def entry() -> None:
    """The ``news-etl`` command: ``main``, its output flushed, then the process ends without
    Python's interpreter teardown. In one of 33 same-date concurrency trials a run that had
    published and printed its summary then died at exit with SIGABRT ("terminate called without an
    active exception": a native thread pool destroyed while still running, as in apache/arrow
    issue 34314), so a scheduler saw a failed run. Nothing is left to do at that point: the run's
    files are closed, its locks released, its pool shut down. ``main`` stays a plain function
    for tests and callers."""
    from .phases.memory import own_process

    own_process()  # this process is ours: what GX's import leaves is frozen (phases.memory)
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed: `news-etl sql ... | head`
            pass
    logging.shutdown()
    os._exit(int(code or 0))


if __name__ == "__main__":
    entry()
