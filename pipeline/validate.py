"""Validate: Great Expectations 1.x suites, loaded from ``expectations/*.json``.

In:  Arrow tables of articles (row level: a chunk of articles, of which GX sees the columns the
     row suite looks at; batch level: one landing date's articles without ``text``), a
     ``ValidateConfig``.
Out: for rows, the failing row positions with the failed expectations (``RowFailure``), bound for
     quarantine; for a batch, a ``BatchResult`` (success, the failed expectations named, counts).

Great Expectations is imported on first use only (its import takes seconds), its analytics and
progress bars are off and its loggers are held at WARNING: a run logs our lines, not its.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .config import ValidateConfig
from .errors import StageError
from .phases.memory import importing

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
        raise StageError(
            "validate",
            f"expectation suite is not valid JSON: {exc}",
            source=str(path),
            hint="fix the JSON; `python -m json.tool FILE` shows where",
        ) from None


def describe(config: dict[str, Any]) -> str:
    kwargs = config.get("kwargs", {})
    column = kwargs.get("column")
    return f"{config['type']}({column})" if column else config["type"]


_gx_lock = threading.Lock()
_gx_state: dict[str, Any] = {}

# Modules GX imports at its own import but uses only inside expectations and renderers that our
# suites do not use (scipy.stats for the KL-divergence and KS-test expectations, altair for their
# charts): half of GX's import time (0.8-1.0 s of about 2 s). They are imported when first used.
DEFERRED_BY_GX = ("scipy.stats", "altair", "jsonschema")

# GX's optional dependencies for SQL datasources and S3 stores, which a pandas validation never
# touches: GX imports them when they are installed (0.5-1 s of its import), and runs without them
# as in a plain ``pip install great_expectations``. Hidden from the thread that imports GX, while
# it does, unless the process has imported them already (an Airflow task has SQLAlchemy); other
# threads, and everyone afterwards, import them as usual.
HIDDEN_FROM_GX = ("sqlalchemy", "boto3", "botocore")


class _Deferred(types.ModuleType):
    """A stand-in for a module not imported yet: the first attribute it lacks imports the real
    module, which it then mirrors (those who imported the stand-in see the real thing) and which
    replaces it in ``sys.modules``. ``__spec__`` is the real module's, so ``import`` finds it
    complete; Python 3.11's ``importlib.util.LazyLoader`` loads on that very access, so it does
    not help here."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__dict__["__name__"]
        with _deferred_lock:
            real = sys.modules.get(name)
            if real is None or real is self:  # else imported meanwhile (by another thread, or directly)
                if real is self:
                    del sys.modules[name]
                try:
                    real = importlib.import_module(name)
                except BaseException:
                    if real is self:
                        sys.modules[name] = self
                    raise
            self.__dict__.update(real.__dict__)
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None


_deferred_lock = threading.RLock()


class _HiddenInThisThread:
    """A finder (first in ``sys.meta_path``) for which the packages ``names`` are not installed,
    in the thread that made it only: another thread importing one of them meanwhile gets it (the
    GX thread then finds it in ``sys.modules``, as when a process imported it before)."""

    def __init__(self, names: tuple[str, ...]):
        self.names = frozenset(names)
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path=None, target=None):
        if name.partition(".")[0] in self.names and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden while GX imports)", name=name)
        return None


def defer_import(name: str) -> None:
    """Put a ``_Deferred`` stand-in for ``name`` in ``sys.modules`` unless it is imported already
    (or cannot be found: then nothing changes and its importer gets the usual error)."""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = spec
    stand_in.__loader__ = spec.loader
    stand_in.__package__ = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
    sys.modules[name] = stand_in


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
            for name in DEFERRED_BY_GX:
                defer_import(name)
            hiding = _HiddenInThisThread(HIDDEN_FROM_GX)
            sys.meta_path.insert(0, hiding)
            try:
                with importing():
                    import great_expectations as gx
                    from great_expectations.data_context.types.base import ProgressBarsConfig
            finally:
                sys.meta_path.remove(hiding)  # first: nothing below may leave it installed
                # Only GX holds the stand-ins: whoever imports these modules later gets them.
                with _deferred_lock:  # not while another thread swaps one for its real module
                    for name in DEFERRED_BY_GX:
                        if isinstance(sys.modules.get(name), _Deferred):
                            sys.modules.pop(name, None)

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


