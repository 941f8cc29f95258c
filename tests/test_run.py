"""The run, end to end on the sample landing zone (written for the project)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from pipeline.config import DEFAULT_EXPECTATIONS_DIR, RunConfig, ValidateConfig
from pipeline.errors import BatchValidationError, StageError
from pipeline.output import open_output
from pipeline.run import run
from pipeline.snapshot import current_snapshot

BAD = {
    "2016-12-05/empty.txt": "empty file",
    "2016-12-06/scan.bin": "binary file",
    "2016-12-07/truncated.txt.gz": "corrupt compressed file",
    "2016-12-07/readings.csv": "no prose found",
    "2016-12-07/archive.tar.gz!/../escape.txt": "unsafe member path",
    "2016-12-09/cut-page.html": "the page looks truncated",
    "2016-12-09/export.json": "JSON syntax error at line 2",
    "2016-12-09/crawl.jsonl#2": "JSON syntax error on line 2",
    "2016-12-09/wire.sgm#3": "document cut short",
}


def rows(out, dataset="articles"):
    t = pq.read_table(out / dataset, partitioning="hive")
    return sorted(t.to_pylist(), key=lambda r: r["source_path"])


@pytest.fixture(scope="module")
def sample_run(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    report = run(RunConfig(source=str(samples), output=str(out), workers=2, task_files=4))
    return out, report


def test_every_input_is_accounted_for(sample_run, samples):
    out, report = sample_run
    assert report.status == "succeeded"
    assert report.balanced()
    assert report.documents_seen == report.articles_written + report.quarantined + report.duplicates
    everything = pq.read_table(report.ledger).to_pylist()
    ledger = [r for r in everything if r["outcome"] != "skipped"]
    assert len(ledger) == report.documents_seen
    assert len({r["source_uri"] for r in ledger}) == report.documents_seen
    skipped = sorted((r["source_uri"], r["reason"]) for r in everything if r["outcome"] == "skipped")
    assert skipped and skipped == sorted((s["source_uri"], s["reason"]) for s in report.files_skipped)
    listed = [p for p in samples.rglob("*") if p.is_file()]
    assert report.files_seen + len(report.files_skipped) == len(listed)
    text = (out / "_runs" / f"{report.run_id}.json").read_text()
    saved = json.loads(text)
    assert saved["documents_seen"] == report.documents_seen and saved["status"] == "succeeded"
    assert type(report).from_json(text).to_json() == text == report.to_json()


def test_manifest_inputs_name_each_date_s_articles(sample_run):
    """inputs / inputs_sha256: the (source_uri, raw_sha256) of every article a date staged, sorted."""
    import hashlib

    out, report = sample_run
    manifests = open_output(str(out)).read_manifests()
    published = rows(out)
    for key in ("2016-12-05", "2016-12-06"):  # dates without a duplicate: staged = published
        mine = sorted((r["source_uri"], r["raw_sha256"]) for r in published if str(r["landing_date"]) == key)
        manifest = manifests[key]
        assert manifest["inputs"] == len(mine) > 0
        assert manifest["inputs_sha256"] == hashlib.sha256("".join(f"{u}\t{s}\n" for u, s in mine).encode()).hexdigest()
    assert manifests["2016-12-07"]["inputs"] == report.batches["2016-12-07"]["articles"] + 1  # and the duplicate


def test_bad_files_land_in_quarantine_with_reasons(sample_run):
    out, report = sample_run
    q = {r["source_path"]: r for r in rows(out, "quarantine")}
    for path, phrase in BAD.items():
        assert path in q, path
        assert phrase in q[path]["reason"], (path, q[path]["reason"])
    assert q["2016-12-05/empty.txt"]["raw"] == b""
    assert q["2016-12-06/scan.bin"]["raw"] is not None  # small bad inputs keep their bytes
    assert report.quarantined == len(BAD)


def test_duplicate_is_counted_and_linked(sample_run):
    out, report = sample_run
    assert report.duplicates == 1
    ledger = {r["source_uri"].split("landing/")[-1]: r for r in pq.read_table(report.ledger).to_pylist()}
    dup = ledger["2016-12-07/syndicated/phone-review-copy.txt"]
    assert dup["outcome"] == "duplicate" and dup["duplicate_of"] == ledger["2016-12-07/phone-review.txt"]["article_id"]


def test_articles_are_right(sample_run):
    out, _ = sample_run
    by = {r["source_path"]: r for r in rows(out)}
    ref = by["2016-12-05/valmont-budget.txt"]
    assert ref["title"] is None and ref["language"] == "fr" and ref["date_precision"] == "month"
    assert ref["published_at"].isoformat() == "2016-12-01T00:00:00+00:00" and ref["date_source"] == "header"
    assert "Réagissez" not in ref["text"] and ref["subheadings"] == [
        "Les écoles d’abord",
        "Une dette sous surveillance",
    ]
    assert by["2016-12-05/council-transport.txt"]["encoding"] == "utf-16le-bom"
    assert by["2016-12-05/marche-de-noel.txt"]["encoding"] == "cp1252"
    assert (
        by["2016-12-06/mediatheque.txt"]["encoding"] == "iso-8859-15"
        and "cœur" in by["2016-12-06/mediatheque.txt"]["text"]
    )
    assert by["2016-12-06/port-expansion.txt"]["repairs"] and "£240" in by["2016-12-06/port-expansion.txt"]["text"]
    assert len(by["2016-12-07/regionales-sondage.txt"]["repairs"]) == 2  # double mojibake, two passes
    undated = by["2016-12-06/riverbank-volunteers.txt"]  # states no date: null, filed under its landing month
    assert (undated["date_source"], undated["published_at"], undated["date_precision"]) == ("none", None, None)
    assert by["2016-12-05/greve-transports.txt.gz"]["date_source"] == "dateline"
    assert by["2016/12/08/coastal-road.txt"]["published_at"].isoformat() == "2016-12-08T06:45:00+00:00"
    for r in by.values():
        assert "\ufffd" not in r["text"] and "Ã" not in r["text"] and "â€" not in r["text"]
        assert r["published_at"] is None or r["published_at"].tzinfo is not None


def _snapshot_rows(out):
    return sorted((r["article_id"], r["content_sha256"], r["published_at"], r["title"]) for r in rows(out))


def test_same_date_twice_is_identical_and_other_dates_are_untouched(samples, tmp_path):
    run(RunConfig(source=str(samples), output=str(tmp_path), date="2016-12-06", workers=1))
    other = tmp_path / "articles" / "year=2016" / "month=12" / "2016-12-06.part-00000.parquet"
    other_bytes = other.read_bytes()
    run(RunConfig(source=str(samples), output=str(tmp_path), date="2016-12-07", workers=1))
    first = _snapshot_rows(tmp_path)
    files = sorted(p.relative_to(tmp_path / "current") for p in (tmp_path / "current").rglob("*.parquet"))
    run(RunConfig(source=str(samples), output=str(tmp_path), date="2016-12-07", workers=2, task_files=2))
    assert _snapshot_rows(tmp_path) == first
    assert sorted(p.relative_to(tmp_path / "current") for p in (tmp_path / "current").rglob("*.parquet")) == files
    assert other.read_bytes() == other_bytes


def test_one_worker_and_many_give_the_same_rows(samples, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(RunConfig(source=str(samples), output=str(a), workers=1))
    run(RunConfig(source=str(samples), output=str(b), workers=2, task_files=1))
    strip = lambda rs: [{k: v for k, v in r.items() if k != "source_uri"} for r in rs]  # noqa: E731
    assert strip(rows(a)) == strip(rows(b))


def test_a_batch_that_breaks_a_batch_expectation_is_not_published(samples, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(samples, src)
    bad_day = src / "2016-12-19"
    bad_day.mkdir()
    (bad_day / "empty.txt").write_bytes(b"")
    (bad_day / "numbers.csv").write_bytes(b"1,2,3\n4,5,6\n")
    out = tmp_path / "out"
    run(RunConfig(source=str(src), output=str(out), date="2016-12-07"))
    before = current_snapshot(out)
    with pytest.raises(BatchValidationError, match="expect_table_row_count_to_be_between"):
        run(RunConfig(source=str(src), output=str(out), date="2016-12-19", run_id="bad-day"))
    assert current_snapshot(out) == before
    assert not (out / "quarantine" / "landing=2016-12-19").exists()
    report = json.loads((out / "_runs" / "bad-day.json").read_text())
    assert report["status"] == "failed" and "expect_table_row_count_to_be_between" in report["error"]
    assert report["batches"]["2016-12-19"]["published"] is False


def test_empty_date_is_not_an_error(samples, tmp_path):
    report = run(RunConfig(source=str(samples), output=str(tmp_path), date="1999-01-01"))
    assert report.status == "empty" and report.documents_seen == 0


def test_run_killed_mid_publish_leaves_no_partial_data_and_the_next_run_completes(samples, tmp_path):
    out = tmp_path / "out"
    run(RunConfig(source=str(samples), output=str(out), date="2016-12-07", workers=1))
    before = _snapshot_rows(out)
    # A real process dies (SIGKILL) at the moment it would swap the snapshot in.
    script = textwrap.dedent(f"""
        import os, signal
        import pipeline.snapshot as w
        real = os.replace
        def dying(src, dst, *a, **k):
            if str(dst).endswith("current"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst, *a, **k)
        w.os.replace = dying
        from pipeline.config import RunConfig
        from pipeline.run import run
        run(RunConfig(source={str(samples)!r}, output={str(out)!r}, date="2016-12-05", workers=1))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9
    assert _snapshot_rows(out) == before  # readers see the old, complete version
    assert not list((out / "articles").rglob("2016-12-05*"))
    run(RunConfig(source=str(samples), output=str(out), date="2016-12-05", workers=1))
    assert len(_snapshot_rows(out)) > len(before)
    assert sorted(os.listdir(out / ".snapshots")) == ["00000001", "00000002"]


