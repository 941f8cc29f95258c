"""Validate: every suite in expectations/ on a known-good and known-bad batches, with real GX."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from factories import article

from pipeline.config import DEFAULT_EXPECTATIONS_DIR, ValidateConfig
from pipeline.errors import StageError
from pipeline.records import ARTICLE_SCHEMA, to_batch
from pipeline.validate import Validator


@pytest.fixture(scope="module")
def validator():
    return Validator(ValidateConfig())


def table(rows):
    return pa.Table.from_batches([to_batch(rows, ARTICLE_SCHEMA)])


def batch_view(rows, duplicates=()):
    """The batch view finalize validates: no text, plus is_duplicate."""
    t = table(rows).drop(["text"]) if rows else ARTICLE_SCHEMA.empty_table().drop(["text"])
    return t.append_column("is_duplicate", pa.array([r.article_id in duplicates for r in rows], pa.bool_()))


def test_suites_are_gx_json_files():
    for name in ("articles_rows", "articles_batch"):
        data = json.loads((DEFAULT_EXPECTATIONS_DIR / f"{name}.json").read_text())
        assert data["name"] == name and data["expectations"]
        assert all("hint" in e["meta"] for e in data["expectations"])


def test_good_rows_pass(validator):
    assert validator.rows(table([article(i) for i in range(50)])) == []


def test_an_article_that_states_no_date_passes_with_a_null_date(validator):
    undated = [
        dataclasses.replace(article(i), published_at=None, date_precision=None, date_source="none") for i in range(3)
    ]
    assert validator.rows(table(undated)) == []
    assert validator.batch(batch_view(undated)).success


BAD_ROWS = {
    "expect_column_values_to_be_in_set(date_source)": dict(date_source="landing"),  # the landing date is no source
    "expect_column_values_to_be_in_set(date_precision)": dict(date_precision="week"),
    "expect_column_values_to_match_regex(text)": dict(text="12.5, 13.1, 11.9, 12.0, 11.8, 13.3, 12.2, 12.9"),
    "expect_column_values_to_be_between(word_count)": dict(word_count=3),
    "expect_column_values_to_not_match_regex(text)": dict(text="Un texte abîmé \ufffd au milieu de la phrase écrite."),
    "expect_column_values_to_match_regex(language)": dict(language="French"),
    "expect_column_value_lengths_to_be_between(title)": dict(title="x" * 401),
    "expect_column_values_to_not_match_regex(warnings_text)": dict(
        warnings=[
            "a header date that could not be read",
            "invented characters: CJK script(s) that the source's bytes do not hold under any plain decode",
        ]
    ),
}


@pytest.mark.parametrize("expectation,change", BAD_ROWS.items(), ids=list(BAD_ROWS))
def test_each_row_expectation_quarantines_its_bad_row(validator, expectation, change):
    rows = [article(i) for i in range(5)]
    rows[3] = dataclasses.replace(rows[3], **change)
    failures = validator.rows(table(rows))
    assert [f.index for f in failures] == [3]
    assert expectation in failures[0].expectations
    assert expectation in failures[0].reason and ":" in failures[0].reason


def test_batches_of_one_shape_are_validated_each_on_its_own_data(validator):
    """GX's batch fingerprint is switched off (pipeline.validate): batches with the same
    definition and shape must still never share results."""
    good = [article(i) for i in range(5)]
    bad = list(good)
    bad[2] = dataclasses.replace(bad[2], language="French")
    assert validator.rows(table(good)) == []
    assert [f.index for f in validator.rows(table(bad))] == [2]
    assert validator.rows(table(good)) == []
    bad[4] = dataclasses.replace(bad[4], word_count=3)
    assert [f.index for f in validator.rows(table(bad))] == [2, 4]


def test_mojibake_left_is_caught(validator):
    rows = [article(0, text="Le rÃ©gime a refusÃ© les appels Ã  cesser le feu dans la ville.")]
    (f,) = validator.rows(table(rows))
    assert "expect_column_values_to_not_match_regex(text)" in f.expectations and "mojibake" in f.reason


def test_good_batch_passes(validator):
    result = validator.batch(batch_view([article(i) for i in range(20)]))
    assert result.success, result.failures
    assert result.evaluated == len(validator.batch_json["expectations"])


BAD_BATCHES = {
    "expect_table_row_count_to_be_between": lambda rows: [],
    "expect_column_values_to_be_unique(article_id)": lambda rows: (
        rows + [dataclasses.replace(rows[0], content_sha256="f" * 64)]
    ),
    "expect_column_values_to_be_unique(content_sha256)": lambda rows: (
        rows + [dataclasses.replace(rows[0], article_id="other")]
    ),
    "expect_column_values_to_be_in_set(date_source)": lambda rows: (
        rows[:-1] + [dataclasses.replace(rows[-1], date_source="guess")]
    ),
    "expect_column_values_to_be_between(reading_time_minutes)": lambda rows: (
        rows[:-1] + [dataclasses.replace(rows[-1], reading_time_minutes=0)]
    ),
}


@pytest.mark.parametrize("expectation,breaker", BAD_BATCHES.items(), ids=list(BAD_BATCHES))
def test_each_batch_expectation_fails_its_bad_batch(validator, expectation, breaker):
    rows = breaker([article(i) for i in range(5)])
    result = validator.batch(batch_view(rows))
    assert not result.success
    assert any(f.startswith(expectation) for f in result.failures), result.failures


def test_a_dropped_duplicate_may_share_its_text(validator):
    rows = [article(i) for i in range(3)]
    copy = dataclasses.replace(rows[0], article_id="copy")
    assert validator.batch(batch_view(rows + [copy], duplicates={"copy"})).success
    assert not validator.batch(batch_view(rows + [copy])).success


def test_schema_drift_fails_the_batch(validator):
    t = batch_view([article(i) for i in range(3)]).drop(["quotes"])
    result = validator.batch(t)
    assert any(f.startswith("expect_table_columns_to_match_set") for f in result.failures)


def test_missing_or_broken_suite_is_a_clear_error(tmp_path):
    with pytest.raises(StageError, match="not found"):
        Validator(ValidateConfig(expectations_dir=tmp_path))
    (tmp_path / "articles_rows.json").write_text("{not json")
    (tmp_path / "articles_batch.json").write_text("{}")
    with pytest.raises(StageError, match="not valid JSON"):
        Validator(ValidateConfig(expectations_dir=tmp_path))


def test_row_suite_sees_the_columns_it_names_or_the_whole_table(tmp_path):
    """The row frame is cut to the suite's columns; a table-level expectation gets every column."""
    batch = json.loads((DEFAULT_EXPECTATIONS_DIR / "articles_batch.json").read_text())
    (tmp_path / "articles_batch.json").write_text(json.dumps(batch))
    suite = {
        "name": "articles_rows",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "url"}, "meta": {"hint": "h"}}
        ],
    }
    (tmp_path / "articles_rows.json").write_text(json.dumps(suite))
    rows = [article(1, url="https://news.example/a"), article(2, url=None)]
    narrow = Validator(ValidateConfig(expectations_dir=tmp_path))
    assert [set(p.columns) for p in narrow._parts(table(rows).schema)] == [{"url"}]
    assert [f.index for f in narrow.rows(table(rows))] == [1]
    suite["expectations"].append(
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 1, "max_value": 10},
            "meta": {"hint": "h"},
        }
    )
    (tmp_path / "articles_rows.json").write_text(json.dumps(suite))
    wide = Validator(ValidateConfig(expectations_dir=tmp_path))
    [part] = wide._parts(table(rows).schema)
    assert "text" in part.columns and "title" in part.columns and "authors" not in part.columns
    assert [f.index for f in wide.rows(table(rows))] == [1]


