"""Plan: the listing cut into contiguous, path-ordered shards balanced by bytes."""

from __future__ import annotations

import random

import pyarrow.parquet as pq
import pytest

from pipeline.config import RunConfig
from pipeline.output import output_for
from pipeline.phases.plan import plan


def reference_cut(sizes: list[int], shards: int) -> list[int]:
    """The definition the plan must agree with, one file at a time: a file goes to the shard
    its cumulative size before it falls in (a file counts at least one byte); empty shards go."""
    n = max(1, min(shards, len(sizes) or 1))
    total = sum(max(s, 1) for s in sizes) or 1
    counts, acc = [0] * n, 0
    for s in sizes:
        counts[min(n - 1, acc * n // total)] += 1
        acc += max(s, 1)
    return [c for c in counts if c] or [0]


def shard_rels(config: RunConfig, planned) -> list[list[str]]:
    staging = output_for(config).staging(planned.run_id)
    return [pq.read_table(staging / s.list).column("rel").to_pylist() for s in planned.shards]


@pytest.mark.parametrize("seed", range(4))
def test_shards_are_balanced_by_bytes_as_the_sequential_definition(tmp_path, seed):
    rnd = random.Random(seed)
    sizes = [rnd.choice([0, 1, rnd.randint(1, 5000)]) for _ in range(rnd.randint(1, 40))]
    for i, size in enumerate(sizes):
        folder = tmp_path / "src" / f"2016-12-{1 + i % 3:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"a{i:03d}.txt").write_bytes(b"x" * size)
    in_path_order = [s for _, s in sorted((f"2016-12-{1 + i % 3:02d}/a{i:03d}.txt", s) for i, s in enumerate(sizes))]
    shards = rnd.randint(1, 8)
    config = RunConfig(source=str(tmp_path / "src"), output=str(tmp_path / "out"), run_id=f"plan-{seed}")
    planned = plan(config, shards)
    assert [s.files for s in planned.shards] == reference_cut(in_path_order, shards)
    rels = shard_rels(config, planned)
    assert [r for part in rels for r in part] == sorted(r for part in rels for r in part)
    assert [s.bytes for s in planned.shards] == [
        sum(in_path_order[sum(len(p) for p in rels[:k]) :][: len(rels[k])]) for k in range(len(rels))
    ]
    assert planned.keys == ["2016-12-01", "2016-12-02", "2016-12-03"][: len(sizes)]


def test_the_listing_is_in_the_order_of_python_s_sort_of_the_names(tmp_path):
    """The listing is sorted as an Arrow column (UTF-8 bytes); names beyond ASCII, escaped bytes
    and astral characters must come in the order Python gives the same names."""
    folder = tmp_path / "src" / "2016-12-07"
    folder.mkdir(parents=True)
    names = ["b.txt", "B.txt", "été.txt", "ｅ.txt", "😀.txt", "z.txt", "a b.txt", "a%b.txt", "中文.txt", "ß.txt"]
    for name in names:
        (folder / name).write_text("Title\n\nText.\n", encoding="utf-8")
    (folder / b"latin-\xe9.txt".decode("utf-8", "surrogateescape")).write_text("x", encoding="utf-8")
    config = RunConfig(source=str(tmp_path / "src"), output=str(tmp_path / "out"), run_id="plan-order")
    rels = shard_rels(config, plan(config, 3))
    listed = [r for part in rels for r in part]
    assert len(listed) == len(names) + 1
    assert listed == sorted(listed)
    assert "2016-12-07/latin-%E9.txt" in listed
