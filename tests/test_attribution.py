"""attribution: authors, source names, title suffixes and keywords, from tests/golden/attribution.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import attribution

CASES = json.loads((Path(__file__).parent / "golden" / "attribution.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "case", CASES["authors"], ids=[c.get("why", "") + ": " + " / ".join(c["in"]) for c in CASES["authors"]]
)
def test_authors(case):
    assert list(attribution.authors(case["in"], case.get("sites", ()))) == case["out"]


@pytest.mark.parametrize("case", CASES["source_name"], ids=[c["in"] for c in CASES["source_name"]])
def test_source_name(case):
    assert attribution.source_name(case["in"]) == case["out"]


@pytest.mark.parametrize("case", CASES["title"], ids=[c["in"] + " / " + ",".join(c["sites"]) for c in CASES["title"]])
def test_title_without_site(case):
    assert attribution.title_without_site(case["in"], case["sites"]) == case["out"]


@pytest.mark.parametrize("case", CASES["keywords"], ids=[";".join(c["in"]) for c in CASES["keywords"]])
def test_keywords(case):
    assert list(attribution.keywords(case["in"])) == case["out"]


@pytest.mark.parametrize("case", CASES["cjk_byline"], ids=[c["in"] for c in CASES["cjk_byline"]])
def test_chinese_byline(case):
    from pipeline.readers.html import _cjk_byline

    assert _cjk_byline(case["in"]) == case["out"]
