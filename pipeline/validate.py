"""Validate: Great Expectations 1.x suites, loaded from ``expectations/*.json``.

In:  Arrow tables of articles (row level: every column; batch level: one landing date's articles
     without ``text``), a ``ValidateConfig``.
Out: for rows, the failing row positions with the failed expectations (``RowFailure``), bound for
     quarantine; for a batch, a ``BatchResult`` (success, the failed expectations named, counts).

Great Expectations is imported on first use only (its import takes seconds), its analytics and
progress bars are off and its loggers are held at WARNING: a run logs our lines, not its.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .config import ValidateConfig
from .errors import StageError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RowFailure:
    index: int
    expectations: tuple[str, ...]  # "type(column)"
    reason: str  # hints joined


@dataclass(slots=True)
class BatchResult:
    success: bool
    failures: list[str]
    evaluated: int
    statistics: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    raw: Any = None  # the GX ExpectationSuiteValidationResult, for Data Docs


def load_suite_json(directory: Path, name: str) -> dict[str, Any]:
    path = Path(directory) / f"{name}.json"
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise StageError(
            "validate",
            f"expectation suite {name!r} not found",
            source=str(path),
            hint="pass --expectations with the folder that holds the suites (the repository's expectations/)",
        ) from None
    except json.JSONDecodeError as exc:
        raise StageError("validate", f"expectation suite is not valid JSON: {exc}", source=str(path),
                         hint="fix the JSON; `python -m json.tool FILE` shows where") from None


def describe(config: dict[str, Any]) -> str:
    kwargs = config.get("kwargs", {})
    column = kwargs.get("column")
    return f"{config['type']}({column})" if column else config["type"]


_gx_lock = threading.Lock()
_gx_state: dict[str, Any] = {}


def _quiet_gx() -> None:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _context():
    """One ephemeral GX context per process, created on first use."""
    with _gx_lock:
        if "batch_definition" not in _gx_state:
            # NOTE: GX reads this at import; it is the one environment variable the library sets,
            # because a pipeline must not phone home from every worker and Airflow task.
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
            _quiet_gx()
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            _quiet_gx()
            # GX fingerprints every in-memory batch under 1 GB by hashing the whole DataFrame
            # (twice per validation: article text included, or pickled where a column holds
            # lists) for a batch marker that nothing reads: 70% of row validation's time. A
            # threshold of 0 skips the fingerprint; results are the same (tests/test_validate.py).
            from great_expectations.execution_engine import pandas_execution_engine

            pandas_execution_engine.HASH_THRESHOLD = 0
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            _quiet_gx()
            asset = context.data_sources.add_pandas("news_etl").add_dataframe_asset("articles")
            _gx_state["gx"] = gx
            _gx_state["context"] = context
            _gx_state["batch_definition"] = asset.add_batch_definition_whole_dataframe("batch")
        return _gx_state["gx"], _gx_state["batch_definition"]


def _columns_named(suite: dict[str, Any], columns: list[str]) -> tuple[set[str], bool]:
    """(the columns the suite's expectations look at, whether one of them looks at the whole
    table). A column is looked at when a kwarg names it or a row condition mentions it (a mention
    too many only converts one more column)."""
    named: set[str] = set()
    whole_table = False
    for expectation in suite.get("expectations", []):
        kwargs = expectation.get("kwargs", {})
        these = {kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)}
        these.update(kwargs.get("column_list") or [])
        if not these:
            whole_table = True
        condition = kwargs.get("row_condition")
        if isinstance(condition, str):
            these.update(c for c in columns if c in condition)
        named |= these
    return named, whole_table


class Validator:
    """Holds the suites of one run; cheap to build (JSON only), GX is imported on first use."""

    def __init__(self, config: ValidateConfig):
        self.config = config
        self.row_json = load_suite_json(config.expectations_dir, config.row_suite)
        self.batch_json = load_suite_json(config.expectations_dir, config.batch_suite)
        self._row_columns: set[str] | None = None  # both from the first table's column names
        self._batch_columns: set[str] | None = None
        self.load_seconds = 0.0  # GX import and suites, when loaded in the background
        self._suites: dict[str, Any] = {}

    def load_in_background(self) -> threading.Thread:
        """Import GX and build both suites in a thread, while pool workers do the first chunk's
        work: the coordinating process would otherwise stop feeding them for the import's
        seconds at its first chunk. Errors are not lost: the first real use raises them again."""

        def load() -> None:
            t0 = time.perf_counter()
            try:
                self._suite("row")
                self._suite("batch")
            except Exception:  # the foreground call raises it, with its context
                pass
            self.load_seconds = time.perf_counter() - t0

        thread = threading.Thread(target=load, name="news-etl-gx-import", daemon=True)
        thread.start()
        return thread

    def _suite(self, which: str):
        if which not in self._suites:
            gx, _ = _context()
            data = self.row_json if which == "row" else self.batch_json
            try:
                self._suites[which] = gx.ExpectationSuite(
                    name=data.get("name", which), expectations=data["expectations"], meta=data.get("meta")
                )
            except Exception as exc:  # GX raises many types for a malformed suite
                raise StageError("validate", f"cannot load expectation suite {data.get('name')!r}: {exc}",
                                 source=str(self.config.expectations_dir),
                                 hint="check each expectation's type and kwargs against the GX 1.x gallery") from exc
        return self._suites[which]

    def _validate(self, which: str, frame):
        _, batch_definition = _context()
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(self._suite(which), result_format={"result_format": "COMPLETE"})

    def _frame(self, table: pa.Table):
        # Only the columns the row suite names (all but lists if one names none): the frame is
        # built for every chunk of the run, and lists convert slowly.
        if self._row_columns is None:
            named, whole_table = _columns_named(self.row_json, table.column_names)
            self._row_columns = {f.name for f in table.schema if not pa.types.is_list(f.type)} | named \
                if whole_table else named
        keep = [name for name in table.column_names if name in self._row_columns]
        # One contiguous array a column: a chunk arrives as one record batch per task, and pandas'
        # Arrow-backed string methods run a third slower over many small chunks.
        return table.select(keep).combine_chunks().to_pandas()

    def rows(self, table: pa.Table) -> list[RowFailure]:
        """Failing rows of one chunk (positions in ``table``), each with every expectation it broke."""
        if table.num_rows == 0:
            return []
        result = self._validate("row", self._frame(table))
        failed: dict[int, list[tuple[str, str]]] = {}
        for er in result.results:
            cfg = er.expectation_config.to_json_dict()
            if er.exception_info and er.exception_info.get("raised_exception"):
                raise StageError("validate", f"expectation {describe(cfg)} could not run: "
                                 f"{er.exception_info.get('exception_message')}",
                                 hint="fix the suite in expectations/")
            if er.success:
                continue
            hint = (cfg.get("meta") or {}).get("hint", "")
            for idx in er.result.get("unexpected_index_list") or []:
                failed.setdefault(int(idx), []).append((describe(cfg), hint))
        return [
            RowFailure(i, tuple(name for name, _ in items), "; ".join(f"{name}: {hint}" if hint else name for name, hint in items))
            for i, items in sorted(failed.items())
        ]

    def batch(self, table: pa.Table) -> BatchResult:
        """Batch-level expectations on one batch (every column but ``text``)."""
        result = self._validate("batch", self._frame_all(table))
        failures: list[str] = []
        results: list[dict[str, Any]] = []
        for er in result.results:
            cfg = er.expectation_config.to_json_dict()
            hint = (cfg.get("meta") or {}).get("hint", "")
            observed = er.result.get("observed_value")
            results.append({"expectation": describe(cfg), "success": bool(er.success),
                            "observed": observed if isinstance(observed, (int, float, str, type(None))) else str(observed)[:200],
                            "unexpected_count": er.result.get("unexpected_count")})
            if not er.success:
                failures.append(f"{describe(cfg)}: {hint}" if hint else describe(cfg))
        stats = dict(result.statistics) if result.statistics else {}
        return BatchResult(not failures, failures, len(result.results), stats, results, result)

    def _frame_all(self, table: pa.Table):
        # Columns an expectation names become ordinary pandas columns; the others are only
        # counted and named (row count, column set), so they stay Arrow-backed: converting a
        # date's list columns to Python lists cost more than validating them.
        import pandas as pd

        if self._batch_columns is None:  # table-level expectations need only names and a row count
            self._batch_columns = _columns_named(self.batch_json, table.column_names)[0]
        named = self._batch_columns
        plain = [c for c in table.column_names if c in named]
        frame = table.select(plain).to_pandas() if plain else pd.DataFrame(index=pd.RangeIndex(table.num_rows))
        for name in table.column_names:
            if name not in named:
                frame[name] = pd.Series(pd.arrays.ArrowExtensionArray(table.column(name)), index=frame.index)
        return frame[table.column_names]