def _looks_at(expectation: dict[str, Any], columns: list[str]) -> set[str]:
    """The columns one expectation looks at: those a kwarg names and those its row condition
    mentions (a mention too many only converts one more column); empty for a table-level one."""
    kwargs = expectation.get("kwargs", {})
    these = {kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)}
    these.update(kwargs.get("column_list") or [])
    condition = kwargs.get("row_condition")
    if these and isinstance(condition, str):
        these.update(c for c in columns if c in condition)
    return these


def _columns_named(suite: dict[str, Any], columns: list[str]) -> tuple[set[str], bool]:
    """(the columns the suite's expectations look at, whether one of them looks at the whole
    table)."""
    named: set[str] = set()
    whole_table = False
    for expectation in suite.get("expectations", []):
        these = _looks_at(expectation, columns)
        whole_table |= not these
        named |= these
    return named, whole_table


# Columns worth a frame of their own in row validation. GX drops a nullable column's nulls from
# the whole frame for every metric it computes on that column (``df[df[col].notnull()]``), so an
# expectation on ``title`` copied every article's text about ten times a chunk: a quarter of row
# validation's time. Expectations on ``text`` see a frame without the other columns, and the
# others a frame without ``text``: two GX calls a chunk (a few milliseconds more), 1.3 s less per
# 100,000 articles on the benchmark. The shipped suite's expectations on ``text`` are all regexes,
# which run before GX (``PREDICATES``): GX sees no ``text`` and the suite is one call. A suite
# with another kind of expectation on ``text`` (or a regex RE2 cannot run) is cut in two again.
WIDE_COLUMNS = frozenset({"text"})


@dataclass(frozen=True)
class _RowPart:
    """Some of the row suite's expectations (by position in the suite) and the columns they need."""

    key: str
    positions: tuple[int, ...]
    columns: frozenset[str]


def row_parts(suite: dict[str, Any], columns: list[str], schema: pa.Schema | None = None) -> list[_RowPart]:
    """The row suite cut in two when some expectations look at a wide column and others do not;
    else whole. A table-level expectation keeps the suite whole, on every non-list column."""
    expectations = suite.get("expectations", [])
    looks = [_looks_at(e, columns) for e in expectations]
    wide = tuple(i for i, cols in enumerate(looks) if cols & WIDE_COLUMNS)
    narrow = tuple(i for i, cols in enumerate(looks) if not cols & WIDE_COLUMNS)
    if any(not cols for cols in looks):
        plain = {f.name for f in schema if not pa.types.is_list(f.type)} if schema is not None else set(columns)
        return [_RowPart("row", tuple(range(len(expectations))), frozenset(plain.union(*looks)))]
    groups = [wide, narrow] if wide and narrow else [tuple(range(len(expectations)))]
    return [
        _RowPart("row" if len(groups) == 1 else f"row:{n}", g, frozenset().union(*(looks[i] for i in g)))
        for n, g in enumerate(groups)
    ]


# Regex expectations on a string column run before GX, once per chunk, as one vectorised pass of
# Arrow's RE2 (``pyarrow.compute.match_substring_regex``: what pandas runs for them inside GX too);
# GX then checks the predicate column they give (``expect_column_values_to_be_in_set``, True for
# a match expectation, False for a not-match one, nulls skipped as GX skips them). GX stays the
# gate and names the original expectation; without the article text in its frame the row suite
# is one GX call a chunk instead of two (``WIDE_COLUMNS``), and GX copies no text.
PREDICATES = {"expect_column_values_to_match_regex": True, "expect_column_values_to_not_match_regex": False}
PREDICATE_PREFIX = "_predicate_"
POSITION_META = "news_etl_position"  # an expectation's place in the row suite, in its meta


