"""quality: HTTP error, bot-wall and consent pages quarantined, articles that mention them kept
(tests/golden/quality.json, written for the project)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.config import RunConfig
from pipeline.document import process_document
from pipeline.fetch import RawDocument
from pipeline.records import Article, Quarantined

CASES = json.loads((Path(__file__).parent / "golden" / "quality.json").read_text(encoding="utf-8"))["cases"]
CONFIG = RunConfig(source="-", output="-")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_quality_golden(case):
    raw = RawDocument(f"file:///l/{case['file']}", case["file"], dt.date(2016, 12, 7), case["text"].encode(), "0" * 64)
    (out,) = process_document(raw, CONFIG)
    if case["stage"] is None:
        assert isinstance(out, Article), getattr(out, "reason", None)
    else:
        assert isinstance(out, Quarantined) and out.stage == case["stage"], out
        assert case["reason"] in out.reason
