"""The ``news-etl`` command: the same library the DAGs call, without Airflow.

    news-etl run --source SRC --output OUT [--date YYYY-MM-DD]

Exit codes: 0 the run completed (quarantined rows included); 1 the run failed (a batch
expectation, an unreadable source ...), with a one-line reason on stderr; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import logging
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
  news-etl files --output s3://bucket/news --sql      # what to read, atomically, from DuckDB

The source is a landing zone: files under SRC/YYYY-MM-DD/ (or SRC/YYYY/MM/DD/), any encoding,
optionally compressed (.gz .bz2 .xz) or archived (.zip .tar .tgz). Output:
  OUT/articles/year=YYYY/month=MM/*.parquet   articles, partitioned by publication date
  OUT/quarantine/landing=YYYY-MM-DD/*.parquet rejected documents with a reason
  OUT/_runs/<run_id>.json                     the run report (every input accounted for)
Rerunning a date replaces exactly that date's output, atomically.
"""


def _progress(state: dict) -> None:
    files, done = state["files"], state["files_done"]
    pct = 100.0 * done / files if files else 100.0
    rate = state["documents"] / state["seconds"] if state["seconds"] > 0 else 0.0
    print(f"\r  {done}/{files} files ({pct:5.1f}%)  {state['articles']} articles  "
          f"{state['quarantined']} quarantined  {rate:,.0f} docs/s", end="", file=sys.stderr, flush=True)


