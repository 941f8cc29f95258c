"""Inputs that used to crash a reader or blow up memory: a quarantine row per record with a reason
of its stage, a bounded excerpt and a digest; an input's bytes at most once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import textwrap

import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.config import RunConfig
from pipeline.document import process_document
from pipeline.fetch import RawDocument, Source, list_items
from pipeline.phases.tasks import process_task
from pipeline.readers import json as json_reader
from pipeline.readers.base import Rejected
from pipeline.records import Quarantined


def test_json_nested_200000_deep_is_a_parse_reason_not_an_internal_error():
    for text in ("[" * 200_000 + "]" * 200_000, '{"a": ' * 200_000 + "1" + "}" * 200_000):
        got = json_reader.read(text)
        assert len(got) == 1 and isinstance(got[0], Rejected)
        assert got[0].reason.startswith("JSON nested deeper than")


def _raw(data: bytes) -> RawDocument:
    return RawDocument(
        "file:///landing/2016-12-07/b.jsonl",
        "2016-12-07/b.jsonl",
        dt.date(2016, 12, 7),
        data,
        hashlib.sha256(data).hexdigest(),
    )


def test_a_jsonl_file_of_broken_lines_keeps_its_bytes_once():
    data = b'{"text": "A first record that parses, so the file is read as JSON lines."}\n' + b'{"a": "x\n' * 2000
    rows = [r for r in process_document(_raw(data), RunConfig(source=".", output=".")) if isinstance(r, Quarantined)]
    assert len(rows) >= 2000  # every broken line (and the first record, if it is not an article)
    assert sum(r.raw is not None for r in rows) == 1 and rows[0].raw == data
    assert all(r.raw_sha256 == hashlib.sha256(data).hexdigest() and r.size_bytes == len(data) for r in rows)
    assert all(r.text_excerpt is None or len(r.text_excerpt) <= 2000 for r in rows)
    assert {r.stage for r in rows} <= {"parse", "json", "clean", "dates", "metadata", "language"}


def test_a_fetch_failure_keeps_the_digest_of_what_was_read(samples, tmp_path):
    src = tmp_path / "src" / "2016-12-07"
    src.mkdir(parents=True)
    shutil.copy(samples / "2016-12-07" / "truncated.txt.gz", src)
    config = RunConfig(source=str(tmp_path / "src"), output=str(tmp_path / "out"))
    items, _ = list_items(Source(config.source), None, config.fetch)
    result = process_task(Source(config.source), items, config)
    (row,) = result.quarantined.to_pylist()
    assert (
        row["stage"] == "fetch"
        and row["raw_sha256"] == hashlib.sha256((src / "truncated.txt.gz").read_bytes()).hexdigest()
    )


# The run in a child process, so that its peak RSS (the run's process and its pool workers) is its own.
RUN_CHILD = textwrap.dedent("""
    import json, resource, sys
    from pipeline.config import RunConfig
    from pipeline.run import run

    report = run(RunConfig(source=sys.argv[1], output=sys.argv[2], date="2016-12-07", workers=2))
    # This process's own high-water mark (VmHWM): getrusage's ru_maxrss keeps the parent's across
    # fork and exec, so a child of a large pytest process would report the pytest process's size.
    try:
        with open("/proc/self/status") as fh:
            own = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"run_id": report.run_id, "peak_rss_kb": peak}))
""")


def test_a_run_over_1_mb_of_broken_jsonl_lines_accounts_for_each_in_bounded_memory(samples, tmp_path):
    """``printf '{"a": "x\\n%.0s' {1..N}`` sized to 1 MB (after one line that parses, so that it is
    read as JSON lines), beside one good article: 116,500 quarantine rows. It took 539-551 MB
    (the shard summary carried a ledger row and a reason per line as JSON; the reasons counted
    one key per line number); with the shard's quarantine ledger on disk as Parquet, 451-464 MB;
    with the rows turned into Arrow columns every 10,000 as they come and staged in slices,
    459-470 MB, of which about 280 MB is Great Expectations' import and 70 MB py3langid's model
    (loaded for the first record, too short for the fast path; a run of the good article alone:
    373 MB); with scipy.stats and altair left out of GX's import, about 400 MB."""
    day = tmp_path / "src" / "2016-12-07"
    day.mkdir(parents=True)
    shutil.copy(samples / "2016-12-05" / "council-transport.txt", day)
    first = b'{"text": "A first record that parses, so the file is read as JSON lines."}\n'
    broken = (1 << 20) // len(b'{"a": "x\n')
    (day / "b.jsonl").write_bytes(first + b'{"a": "x\n' * broken)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_CHILD, str(tmp_path / "src"), str(out)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    report = json.loads((out / "_runs" / f"{result['run_id']}.json").read_text())
    assert report["documents_seen"] == broken + 2 == report["articles_written"] + report["quarantined"]
    ledger = pq.read_table(report["ledger"])
    assert ledger.num_rows == report["documents_seen"]
    assert pc.sum(pc.equal(ledger.column("outcome"), "quarantined")).as_py() == report["quarantined"] >= broken
    # One count per kind of error, not one per line number.
    assert report["quarantine_reasons"] == {"parse: JSON syntax error on line N, column N": broken}
    peak_mb = result["peak_rss_kb"] / 1024
    print(f"\npeak RSS of a run over 1 MB of broken JSON lines: {peak_mb:.0f} MB")
    assert peak_mb < 500
