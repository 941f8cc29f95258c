"""The fidelity report on every labelled corpus, held to the floors in fidelity_floors.json.

``evaluate`` runs the real pipeline (``run.run``: validation and de-duplication included) over
each corpus and scores the published Parquet. A metric below its floor fails; so does a floor
that names a metric the report no longer has, and a metric the report has without a floor. The
table is printed (pytest -s) with the references measured in the same run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPORA, corpus

from pipeline.evaluate import evaluate, table

pytestmark = pytest.mark.corpora

FLOORS = json.loads((Path(__file__).parent / "fidelity_floors.json").read_text())
CASES = [(c, m) for c, metrics in FLOORS.items() if not c.startswith("_") for m in metrics]


@pytest.fixture(scope="module")
def metrics():
    corpus("html-trafilatura")  # skips the module where the corpora are absent
    found = evaluate(CORPORA)
    print("\n" + table(found))
    return {(m.corpus, m.metric): m for m in found}


def test_every_metric_has_a_floor(metrics):
    assert sorted(k for k in metrics if k[0] in FLOORS) == sorted(CASES)


@pytest.mark.parametrize("corpus_name,metric", CASES, ids=[f"{c}: {m}" for c, m in CASES])
def test_floor(metrics, corpus_name, metric):
    corpus(corpus_name)
    assert (corpus_name, metric) in metrics, "the floor names a metric the report no longer has"
    m = metrics[(corpus_name, metric)]
    floor = FLOORS[corpus_name][metric]
    if "min" in floor:
        assert m.ours >= floor["min"], f"{m.ours:.4f} < floor {floor['min']}"
    if "max" in floor:
        assert m.ours <= floor["max"], f"{m.ours:.4f} > ceiling {floor['max']}"
    if floor.get("at_least_reference"):
        assert m.reference is not None and m.ours >= m.reference, (
            f"news-etl {m.ours:.4f} < {m.reference_name} {m.reference:.4f}"
        )