PROSE = [
    "Le conseil municipal a voté le budget.",
    "Résumé du match ce soir à 20 h",
    "Москва сегодня утром была спокойной",
    "東京 都 の 天気 は 晴れ",
    "Il a dit : « oui » merci bien",
    "中国人民银行今天宣布，从下周一起下调存款准备金率。",
    "東京都は十五日、新しい交通計画を発表した。",
    "กรุงเทพมหานครประกาศแผนการจราจรใหม่ในวันนี้",
    "서울시는 오늘 새로운 교통 계획을 발표했다.",
    "أعلنت وزارة النقل اليوم عن خطة جديدة",
]
NOT_PROSE = [
    "12 34 56 78",
    "— — — —",
    "€ 12,50 € 13,00",
    "a b c d",
    "│ ── │ ── │ ── │",
    "ok ok",
    "",
    "首页新闻体育财经娱乐",
    "北京市朝阳区建国路88号",
    "２０１９年１２月３１日，",
    "ไทย ๑๒๓ ไทย",
]


def _text_regexes():
    suite = json.loads((DEFAULT_EXPECTATIONS_DIR / "articles_rows.json").read_text(encoding="utf-8"))
    return [
        e["kwargs"]["regex"]
        for e in suite["expectations"]
        if e["kwargs"].get("column") == "text" and "regex" in e["kwargs"]
    ]


