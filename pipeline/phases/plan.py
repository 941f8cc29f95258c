"""Plan: list the source and cut it into shards, the first phase of a run.

In:  a ``RunConfig`` (source, output, optional landing date) and a number of shards.
Out: a ``Plan`` (``OUT/.staging/<run_id>/plan.json``) and each shard's file list as Parquet
     (``records.PLAN_SCHEMA``, ``plan-shard-NNNNN.parquet``), shared through the output with the
     machines that process the shards. Shards are contiguous and path-ordered, balanced by bytes
     so that they take about the same time.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import RunConfig
from ..errors import PublishError, StageError
from ..faults import fault_point
from ..fetch import FetchItem, Source, list_table
from ..output import Output, output_for
from ..records import PLAN_SCHEMA
from ..write import key_of
from .memory import release_memory

SHARD_LIST = "plan-shard-{:05d}.parquet"


@dataclass(frozen=True)
class ShardPlan:
    files: int
    bytes: int
    list: str  # the shard's file list, next to plan.json


@dataclass(frozen=True)
class Plan:
    run_id: str
    source: str
    output: str
    date: str | None
    keys: list[str]  # the landing dates the plan's files belong to
    skipped: list[dict]  # {source_uri, reason} of the files listing left out
    shards: list[ShardPlan]
    planned_at: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        body = json.loads(text)
        return cls(**dict(body, shards=[ShardPlan(**s) for s in body["shards"]]))


def new_run_id(date: str | None) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{date or 'all'}-{secrets.token_hex(3)}"


def _parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise StageError("fetch", f"--date {value!r} is not a date", hint="use YYYY-MM-DD") from None


def _cut(sizes: np.ndarray, shards: int) -> list[tuple[int, int]]:
    """(start, stop) of each of at most ``shards`` contiguous runs of files, balanced by bytes (a
    file counts at least one byte): a file goes to the shard its cumulative size before it falls in."""
    n = max(1, min(shards, len(sizes) or 1))
    weights = np.maximum(sizes, 1)
    total = int(weights.sum()) or 1
    which = np.minimum(n - 1, (np.cumsum(weights) - weights) * n // total)
    starts = np.flatnonzero(np.concatenate(([True], which[1:] != which[:-1]))) if len(which) else []
    bounds = [*map(int, starts), len(which)]
    return [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)] or [(0, 0)]


def plan(config: RunConfig, shards: int = 1) -> Plan:
    """List the source and cut it into ``shards`` contiguous, path-ordered shards; returns the plan."""
    run_id = config.run_id or new_run_id(config.date)
    out = output_for(config)
    date = _parse_date(config.date)
    # The listing is one Arrow table (``PLAN_SCHEMA``), never an object per file: a plan of
    # millions of files must not hold them as Python objects, here or in the tasks that read it.
    listed, skipped = list_table(Source(config.source, config.storage_options), date, config.fetch)
    fault_point("plan:after_list")
    sizes = listed.column("size").to_numpy(zero_copy_only=False)
    cuts = _cut(sizes, shards)
    planned = Plan(
        run_id=run_id,
        source=config.source,
        output=out.location,
        date=config.date,
        keys=sorted(key_of(d) for d in pc.unique(listed.column("landing_date")).to_pylist()),
        skipped=[{"source_uri": s.source_uri, "reason": s.reason} for s in skipped],
        shards=[
            ShardPlan(stop - start, int(np.maximum(sizes[start:stop], 0).sum()), SHARD_LIST.format(k))
            for k, (start, stop) in enumerate(cuts)
        ],
        planned_at=dt.datetime.now(dt.UTC).isoformat(),
    )
    del sizes
    staging = out.staging(run_id)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    # Each shard's file list is its own Parquet file, read a batch at a time (``shard_items``).
    for k, (start, stop) in enumerate(cuts):
        pq.write_table(listed.slice(start, stop - start), staging / SHARD_LIST.format(k), compression="zstd")
    del listed
    (staging / "plan.json").write_text(planned.to_json(), encoding="utf-8")
    try:  # the first write to the output: where a missing bucket or a read-only key shows
        out.share(run_id, [staging / s.list for s in planned.shards] + [staging / "plan.json"])
    except Exception as exc:
        raise PublishError(
            f"cannot write to the output: {type(exc).__name__}: {exc}",
            source=config.output,
            hint="check that the bucket exists and that the credentials may write to it "
            "(the news_etl_storage connection, the AWS_* variables or --storage-option)",
        ) from exc
    fault_point("plan:after_write")
    release_memory()  # what the listing held goes back before the shards run
    return planned


def load_plan(out: Output, run_id: str) -> Plan:
    path = out.fetch(run_id, "plan.json")  # from the bucket, for a shard on another machine
    try:
        return Plan.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(
            "run",
            f"no plan for run {run_id}",
            source=str(path),
            hint="run plan() first (the DAG's plan task), or rerun the whole date",
        ) from None


def shard_items(out: Output, planned: Plan, index: int) -> Iterator[FetchItem]:
    """The files of one shard, in path order, read from its list a batch at a time."""
    path = out.fetch(planned.run_id, planned.shards[index].list)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for uri, p, rel, size, day in zip(*(batch.column(n).to_pylist() for n in PLAN_SCHEMA.names)):
            yield FetchItem(uri, p, rel, size, day)