@dataclass(frozen=True)
class Predicate:
    """A regex expectation of the row suite, computed before GX."""

    name: str  # the predicate column
    column: str
    regex: str


# Where RE2 and Python's re differ (pandas falls back to Python's re for these, so must we):
# \w \d \b \s and their negations (ASCII-only in RE2), \Z \A, \u \U \N escapes, and $ (Python
# also matches before a final new line).
_NOT_RE2_ALIKE = re.compile(r"\\[wWdDbBsSZAuUN]|\$")


def _same_in_re2(regex: str) -> bool:
    """Whether RE2 compiles ``regex`` and matches what Python's ``re`` matches (conservatively)."""
    if _NOT_RE2_ALIKE.search(regex.replace("\\\\", "")):
        return False
    try:
        pc.match_substring_regex(pa.array([""]), regex)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # lookaround, back-reference ...
        return False
    return True


def predicate_suite(suite: dict[str, Any], schema: pa.Schema) -> tuple[list[dict[str, Any]], dict[str, Predicate]]:
    """The row suite's expectations for GX, with each regex expectation on a string column of
    ``schema`` that RE2 compiles made into a set check of its predicate column; the predicates
    by name. Any other kwarg (``mostly``, ``row_condition``) and the meta are kept."""
    out: list[dict[str, Any]] = []
    predicates: dict[str, Predicate] = {}
    for position, original in enumerate(suite.get("expectations", [])):
        # Each result finds its place in the suite by this mark (GX keeps an expectation's meta).
        expectation = {**original, "meta": {**(original.get("meta") or {}), POSITION_META: position}}
        kwargs = expectation.get("kwargs", {})
        column, regex = kwargs.get("column"), kwargs.get("regex")
        field_type = schema.field(column).type if isinstance(column, str) and column in schema.names else None
        wanted = PREDICATES.get(expectation.get("type"))
        if wanted is None or not isinstance(regex, str) or field_type not in (pa.string(), pa.large_string()):
            out.append(expectation)
            continue
        if not _same_in_re2(regex):  # GX runs it as it is (pandas then picks Python's re)
            out.append(expectation)
            continue
        name = f"{PREDICATE_PREFIX}{position}"
        predicates[name] = Predicate(name, column, regex)
        rest = {k: v for k, v in kwargs.items() if k not in ("column", "regex")}
        out.append(
            {
                **{k: v for k, v in expectation.items() if k not in ("type", "kwargs")},
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": name, "value_set": [wanted], **rest},
            }
        )
    return out, predicates


# Columns computed for validation only, never published: name -> (the column it is made from, how).
# ``warnings_text`` lets a regex expectation look at the ``warnings`` list (the ``fidelity`` step
# writes ``invented characters: ...`` there).
DERIVED: dict[str, tuple[str, Any]] = {
    "warnings_text": ("warnings", lambda column: pc.binary_join(column, "\n")),
}