@pytest.mark.parametrize("regex", _text_regexes())
def test_text_regexes_run_in_arrow_and_mean_the_same_there(regex):
    # pandas hands a regex to Arrow's RE2 unless it uses a class whose meaning differs there
    # (\w \d \s \b and negations): then it makes a Python string of every article, twice the
    # row suite's time and memory. Both engines must agree on what the regex matches.
    import re

    import pyarrow.compute as pc

    assert not re.search(r"\\[wWdDsSbB]", regex), "write the class out: pandas would fall back to Python's re"
    texts = PROSE + NOT_PROSE + ["Ã© mojibake â€™ left", "a \ufffd replacement"]
    in_arrow = pc.match_substring_regex(pa.array(texts), regex).to_pylist()
    assert in_arrow == [bool(re.search(regex, t)) for t in texts]


def test_prose_expectation_tells_prose_from_tables_and_numbers():
    import re

    prose = _text_regexes()[0]
    assert all(re.search(prose, t) for t in PROSE)
    assert not any(re.search(prose, t) for t in NOT_PROSE)


def test_batch_frame_converts_only_the_columns_the_batch_suite_looks_at(validator):
    import pandas as pd

    view = table([article(i) for i in range(4)]).drop_columns(["text"])
    view = view.append_column("is_duplicate", pa.array([False] * 4))
    frame = validator._frame_all(view)
    assert list(frame.columns) == view.column_names
    assert isinstance(frame["authors"].dtype, pd.ArrowDtype)  # named by no expectation: left in Arrow
    assert not isinstance(frame["article_id"].dtype, pd.ArrowDtype)  # named: a plain pandas column
    assert not isinstance(frame["is_duplicate"].dtype, pd.ArrowDtype)  # in a row condition
    assert frame["authors"].tolist()[0] == view.column("authors").to_pylist()[0]


def test_row_condition_may_mention_a_column_no_expectation_names(tmp_path):
    """The row frame carries the columns a row condition mentions, not only the named ones."""
    batch = json.loads((DEFAULT_EXPECTATIONS_DIR / "articles_batch.json").read_text())
    (tmp_path / "articles_batch.json").write_text(json.dumps(batch))
    suite = {
        "name": "articles_rows",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "meta": {"hint": "h"},
                "kwargs": {"column": "url", "row_condition": 'language == "fr"', "condition_parser": "pandas"},
            }
        ],
    }
    (tmp_path / "articles_rows.json").write_text(json.dumps(suite))
    rows = [article(1, url=None, language="en"), article(2, url=None, language="fr")]
    validator = Validator(ValidateConfig(expectations_dir=tmp_path))
    assert [set(p.columns) for p in validator._parts(table(rows).schema)] == [{"url", "language"}]
    assert [f.index for f in validator.rows(table(rows))] == [1]


