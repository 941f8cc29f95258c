"""The benchmark's baselines are measured, not assumed: check that the hand-written pipeline hands
dateparser the header's date in every dialect the landing zone uses (given a whole header line,
dateparser spends tens of milliseconds on it and the baseline looks ten times slower than it is)."""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench  # noqa: E402
import peer_steps  # noqa: E402


@pytest.mark.parametrize("kind", range(6))
def test_handwritten_pipeline_finds_each_header_dialect_date(kind):
    day = dt.date(2016, 12, 7)
    head = bench.header(kind, day, random.Random(kind), "Un titre").lstrip()[:300]
    m = peer_steps.HEADER_DATE.search(head)
    if kind == 5:  # a title and no date: the first line goes to dateparser
        assert m is None
        return
    found = next(g for g in m.groups() if g)
    assert "2016" in found and len(found) <= 40, found


def test_both_peers_hand_dateparser_the_header_date_or_the_first_line():
    assert peer_steps.header_date_text('<ARTICLE url="u" date="7-12-2016">\nUn titre\n') == "7-12-2016"
    assert peer_steps.header_date_text("Un titre\n\nLe texte.") == "Un titre"
    assert peer_steps.header_date_text("  \n") is None
