"""Golden cases as data (tests/golden/*.json; see its README): decode, clean, dates, dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.clean import normalize, remove_boilerplate
from pipeline.dates import date_in_url, parse_date, parse_dateline
from pipeline.decode import decode
from pipeline.readers.dispatch import kind

GOLDEN = Path(__file__).parent / "golden"


def cases(name: str):
    out = []
    for case in json.loads((GOLDEN / name).read_text(encoding="utf-8")):
        marks = [pytest.mark.xfail(strict=True, reason="known failure")] if case["expect"] == "known-failure" else []
        out.append(pytest.param(case, id=case["label"], marks=marks))
    return out


def _input_bytes(case) -> bytes:
    if "bytes_hex" in case:
        return bytes.fromhex(case["bytes_hex"])
    how = case["encode_as"]
    if how.startswith("mojibake"):
        text = case["text"]
        for _ in range(2 if how == "mojibake2" else 1):
            text = text.encode("utf-8").decode("cp1252")
        return text.encode("utf-8")
    return case["text"].encode(how)


@pytest.mark.parametrize("case", cases("decode.json"))
def test_decode_golden(case):
    got = decode(_input_bytes(case), declared=case.get("declared"))
    assert got.text == case["output"]
    if "encoding" in case:
        assert got.encoding == case["encoding"]
    if "repaired" in case:
        assert bool(got.repairs) == case["repaired"], got.repairs


@pytest.mark.parametrize("case", cases("clean.json"))
def test_clean_golden(case):
    got = normalize(case["input"])
    if case.get("boilerplate"):
        got, _ = remove_boilerplate(got, case.get("language"))
    assert got == case["output"]


@pytest.mark.parametrize("case", cases("dates.json"))
def test_dates_golden(case):
    kind = case.get("kind", "date")
    fn = {"date": parse_date, "dateline": parse_dateline, "url": date_in_url}[kind]
    got = fn(case["input"])
    if case["output"] is None:
        assert got is None, got
        return
    assert got is not None
    assert got.value.isoformat() == case["output"]
    assert got.precision == case["precision"]


@pytest.mark.parametrize("case", cases("dispatch.json"))
def test_dispatch_golden(case):
    assert kind(case["text"].encode("utf-8")[:16], case["text"]) == case["kind"]
