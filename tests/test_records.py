"""The typed records and their Arrow schemas must not drift apart."""

from __future__ import annotations

import datetime as dt
import typing

import pyarrow as pa
import pytest

import factories
from pipeline import records
from pipeline.records import ARTICLE_SCHEMA, LEDGER_SCHEMA, QUARANTINE_SCHEMA, Article, LedgerEntry, Quarantined, to_batch

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


@pytest.mark.parametrize("cls,schema", [(Article, ARTICLE_SCHEMA), (Quarantined, QUARANTINE_SCHEMA), (LedgerEntry, LEDGER_SCHEMA)])
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