def test_regex_expectations_run_as_predicates_and_find_what_gx_finds_running_them(validator):
    """The shipped row suite's regex expectations on text run in Arrow before GX (predicate
    columns): one GX call a chunk, no text in its frame; the failures, and the expectations named
    in a reason (as the suite writes them, in its order), are those of GX running the suite as it
    is, text and regexes included."""
    from pipeline.validate import PREDICATE_PREFIX, _RowPart

    rows = [article(i) for i in range(7)]
    rows[1] = dataclasses.replace(rows[1], text="12 34 56", word_count=3)  # no prose, too few words
    rows[3] = dataclasses.replace(rows[3], title="")
    rows[4] = dataclasses.replace(rows[4], text=rows[4].text + " Ã© broken")
    rows[5] = dataclasses.replace(rows[5], text=rows[5].text + " \ufffd")
    rows[6] = dataclasses.replace(rows[6], warnings=["invented characters: Han script(s) ..."])
    t = table(rows)
    parts = validator._parts(t.schema)
    assert len(parts) == 1 and "text" not in parts[0].columns
    assert {c for c in parts[0].columns if c.startswith(PREDICATE_PREFIX)} == {
        f"{PREDICATE_PREFIX}{i}"
        for i, e in enumerate(validator.row_json["expectations"])
        if "regex" in e["kwargs"] and e["kwargs"]["column"] in ("text", "warnings_text")
    }  # language's ^[a-z]{2,3}$ stays in GX: Python's $ also matches before a final new line
    found = validator.rows(t)
    whole = Validator(validator.config)  # the suite as written, whole, regexes run by GX
    n = len(whole.row_json["expectations"])
    whole._row_parts = [
        _RowPart(
            "row",
            tuple(range(n)),
            frozenset(t.column_names) - {"authors", "topics", "places", "subheadings", "repairs", "quotes", "warnings"}
            | {"warnings_text"},
        )
    ]
    assert found == whole.rows(t)
    assert [f.index for f in found] == [1, 3, 4, 5, 6]
    assert found[0].expectations[0].startswith("expect_column_values_to_match_regex(text)")
    assert found[0].expectations[1].startswith("expect_column_values_to_be_between(word_count)")
    assert found[4].expectations == ("expect_column_values_to_not_match_regex(warnings_text)",)
    assert "no prose found" in found[0].reason


@pytest.mark.parametrize(
    "regex, text",
    [
        (r"\w{3}", "été"),  # RE2's \w is ASCII
        (r"^x$", "x\n"),  # Python's $ matches before a final new line
        (r"a\s", "a\x0b"),  # RE2's \s misses the vertical tab
        (r"(a)\1", "aa"),  # a back-reference: not RE2
    ],
)
@pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression, and has match groups")
def test_regexes_that_mean_otherwise_in_re2_stay_in_gx(tmp_path, regex, text):
    """A pattern Python's re (what GX means) and RE2 would read differently is GX's to run."""
    (tmp_path / "articles_batch.json").write_text(json.dumps({"name": "b", "expectations": []}))
    expectation = {"type": "expect_column_values_to_not_match_regex", "kwargs": {"column": "title", "regex": regex}}
    (tmp_path / "articles_rows.json").write_text(json.dumps({"name": "r", "expectations": [expectation]}))
    validator = Validator(ValidateConfig(expectations_dir=tmp_path))
    t = table([dataclasses.replace(article(0), title=text), dataclasses.replace(article(1), title="-")])
    assert validator._parts(t.schema)[0].columns == {"title"}
    assert [f.index for f in validator.rows(t)] == [0]


