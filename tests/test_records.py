"""The typed records and their Arrow schemas must not drift apart."""

from __future__ import annotations

import datetime as dt
import typing

import factories
import pyarrow as pa
import pytest

from pipeline import records
from pipeline.records import (
    ARTICLE_SCHEMA,
    LEDGER_SCHEMA,
    QUARANTINE_SCHEMA,
    Article,
    LedgerEntry,
    Quarantined,
    to_batch,
)

PY_TO_ARROW = {
    str: (pa.types.is_string, pa.types.is_large_string),
    int: (pa.types.is_integer,),
    float: (pa.types.is_floating,),
    bytes: (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary),
    dt.date: (pa.types.is_date32,),
    dt.datetime: (pa.types.is_timestamp,),
    list: (pa.types.is_list,),
    dict: (pa.types.is_map,),
}


@pytest.mark.parametrize(
    "cls,schema", [(Article, ARTICLE_SCHEMA), (Quarantined, QUARANTINE_SCHEMA), (LedgerEntry, LEDGER_SCHEMA)]
)
def test_dataclass_fields_match_the_schema(cls, schema):
    hints = typing.get_type_hints(cls, vars(records))
    assert list(hints) == schema.names
    for name, hint in hints.items():
        optional = typing.get_origin(hint) is typing.Union or type(hint).__name__ == "UnionType"
        inner = [a for a in typing.get_args(hint) if a is not type(None)][0] if optional else hint
        base = typing.get_origin(inner) or inner
        field = schema.field(name)
        assert any(check(field.type) for check in PY_TO_ARROW[base]), (name, hint, field.type)
        if not field.nullable:
            assert not optional, f"{name}: the schema says not null, the record allows None"


def test_timestamps_are_utc():
    assert ARTICLE_SCHEMA.field("published_at").type == pa.timestamp("us", tz="UTC")


def test_to_batch_round_trip():
    a = factories.article(0, title="T", subheadings=["S"], extra={"newid": "7"})
    batch = to_batch([a], ARTICLE_SCHEMA)
    assert batch.schema.equals(ARTICLE_SCHEMA, check_metadata=False)
    row = batch.to_pylist()[0]
    assert row["published_at"] == a.published_at and row["extra"] == [("newid", "7")] and len(row["minhash"]) == 256


def test_the_batch_suite_lists_every_column_of_the_schema():
    """expectations/articles_batch.json repeats the columns by hand (every column but the text,
    plus is_duplicate): a column added to ARTICLE_SCHEMA must be added there too."""
    import json

    from pipeline.config import DEFAULT_EXPECTATIONS_DIR

    suite = json.loads((DEFAULT_EXPECTATIONS_DIR / "articles_batch.json").read_text())
    (columns,) = [
        e["kwargs"]["column_set"] for e in suite["expectations"] if e["type"] == "expect_table_columns_to_match_set"
    ]
    assert columns == [n for n in ARTICLE_SCHEMA.names if n != "text"] + ["is_duplicate"]


def test_the_document_steps_fill_every_article_column_once():
    """Each Article column is set by exactly one step of document.STEPS (CONTRIBUTING.md)."""
    from pipeline import document
    from pipeline.config import RunConfig
    from pipeline.fetch import RawDocument
    from pipeline.readers import read_document
    from pipeline.steps import Work

    data = b"Title: Budget passes\nDate: 2016-12-07\n\nThe council adopted the budget on Monday after a long debate.\n"
    raw = RawDocument("file:///l/a.txt", "a.txt", dt.date(2016, 12, 7), data, "0" * 64)
    config = RunConfig(source="l", output="o")
    decoded, (doc,) = read_document(data)
    work = Work(raw, decoded, doc, config)
    set_by: dict[str, list[str]] = {}
    for step in document.STEPS:
        before = set(work.row)
        assert step(work) is None
        for name in set(work.row) - before:
            set_by.setdefault(name, []).append(step.__name__)
    assert sorted(set_by) == sorted(ARTICLE_SCHEMA.names)
    assert all(len(steps) == 1 for steps in set_by.values()), set_by