def _summary(report) -> str:
    out = report.output.rstrip("/")
    lines = [
        f"news-etl {__version__}  run {report.run_id}  {report.status}  in {report.seconds:.1f}s with {report.workers} worker(s)",
        f"  documents seen   {report.documents_seen:>8}   ({report.files_seen} files, {len(report.files_skipped)} skipped)",
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
        lines += [
            f"  data:    {out}/articles   (quarantine: {out}/quarantine)",
            f"  report:  {out}/_runs/{report.run_id}.json",
            "  query it:",
            f"    duckdb -c \"SELECT year, month, language, count(*) FROM read_parquet('{out}/articles/**/*.parquet', "
            f"hive_partitioning=true) GROUP BY ALL ORDER BY ALL\"",
        ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-etl",
        description="Batch ETL for news corpora: article files in, clean, validated, hive-partitioned Parquet out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"news-etl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="process the article files of a date (or of the whole source)",
                       description="Fetch, decode, clean, date, describe, validate and publish the article files of one "
                                   "landing date (or of every date under SRC).",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    r.add_argument("--source", required=True, help="landing zone: a folder or an fsspec URL (s3://, gs://, file://)")
    r.add_argument("--output", required=True, help="output folder (created if missing) or object-store URL (s3://bucket/prefix)")
    r.add_argument("--date", help="landing date YYYY-MM-DD; without it, everything under SRC")
    r.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    r.add_argument("--expectations", type=Path, help="folder of the GX suites (default: the repository's expectations/)")
    r.add_argument("--run-id", help="name of this run in OUT/_runs/ (default: a timestamp)")
    r.add_argument("--keep-raw", action="store_true",
                   help="also publish every input's bytes in OUT/raw/ (reproducible reruns when the source changes)")
    r.add_argument("--no-validate", action="store_true", help="skip Great Expectations (debugging only: nothing checks the output)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    r.add_argument("--json", action="store_true", help="print the run report as JSON instead of the summary")
    r.add_argument("--work-dir", help="local folder where shards stage before uploading to an object-store output "
                                      "(default: the system's temporary folder)")
    _storage_arg(r)
    c = sub.add_parser("check", help="list expected vs published dates and verify each against its manifest",
                       description="For every date from --start to --end: is it published, how many rows and what "
                                   "quarantine share, and do its files match its manifest? Exit 1 if a date is missing "
                                   "or inconsistent.")
    c.add_argument("--output", required=True, help="the output folder news-etl publishes to")
    c.add_argument("--start", required=True, help="first landing date, YYYY-MM-DD")
    c.add_argument("--end", required=True, help="last landing date, YYYY-MM-DD (inclusive)")
    c.add_argument("--no-checksums", action="store_true", help="compare sizes only (faster on large outputs)")
    c.add_argument("--json", action="store_true", help="print the statuses as JSON")
    _storage_arg(c)
    f = sub.add_parser("files", help="list the published files, as the manifests say (atomic on object storage)",
                       description="Print the files of one dataset that the published manifests list: one whole "
                                   "version of every date, even while a rerun is publishing. With --sql, print a "
                                   "DuckDB query over exactly those files instead.")
    f.add_argument("--output", required=True, help="the output folder or URL news-etl publishes to")
    f.add_argument("--dataset", default="articles", choices=("articles", "quarantine", "raw"))
    f.add_argument("--sql", action="store_true", help="print a DuckDB query (with its S3 secret) instead of the list")
    _storage_arg(f)
    e = sub.add_parser("evaluate", help="score text, date, title and language fidelity on the labelled corpora",
                       description="Run every labelled corpus found under CORPORA through the pipeline and print a "
                                   "fidelity table, side by side with trafilatura and htmldate on the same files.")
    e.add_argument("--corpora", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared" / "corpora",
                   help="folder of the corpora (default: ../shared/corpora next to the repository)")
    e.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def _storage_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                   help="fsspec option for s3:// and other URLs, repeatable (endpoint_url=http://localhost:9000, "
                        "key=..., secret=...); default: the standard AWS variables and credential files")


def _storage_options(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"news-etl: --storage-option takes KEY=VALUE, not {pair!r}")
        out[key.strip()] = {"true": True, "false": False}.get(value.lower(), value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        from .run import run  # heavy imports after argument errors

        validate = ValidateConfig(enabled=not args.no_validate)
        if args.expectations:
            validate = ValidateConfig(expectations_dir=args.expectations, enabled=not args.no_validate)
        from .config import FetchConfig

        config = RunConfig(source=args.source, output=args.output, date=args.date, workers=args.workers,
                           run_id=args.run_id, validate=validate, fetch=FetchConfig(keep_raw=args.keep_raw),
                           storage_options=_storage_options(args.storage_option), work_dir=args.work_dir)
        show = not args.quiet and sys.stderr.isatty()
        try:
            report = run(config, on_progress=_progress if show else None)
        except NewsEtlError as exc:
            if show:
                print(file=sys.stderr)
            print(f"news-etl: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nnews-etl: interrupted; nothing of this run was published", file=sys.stderr)
            return 130
        if show:
            print(file=sys.stderr)
        print(report.to_json() if args.json else _summary(report))
        if report.status == "empty":
            print(f"news-etl: no article files found for {args.date or 'any date'} under {args.source}", file=sys.stderr)
        return 0
    if args.command == "check":
        import dataclasses
        import datetime as dt
        import json

        from .check import check, table

        try:
            start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        except ValueError:
            print("news-etl: [check] --start and --end take YYYY-MM-DD dates", file=sys.stderr)
            return 2
        statuses = check(args.output, start, end, verify_checksums=not args.no_checksums,
                         storage_options=_storage_options(args.storage_option))
        if args.json:
            print(json.dumps([dict(dataclasses.asdict(s), ok=s.ok, quarantine_share=s.quarantine_share) for s in statuses], indent=2))
        else:
            print(table(statuses))
        return 0 if all(s.ok for s in statuses) else 1
    if args.command == "files":
        from .storage import duckdb_s3_secret, is_remote, published_files

        options = _storage_options(args.storage_option)
        paths = published_files(args.output, args.dataset, options)
        if not args.sql:
            print("\n".join(paths))
        else:
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            if is_remote(args.output):
                print("LOAD httpfs;")
                print(duckdb_s3_secret(options) + ";")
            print(f"SELECT * FROM read_parquet([{listed}], hive_partitioning = true, union_by_name = true);")
        return 0 if paths else 1
    if args.command == "evaluate":
        import dataclasses
        import json

        from .evaluate import evaluate, table

        if not args.corpora.is_dir():
            print(f"news-etl: [evaluate] no corpora folder at {args.corpora}: pass --corpora", file=sys.stderr)
            return 1
        metrics = evaluate(args.corpora, args.workers)
        print(json.dumps([dataclasses.asdict(m) for m in metrics], indent=2) if args.json else table(metrics))
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
