"""Query: SQL over a published output, with DuckDB (``news-etl sql``).

In:  an output folder or object-store URL (and its fsspec storage options), one SQL statement.
Out: a DuckDB connection on which these views are already defined, and the statement's result as
     a plain-text table, CSV or JSON:

     ``articles``      the published articles (hive columns ``year``, ``month``)
     ``quarantine``    the published quarantine rows (hive column ``landing``)
     ``ledger``        every run's ledger, one row per input document, with its ``run_id``
     ``daily_counts``  the downstream DAG's counts (hive column ``landing_date``), when present

``articles`` and ``quarantine`` list exactly the files the published manifests name
(``pipeline.storage.published_files``), on a local output and on object storage alike: a query
sees one whole version of each date, even while a rerun is publishing. Object stores are read
through the same fsspec filesystem (and credentials) as the rest of news-etl, so DuckDB's httpfs
extension is not needed. A view with no file yet is empty, with the schema of ``pipeline.records``.

It does not write anything: the connection is in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .errors import StageError
from .records import ARTICLE_SCHEMA, LEDGER_SCHEMA, QUARANTINE_SCHEMA
from .storage import local_path, open_store, published_files, read_manifests

VIEWS = ("articles", "quarantine", "ledger", "daily_counts")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _files(output: str, storage_options: Mapping[str, Any] | None, folder: str, suffix: str) -> list[str]:
    """Files under ``OUT/folder`` ending with ``suffix`` (paths, or URLs on object storage)."""
    store = open_store(output, storage_options)
    if store is None:
        root = local_path(output) / folder
        return sorted(str(p) for p in root.rglob(f"*{suffix}") if not p.name.startswith(".")) if root.is_dir() else []
    return [
        store.uri(rel)
        for rel in store.find(folder)
        if rel.endswith(suffix) and not rel.rsplit("/", 1)[-1].startswith(".")
    ]


def connect(output: str, storage_options: Mapping[str, Any] | None = None):
    """An in-memory DuckDB connection with the views of the module docstring defined over ``output``.

    Raises ``StageError`` when ``output`` holds no published date (nothing to query)."""
    import duckdb

    output = str(output)
    store = open_store(output, storage_options)
    if store is None and not local_path(output).is_dir():
        raise StageError(
            "sql",
            "no output folder here",
            source=output,
            hint="pass --output with the folder news-etl run published to",
        )
    if not read_manifests(output, storage_options):
        raise StageError(
            "sql",
            "nothing published here yet (no manifest under _manifests/)",
            source=output,
            hint="run news-etl run first, or pass --output with the folder it published to",
        )
    con = duckdb.connect()
    if store is not None:  # DuckDB reads s3://... through the same fsspec filesystem and credentials
        con.register_filesystem(store.fs)

    def view(name: str, files: list[str], empty: pa.Schema, options: str = "") -> None:
        if files:
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true{options})"
            )
        else:
            con.register(f"_empty_{name}", empty.empty_table())
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM _empty_{name}")

    view(
        "articles",
        published_files(output, "articles", storage_options),
        ARTICLE_SCHEMA.append(pa.field("year", pa.int64())).append(pa.field("month", pa.int64())),
        ", hive_partitioning = true",
    )
    view(
        "quarantine",
        published_files(output, "quarantine", storage_options),
        QUARANTINE_SCHEMA.append(pa.field("landing", pa.date32())),
        ", hive_partitioning = true",
    )
    ledgers = _files(output, storage_options, "_runs", ".ledger.parquet")
    if ledgers:
        con.execute(
            "CREATE VIEW ledger AS SELECT * EXCLUDE (filename), "
            "regexp_extract(filename, '([^/]+)\\.ledger\\.parquet$', 1) AS run_id "
            f"FROM read_parquet({_sql_list(ledgers)}, union_by_name = true, filename = true)"
        )
    else:
        view("ledger", [], LEDGER_SCHEMA.append(pa.field("run_id", pa.string())))
    counts = _files(output, storage_options, "daily_counts", "counts.parquet")
    if counts:
        con.execute(
            f"CREATE VIEW daily_counts AS SELECT * FROM read_parquet({_sql_list(counts)}, "
            "hive_partitioning = true, union_by_name = true)"
        )
    return con


def query(output: str, sql: str, storage_options: Mapping[str, Any] | None = None) -> Result:
    """Run one statement over ``output``; ``StageError`` with DuckDB's message if it fails."""
    import duckdb

    con = connect(output, storage_options)
    try:
        rel = con.sql(sql)
        if rel is None:  # a statement without a result (SET, CREATE ...)
            return Result([], [])
        return Result(list(rel.columns), rel.fetchall())
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0].rstrip("!")
        hint = "the views are " + ", ".join(
            v
            for v in VIEWS
            if con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [v]).fetchone()[0]
        )
        if "daily_counts" in sql and "daily_counts" not in hint:
            hint += " (daily_counts appears once the news_etl_daily_counts DAG has run)"
        raise StageError("sql", message, hint=hint) from None
    finally:
        con.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def as_table(result: Result, max_rows: int = 100, max_width: int = 60) -> str:
    """A plain-text table: one line per row, cells cut at ``max_width`` characters, at most
    ``max_rows`` rows (then a line saying how many were left out)."""
    if not result.columns:
        return ""
    shown = result.rows[:max_rows]
    cells = [[_cell(v).replace("\n", " ") for v in row] for row in shown]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max([len(col)] + [len(row[i]) for row in cells]) for i, col in enumerate(result.columns)]
    numeric = [
        all(isinstance(r[i], (int, float)) or r[i] is None for r in shown) and bool(shown)
        for i in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(list(result.columns)), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    more = len(result.rows) - len(shown)
    n = len(result.rows)
    out.append(
        f"({n} row{'s' if n != 1 else ''}" + (f", {more} not shown: add a LIMIT or use --format csv)" if more else ")")
    )
    return "\n".join(out)


def as_csv(result: Result) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([[_csv_value(v) for v in row] for row in result.rows])
    return buf.getvalue().rstrip("\n")


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def as_json(result: Result) -> str:
    """One JSON array of objects (dates and timestamps as ISO strings, bytes as hex)."""

    def default(v: Any) -> Any:
        if isinstance(v, (bytes, bytearray)):
            return v.hex()
        return v.isoformat() if hasattr(v, "isoformat") else str(v)

    return json.dumps(
        [dict(zip(result.columns, row)) for row in result.rows], default=default, ensure_ascii=False, indent=1
    )