def _raised(info: Any) -> str | None:
    """The message of an exception GX caught while running an expectation, else None. GX 1.x
    gives ``{"raised_exception": ..., "exception_message": ...}`` when the expectation itself
    raised, and one such entry per metric (keyed by the metric) when a metric did, such as one on
    a column the data lacks: then the expectation is merely unsuccessful, with no failing row,
    and a row suite that looked only at failing rows let every row through."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "an exception")
    for value in info.values():
        if isinstance(value, dict) and (value.get("raised_exception") or value.get("exception_message")):
            return str(value.get("exception_message") or "an exception")
    return None


class Validator:
    """Holds the suites of one run; cheap to build (JSON only), GX is imported on first use."""

    def __init__(self, config: ValidateConfig):
        self.config = config
        self.row_json = load_suite_json(config.expectations_dir, config.row_suite)
        self.batch_json = load_suite_json(config.expectations_dir, config.batch_suite)
        self._row_parts: list[_RowPart] | None = None  # both from the first table's column names
        self._row_expectations: list[dict[str, Any]] | None = None  # for GX: ``predicate_suite``
        self._predicates: dict[str, Predicate] = {}
        self._batch_columns: set[str] | None = None
        self.load_seconds = 0.0  # GX import and suites, when loaded in the background
        self._suites: dict[str, Any] = {}

    def load_in_background(self, row_schema: pa.Schema | None = None) -> threading.Thread:
        """Import GX and build the suites in a thread, while pool workers do the first chunk's
        work: the coordinating process would otherwise stop feeding them for the import's
        seconds at its first chunk. Errors are not lost: the first real use raises them again."""

        def load() -> None:
            try:
                self.load(row_schema)
            except Exception:  # the foreground call raises it, with its context
                pass

        thread = threading.Thread(target=load, name="news-etl-gx-import", daemon=True)
        thread.start()
        return thread

    def load(self, row_schema: pa.Schema | None = None) -> None:
        """Import GX and build the suites now (``load_seconds`` says how long it took)."""
        t0 = time.perf_counter()
        try:
            if row_schema is not None:
                for part in self._parts(row_schema):
                    self._suite(part.key)
            self._suite("batch")
        finally:
            self.load_seconds = time.perf_counter() - t0

    def _parts(self, schema: pa.Schema) -> list[_RowPart]:
        if self._row_parts is None:
            schema = self._derived_schema(schema)
            self._row_expectations, self._predicates = predicate_suite(self.row_json, schema)
            names = [*schema.names, *self._predicates]
            self._row_parts = row_parts({"expectations": self._row_expectations}, names, schema)
        return self._row_parts

    def _derived_schema(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with the ``DERIVED`` columns the row suite names (all strings)."""
        named = _columns_named(self.row_json, schema.names)[0]
        for name, (source, _) in DERIVED.items():
            if name in named and name not in schema.names and source in schema.names:
                schema = schema.append(pa.field(name, pa.string()))
        return schema

    def _suite(self, which: str):
        """``batch``, or a part of the row suite by its key (``row`` when it is whole)."""
        if which not in self._suites:
            gx, _ = _context()
            data = self.batch_json if which == "batch" else self.row_json
            expectations = data["expectations"]
            if which != "batch":
                part = next(p for p in self._row_parts or [] if p.key == which)
                expectations = [(self._row_expectations or expectations)[i] for i in part.positions]
            try:
                self._suites[which] = gx.ExpectationSuite(
                    name=data.get("name", which), expectations=expectations, meta=data.get("meta")
                )
            except Exception as exc:  # GX raises many types for a malformed suite
                raise StageError(
                    "validate",
                    f"cannot load expectation suite {data.get('name')!r}: {exc}",
                    source=str(self.config.expectations_dir),
                    hint="check each expectation's type and kwargs against the GX 1.x gallery",
                ) from exc
        return self._suites[which]

    def _validate(self, which: str, frame):
        _, batch_definition = _context()
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(self._suite(which), result_format={"result_format": "COMPLETE"})

    def _frame(self, table: pa.Table, columns: frozenset[str]):
        # Only the columns a part of the row suite needs: the frame is built for every chunk of
        # the run, and lists convert slowly.
        keep = [name for name in table.column_names if name in columns]
        # One contiguous array a column: a chunk arrives as one record batch per task, and pandas'
        # Arrow-backed string methods run a third slower over many small chunks.
        return table.select(keep).combine_chunks().to_pandas()

    def rows(self, table: pa.Table) -> list[RowFailure]:
        """Failing rows of one chunk (positions in ``table``), each with every expectation it
        broke, in the suite's order."""
        if table.num_rows == 0:
            return []
        table = self._with_derived(table)
        failed: dict[int, list[tuple[int, str, str]]] = {}
        for part in self._parts(table.schema):
            result = self._validate(part.key, self._frame(table, part.columns))
            # GX does not always give results in the suite's order (it runs them grouped by
            # metric): each result's place in the suite comes from its configuration. One that
            # raised stops the run, named as the suite writes it.
            unmatched = list(part.positions)
            for er in result.results:
                position = self._position(er.expectation_config.to_json_dict(), unmatched)
                cfg = self.row_json["expectations"][position]  # as the suite writes it, not its predicate
                error = _raised(er.exception_info)
                if error is not None:
                    raise StageError(
                        "validate",
                        f"expectation {describe(cfg)} could not run: {error}",
                        hint="fix the suite in expectations/",
                    )
                if er.success:
                    continue
                hint = (cfg.get("meta") or {}).get("hint", "")
                for idx in er.result.get("unexpected_index_list") or []:
                    failed.setdefault(int(idx), []).append((position, describe(cfg), hint))
        out = []
        for i, items in sorted(failed.items()):
            items.sort()
            out.append(
                RowFailure(
                    i,
                    tuple(name for _, name, _ in items),
                    "; ".join(f"{name}: {hint}" if hint else name for _, name, hint in items),
                )
            )
        return out

    def _position(self, cfg: dict[str, Any], unmatched: list[int]) -> int:
        """The position in the row suite of the expectation GX ran as ``cfg`` (GX does not give
        results in the suite's order), taken out of ``unmatched``: the first whose type and
        kwargs ``cfg`` has (GX adds its defaults)."""
        marked = (cfg.get("meta") or {}).get(POSITION_META)
        if isinstance(marked, int) and marked in unmatched:
            unmatched.remove(marked)
            return marked
        expectations = self._row_expectations or self.row_json["expectations"]
        kwargs = cfg.get("kwargs") or {}
        same = [
            p
            for p in unmatched
            if expectations[p].get("type") == cfg.get("type")
            and expectations[p].get("kwargs", {}).get("column") == kwargs.get("column")
        ]
        if not same:
            raise StageError("validate", f"GX gave a result for an expectation not in the suite: {describe(cfg)}")
        # GX rewrites a row condition as an object: compare the other kwargs.
        exact = [
            p
            for p in same
            if all(kwargs.get(k) == v for k, v in expectations[p].get("kwargs", {}).items() if k != "row_condition")
        ]
        position = (exact or same)[0]
        unmatched.remove(position)
        return position

    def _with_derived(self, table: pa.Table) -> pa.Table:
        """``table`` with the ``DERIVED`` columns that the row suite names, and the predicate
        columns of its regex expectations (``predicate_suite``)."""
        named = _columns_named(self.row_json, table.column_names)[0]
        for name, (source, make) in DERIVED.items():
            if name in named and name not in table.column_names and source in table.column_names:
                table = table.append_column(name, make(table.column(source)))
        self._parts(table.schema)
        for p in self._predicates.values():
            table = table.append_column(p.name, pc.match_substring_regex(table.column(p.column), p.regex))
        return table

    def batch(self, table: pa.Table) -> BatchResult:
        """Batch-level expectations on one batch (every column but ``text``)."""
        result = self._validate("batch", self._frame_all(table))
        failures: list[str] = []
        results: list[dict[str, Any]] = []
        for er in result.results:
            cfg = er.expectation_config.to_json_dict()
            hint = (cfg.get("meta") or {}).get("hint", "")
            observed = er.result.get("observed_value")
            results.append(
                {
                    "expectation": describe(cfg),
                    "success": bool(er.success),
                    "observed": observed
                    if isinstance(observed, (int, float, str, type(None)))
                    else str(observed)[:200],
                    "unexpected_count": er.result.get("unexpected_count"),
                }
            )
            error = _raised(er.exception_info)
            if error is not None:
                failures.append(f"{describe(cfg)} could not run: {error}")
            elif not er.success:
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
