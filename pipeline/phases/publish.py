"""Publish: the manifest of each landing date that passed, then the output's atomic publish.

In:  the dates that passed and failed batch validation, their final files (``duplicates.Staged``),
     the shards' index files, the plan.
Out: the dates published in one atomic step (``output.Output.publish``: a snapshot swap locally,
     a manifest commit on object storage), each with its manifest: run, counts, files with rows,
     and the count and SHA-256 of its inputs; ``RunReport.published_snapshot``, ``partitions``,
     ``articles_written``. The articles of a failed date are counted as quarantined.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow.parquet as pq

from .. import __version__
from ..output import Output
from ..records import INDEX_SCHEMA
from .duplicates import Staged
from .plan import Plan
from .report import RunReport


def inputs_digest(index_paths: list[Path], key: str) -> tuple[int, str]:
    """How many articles a landing date's inputs gave, and a SHA-256 of their sorted
    (source_uri, raw_sha256) lines. The index's row groups carry landing_key statistics, so a date
    reads mostly its own rows."""
    table = pq.read_table(
        [str(p) for p in index_paths],
        columns=["source_uri", "raw_sha256"],
        filters=[("landing_key", "=", key)],
        schema=INDEX_SCHEMA,
    )
    table = table.sort_by([("source_uri", "ascending"), ("raw_sha256", "ascending")])
    digest = hashlib.sha256()
    for batch in table.to_batches(max_chunksize=10_000):
        for uri, raw_sha in zip(batch.column("source_uri").to_pylist(), batch.column("raw_sha256").to_pylist()):
            digest.update(f"{uri}\t{raw_sha}\n".encode())
    return table.num_rows, digest.hexdigest()


def publish_dates(
    out: Output,
    planned: Plan,
    passed: list[str],
    failed: dict[str, list[str]],
    staged: Staged,
    index_paths: list[Path],
    report: RunReport,
) -> None:
    report.articles_written = sum(report.batches[k]["articles"] for k in passed)
    if passed:
        manifests = {}
        for key in passed:
            n_inputs, digest = inputs_digest(index_paths, key)
            manifests[key] = {
                "key": key,
                "run_id": planned.run_id,
                "pipeline_version": __version__,
                "source": planned.source,
                "articles": report.batches[key]["articles"],
                "quarantined": report.batches[key]["quarantined"],
                "inputs": n_inputs,
                "inputs_sha256": digest,
                "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "rows_by_file": staged.rows_by_file[key],
            }
        report.partitions = sorted(
            {rel.rsplit("/", 1)[0] for k in passed for _, rel in staged.files.get(k, []) if rel.startswith("articles/")}
        )
        report.published_snapshot = out.publish({k: staged.files.get(k, []) for k in passed}, manifests, planned.run_id)
        for key in passed:
            report.batches[key]["published"] = True
    # Articles of failed batches were not written; the equation counts them as quarantined.
    for key in failed:
        report.quarantined += report.batches[key]["articles"]
        report.quarantine_reasons[f"batch {key} failed"] = report.batches[key]["articles"]