def test_a_regex_re2_cannot_run_stays_in_gx_and_mostly_is_kept(tmp_path):
    """A lookahead is not RE2: GX runs that expectation itself; a predicate keeps ``mostly``."""
    from pipeline.validate import PREDICATE_PREFIX

    (tmp_path / "articles_batch.json").write_text(json.dumps({"name": "b", "expectations": []}))
    suite = {
        "name": "articles_rows",
        "expectations": [
            {"type": "expect_column_values_to_not_match_regex", "kwargs": {"column": "text", "regex": "x(?=yz)"}},
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "title", "regex": "^T", "mostly": 0.5},
                "meta": {"hint": "titles start with T"},
            },
        ],
    }
    (tmp_path / "articles_rows.json").write_text(json.dumps(suite))
    validator = Validator(ValidateConfig(expectations_dir=tmp_path))
    rows = [article(i) for i in range(4)]
    rows[0] = dataclasses.replace(rows[0], text=rows[0].text + " xyz", title="Nope")
    t = table(rows)
    columns = set().union(*(p.columns for p in validator._parts(t.schema)))
    assert "text" in columns and f"{PREDICATE_PREFIX}1" in columns and f"{PREDICATE_PREFIX}0" not in columns
    # One title in four does not start with T: mostly 0.5 lets it pass; the lookahead finds row 0.
    assert [(f.index, f.expectations) for f in validator.rows(t)] == [
        (0, ("expect_column_values_to_not_match_regex(text)",))
    ]
    rows[1] = dataclasses.replace(rows[1], title="No")
    rows[2] = dataclasses.replace(rows[2], title="Non")
    failed = validator.rows(table(rows))
    assert [f.index for f in failed] == [0, 1, 2]
    assert failed[1].reason == "expect_column_values_to_match_regex(title): titles start with T"