def test_keep_raw_publishes_every_input_byte_for_byte(samples, tmp_path):
    from pipeline.config import FetchConfig

    config = RunConfig(
        source=str(samples), output=str(tmp_path), date="2016-12-06", workers=1, fetch=FetchConfig(keep_raw=True)
    )
    report = run(config)
    raw = pq.read_table(tmp_path / "raw", partitioning="hive").to_pylist()
    assert len(raw) == report.documents_seen  # every document of the date, archive members included
    by_path = {r["source_path"]: r["raw"] for r in raw}
    assert by_path["2016-12-06/scan.bin"] == (samples / "2016-12-06" / "scan.bin").read_bytes()
    assert "2016-12-06/bundle.zip!/sport/derby-basket.txt" in by_path
    run(config)  # a rerun replaces the date's raw files, it does not add to them
    assert pq.read_table(tmp_path / "raw", partitioning="hive").num_rows == len(raw)
    run(RunConfig(source=str(samples), output=str(tmp_path), date="2016-12-05", workers=1))  # keep_raw off
    assert pq.read_table(tmp_path / "raw", partitioning="hive").num_rows == len(raw)


def test_the_plan_lists_each_shard_s_files_in_parquet_and_the_shards_together_make_the_run(samples, tmp_path):
    """plan.json stays small (counts); each shard's files are a Parquet list, contiguous and in
    path order, read a batch at a time by process_shard; three shards publish what one run does."""
    from pipeline.records import PLAN_SCHEMA
    from pipeline.run import finalize, plan, process_shard

    config = RunConfig(source=str(samples), output=str(tmp_path / "out"), run_id="r-three-shards", workers=1)
    planned = plan(config, shards=3)
    staging = tmp_path / "out" / ".staging" / "r-three-shards"
    on_disk = json.loads((staging / "plan.json").read_text())
    assert on_disk == json.loads(planned.to_json()) and len(planned.shards) == 3
    assert type(planned).from_json(planned.to_json()) == planned
    lists = [pq.read_table(staging / s.list) for s in planned.shards]
    assert all(t.schema.equals(PLAN_SCHEMA) for t in lists)
    assert [t.num_rows for t in lists] == [s.files for s in planned.shards]
    rels = [r for t in lists for r in t.column("rel").to_pylist()]
    assert rels == sorted(rels) and len(rels) == len(set(rels))
    summaries = [process_shard(config, "r-three-shards", i) for i in range(3)]
    assert [s.files for s in summaries] == [s.files for s in planned.shards]
    on_disk = (staging / "shard-00001" / "summary.json").read_text()
    assert type(summaries[1]).from_json(on_disk) == summaries[1]
    report = finalize(config, "r-three-shards")
    single = run(RunConfig(source=str(samples), output=str(tmp_path / "single"), workers=1))
    assert (report.documents_seen, report.articles_written, report.quarantined, report.duplicates) == (
        single.documents_seen,
        single.articles_written,
        single.quarantined,
        single.duplicates,
    )
    assert _snapshot_rows(tmp_path / "out") == _snapshot_rows(tmp_path / "single")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_row_expectation_that_cannot_run_stops_the_run_and_publishes_nothing(samples, tmp_path, workers):
    """An expectation GX cannot run (a column the articles lack) is not a pass: the error raised
    on the staging thread stops the run, naming it; nothing is published."""
    suites = tmp_path / "expectations"
    suites.mkdir()
    shutil.copy(DEFAULT_EXPECTATIONS_DIR / "articles_batch.json", suites)
    rows = json.loads((DEFAULT_EXPECTATIONS_DIR / "articles_rows.json").read_text())
    rows["expectations"].append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such"}})
    (suites / "articles_rows.json").write_text(json.dumps(rows))
    out = tmp_path / "out"
    config = RunConfig(
        source=str(samples), output=str(out), workers=workers, validate=ValidateConfig(expectations_dir=suites)
    )
    with pytest.raises(StageError, match=r"expect_column_values_to_not_be_null\(no_such\) could not run"):
        run(config)
    assert not (out / "articles").exists()


