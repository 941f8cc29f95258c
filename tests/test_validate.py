"""Validate: every suite in expectations/ on a known-good and known-bad batches, with real GX."""

from __future__ import annotations

import dataclasses
import json

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


def test_text_expectations_get_a_frame_of_their_own_and_find_the_same_failures(validator):
    """The shipped row suite runs in two parts (text / the rest); the failures, and the order of
    the expectations named in a reason, are those of the whole suite run at once."""
    from pipeline.validate import _RowPart

    rows = [article(i) for i in range(6)]
    rows[1] = dataclasses.replace(rows[1], text="12 34 56", word_count=3)  # fails in both parts
    rows[3] = dataclasses.replace(rows[3], title="")
    rows[4] = dataclasses.replace(rows[4], text=rows[4].text + " Ã© broken")
    t = table(rows)
    parts = validator._parts(t.schema)
    assert [set(p.columns) for p in parts][0] == {"text"} and "text" not in parts[1].columns
    split = validator.rows(t)
    whole = Validator(validator.config)
    n = len(whole.row_json["expectations"])
    whole._row_parts = [
        _RowPart(
            "row",
            tuple(range(n)),
            frozenset(t.column_names) - {"authors", "topics", "places", "subheadings", "repairs", "quotes", "warnings"},
        )
    ]
    assert split == whole.rows(t)
    assert [f.index for f in split] == [1, 3, 4]
    assert split[0].expectations[0].startswith("expect_column_values_to_match_regex(text)")
    assert split[0].expectations[1].startswith("expect_column_values_to_be_between(word_count)")