def test_gx_import_defers_scipy_stats_and_altair_and_they_work_when_used():
    """GX imports scipy.stats and altair at its own import (half its import time) for expectations
    our suites do not use: GX holds stand-ins that import them when used, for its KL-divergence
    expectation here; anyone else importing them gets the real modules."""
    code = textwrap.dedent(
        """
        import sys
        import pandas as pd
        from pipeline import validate
        gx, batch_definition = validate._context()
        print("scipy.stats" in sys.modules, "altair" in sys.modules)
        suite = gx.ExpectationSuite(name="kl", expectations=[gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
            column="x", partition_object={"values": [1, 2], "weights": [0.5, 0.5]}, threshold=0.1)])
        frame = pd.DataFrame({"x": [1, 2, 1, 2, 1, 1, 1, 1]})
        r = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
        print(r.success, round(r.results[0].result["observed_value"], 6), type(sys.modules["scipy.stats"]).__name__)
        from scipy.stats import norm
        import altair
        print(norm.cdf(0), altair.Chart.__name__)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False False"  # not imported; only GX holds their stand-ins
    # KL(0.75/0.25 || 0.5/0.5) = 0.75 ln 1.5 + 0.25 ln 0.5
    assert out[1] == f"False {round(0.75 * math.log(1.5) + 0.25 * math.log(0.5), 6)} module"
    assert out[2] == "0.5 Chart"


def test_gx_imports_without_its_sql_and_s3_extras_unless_they_are_imported_already():
    """SQLAlchemy, boto3 and botocore are GX's optional extras (SQL datasources, S3 stores): hidden
    while GX imports, then importable as usual; jsonschema is deferred and works when an
    expectation uses it. A process that imported SQLAlchemy before GX (an Airflow task) gives it
    to GX."""
    code = textwrap.dedent(
        """
        import sys
        if sys.argv[1] == "first":
            import sqlalchemy
        import pandas as pd
        from pipeline import validate
        gx, batch_definition = validate._context()
        from great_expectations.compatibility import sqlalchemy as gx_sa
        print(*(name in sys.modules for name in ("sqlalchemy", "boto3", "botocore", "jsonschema")), bool(gx_sa.sqlalchemy))
        suite = gx.ExpectationSuite(name="js", expectations=[gx.expectations.ExpectColumnValuesToMatchJsonSchema(
            column="x", json_schema={"type": "object", "required": ["a"]})])
        frame = pd.DataFrame({"x": ['{"a": 1}', '{"b": 2}', '{"a": 3}']})
        r = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
        print(r.success, r.results[0].result["partial_unexpected_list"])
        import boto3, sqlalchemy
        print(sqlalchemy.text("x").text, boto3.__name__)
        """
    )

    def run(mode):
        return subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True).stdout

    assert run("after").split("\n")[:3] == [
        "False False False False False",
        "False ['{\"b\": 2}']",
        "x boto3",
    ]
    assert run("first").split("\n")[0] == "True False False False True"


def test_the_extras_are_hidden_from_the_thread_that_imports_gx_only():
    """Another thread importing SQLAlchemy while GX imports (a source or output opened meanwhile)
    gets it; the hiding thread gets ModuleNotFoundError, as if it were not installed."""
    code = textwrap.dedent(
        """
        import sys, threading
        from pipeline import validate
        hiding = validate._HiddenInThisThread(("sqlalchemy",))
        sys.meta_path.insert(0, hiding)
        try:
            try:
                import sqlalchemy.sql
                print("imported")
            except ModuleNotFoundError as exc:
                print(exc.name)
            other = []
            t = threading.Thread(target=lambda: other.append(__import__("sqlalchemy").__name__))
            t.start(); t.join()
            print(*other)
        finally:
            sys.meta_path.remove(hiding)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["sqlalchemy", "sqlalchemy"]


def test_an_expectation_on_a_missing_column_is_an_error_not_a_pass(tmp_path):
    """GX reports a metric that raised (a column the data lacks) as an unsuccessful expectation
    with no failing row: rows must not pass it silently, and a batch names why it failed."""
    missing = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nope"}}
    for name in ("articles_rows", "articles_batch"):
        suite = {"name": name, "expectations": [missing]}
        (tmp_path / f"{name}.json").write_text(json.dumps(suite))
    validator = Validator(ValidateConfig(expectations_dir=tmp_path))
    t = table([article(i) for i in range(3)])
    with pytest.raises(StageError, match=r"not_be_null\(nope\) could not run: .*nope"):
        validator.rows(t)
    result = validator.batch(t)
    assert not result.success and "expect_column_values_to_not_be_null(nope) could not run" in result.failures[0]


def test_expectations_that_differ_only_in_their_row_condition_are_told_apart(tmp_path):
    """Each result finds its expectation by the position the suite gives it (in its meta), not
    by GX's order: two checks of one column under different conditions keep their own hints."""
    (tmp_path / "articles_batch.json").write_text(json.dumps({"name": "b", "expectations": []}))

    def between(minimum, condition, hint):
        kwargs = {"column": "word_count", "min_value": minimum}
        if condition:
            kwargs |= {"row_condition": condition, "condition_parser": "pandas"}
        return {"type": "expect_column_values_to_be_between", "kwargs": kwargs, "meta": {"hint": hint}}

    suite = {
        "name": "r",
        "expectations": [
            between(1, None, "any"),
            between(500, 'language == "fr"', "french"),
            between(500, 'language == "en"', "english"),
        ],
    }
    (tmp_path / "articles_rows.json").write_text(json.dumps(suite))
    validator = Validator(ValidateConfig(expectations_dir=tmp_path))
    rows = [dataclasses.replace(article(i), word_count=50, language=lang) for i, lang in enumerate(["en", "fr", "de"])]
    failed = validator.rows(table(rows))
    assert [(f.index, f.reason) for f in failed] == [
        (0, "expect_column_values_to_be_between(word_count): english"),
        (1, "expect_column_values_to_be_between(word_count): french"),
    ]