def test_an_interrupted_run_leaves_no_staging_and_no_staging_thread(tmp_path):
    """Ctrl-C while tasks are queued for the staging thread: it stops before the run removes its
    staging, so nothing is written there afterwards and no thread is left."""
    import threading
    import time

    day = tmp_path / "src" / "2016-12-07"
    day.mkdir(parents=True)
    for i in range(120):
        words = " ".join(f"mot{i}x{k}" for k in range(60))
        (day / f"a{i:03d}.txt").write_text(f"Titre {i}\n\nUn texte de presse, numéro {i}. {words}.\n")
    out = tmp_path / "out"

    def interrupt(progress):
        raise KeyboardInterrupt

    # Every task's articles are a chunk of their own: the staging thread validates and writes
    # each one (and imports GX first), so results are still queued when the interrupt comes.
    config = RunConfig(
        source=str(tmp_path / "src"), output=str(out), workers=1, task_files=2, validate=ValidateConfig(chunk_rows=1)
    )
    with pytest.raises(KeyboardInterrupt):
        run(config, on_progress=interrupt)
    time.sleep(0.5)  # a thread still staging would write now
    assert not [p for p in (out / ".staging").rglob("*") if p.is_file()]
    assert not [t for t in threading.enumerate() if t.name.startswith("news-etl-stage")]
    assert not (out / "articles").exists()
