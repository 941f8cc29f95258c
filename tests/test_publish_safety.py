"""Published data is only ever changed by a publish of that date: failed dates, a lost ``current``
link, stray, truncated or foreign files and manifests, dead runs' staging, full disks, two runs at
once. Each case was a silent loss or a traceback before; here it is a test."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.check import check, table
from pipeline.config import RunConfig, ValidateConfig
from pipeline.errors import BatchValidationError, OutputError, PublishError
from pipeline.locks import date_locks
from pipeline.records import SCHEMA_VERSION
from pipeline.run import run
from pipeline.snapshot import current_snapshot

DAYS = ("2016-12-05", "2016-12-06", "2016-12-07")


def _landing(samples: Path, root: Path) -> Path:
    """Three dates of sample articles; 2016-12-05/poison.txt and 2016-12-06/copy.txt hold one text."""
    src = root / "src"
    for day, names in {
        "2016-12-05": ["council-transport.txt", "marche-de-noel.txt"],
        "2016-12-06": ["festival-lumieres.txt", "mediatheque.txt"],
        "2016-12-07": ["phone-review.txt", "regionales-sondage.txt"],
    }.items():
        (src / day).mkdir(parents=True)
        for name in names:
            found = next(samples.glob(f"*/{name}"))
            shutil.copy(found, src / day / name)
    shutil.copy(next(samples.glob("*/valmont-budget.txt")), src / "2016-12-05" / "poison.txt")
    shutil.copy(next(samples.glob("*/valmont-budget.txt")), src / "2016-12-06" / "copy.txt")
    return src


def _ids(out: Path, day: str) -> set[str]:
    manifest = json.loads((out / "_manifests" / f"{day}.json").read_text())
    return {
        aid
        for rel in manifest["files"]
        if rel.startswith("articles/")
        for aid in pq.read_table(out / rel, columns=["article_id"]).column("article_id").to_pylist()
    }


def _all_rows(out: Path) -> list[tuple]:
    rows = []
    for manifest in sorted((out / "_manifests").glob("*.json")):
        for rel in json.loads(manifest.read_text())["files"]:
            if rel.startswith("articles/"):
                t = pq.read_table(out / rel, columns=["article_id", "content_sha256"])
                rows += zip(t.column("article_id").to_pylist(), t.column("content_sha256").to_pylist())
    return sorted(rows)


@pytest.fixture()
def landing(samples, tmp_path):
    return _landing(samples, tmp_path)


def _config(src, out, **kw) -> RunConfig:
    return RunConfig(source=str(src), output=str(out), workers=1, **kw)


def _check(out: Path):
    return check(out, dt.date.fromisoformat(DAYS[0]), dt.date.fromisoformat(DAYS[-1]))


def _suites(tmp_path: Path, expectation: dict) -> Path:
    """The project's suites, with one more batch expectation."""
    suites = tmp_path / "suites"
    shutil.copytree(Path(ValidateConfig().expectations_dir), suites)
    batch = json.loads((suites / "articles_batch.json").read_text())
    batch["expectations"].append(expectation)
    (suites / "articles_batch.json").write_text(json.dumps(batch))
    return suites


def test_nothing_is_dropped_as_a_duplicate_of_a_date_that_failed(landing, tmp_path):
    suites = _suites(
        tmp_path,
        {
            "type": "expect_column_values_to_not_be_in_set",
            "kwargs": {"column": "source_path", "value_set": ["2016-12-05/poison.txt"]},
        },
    )
    out = tmp_path / "out"
    with pytest.raises(BatchValidationError, match="2016-12-05"):
        run(_config(landing, out, run_id="r1", validate=ValidateConfig(expectations_dir=suites)))
    report = json.loads((out / "_runs" / "r1.json").read_text())
    # 2016-12-06's copy was published: the text it shares with a date that failed is not lost.
    copies = [p for p in (out / "articles").rglob("2016-12-06*.parquet")]
    paths = {r for p in copies for r in pq.read_table(p, columns=["source_path"]).column("source_path").to_pylist()}
    assert "2016-12-06/copy.txt" in paths
    assert report["duplicates"] == 0
    assert report["documents_seen"] == report["articles_written"] + report["quarantined"] + report["duplicates"]
    ledger = {
        r["source_uri"].rsplit("/src/", 1)[-1]: r
        for r in pq.read_table(out / "_runs" / "r1.ledger.parquet").to_pylist()
    }
    assert ledger["2016-12-06/copy.txt"]["outcome"] == "written"
    for name in ("poison.txt", "council-transport.txt", "marche-de-noel.txt"):  # the failed date: none written
        assert ledger[f"2016-12-05/{name}"]["outcome"] == "quarantined"
        assert "batch 2016-12-05 failed" in ledger[f"2016-12-05/{name}"]["reason"]
    assert not (out / "_manifests" / "2016-12-05.json").exists()


def test_a_lost_current_link_stops_the_run_and_deletes_nothing(landing, tmp_path):
    out = tmp_path / "out"
    for day in DAYS:
        run(_config(landing, out, date=day))
    snapshots = sorted(os.listdir(out / ".snapshots"))
    (out / "current").unlink()
    with pytest.raises(OutputError, match=r"current is missing but \d+ snapshots exist.*ln -sfn") as caught:
        run(_config(landing, out, date=DAYS[0]))
    assert "\n" not in str(caught.value)
    assert sorted(os.listdir(out / ".snapshots")) == snapshots  # nothing deleted
    assert not list((out / ".staging").glob("*/"))
    statuses = _check(out)
    assert not any(s.ok for s in statuses) and "current is missing" in table(statuses)
    os.symlink(f".snapshots/{snapshots[-1]}", out / "current")  # the line's own repair
    assert all(s.ok for s in _check(out))


def test_a_stray_parquet_file_is_reported_and_never_taken_for_published(landing, tmp_path):
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[2]))
    before = _ids(out, DAYS[2])
    published = next((out / "articles").rglob(f"{DAYS[2]}*.parquet"))
    stray = published.with_name("copy-of-yesterday.parquet")
    shutil.copy(published, stray)
    statuses = _check(out)
    assert not all(s.ok for s in statuses)
    assert (
        f"not in any manifest: articles/{stray.parent.relative_to(out / 'articles').as_posix()}/{stray.name}"
        in table(statuses)
    )
    report = run(_config(landing, out, date=DAYS[2]))  # the rerun reads what the manifests name
    assert report.duplicates == 0 and report.articles_written == len(before)  # not duplicates of the stray
    assert _ids(out, DAYS[2]) == before


def test_a_truncated_published_file_is_one_line_for_the_other_dates_and_check_names_it(landing, tmp_path):
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[0]))
    victim = next((out / "articles").rglob(f"{DAYS[0]}*.parquet"))
    data = victim.read_bytes()
    victim.unlink()  # a new inode: the older snapshots keep theirs
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(OutputError, match=f"published file articles/.*{victim.name} is unreadable") as caught:
        run(_config(landing, out, date=DAYS[1]))
    assert "\n" not in str(caught.value) and f"--date {DAYS[0]}" in str(caught.value)
    problems = {s.date: s.problems for s in _check(out)}
    assert any(victim.name in p for p in problems[DAYS[0]])
    run(_config(landing, out, date=DAYS[0]))  # the rerun of its date repairs it
    run(_config(landing, out, date=DAYS[1]))
    assert {s.date: s.ok for s in _check(out)} == {DAYS[0]: True, DAYS[1]: True, DAYS[2]: False}


@pytest.mark.parametrize("garbage", ["", "{not json", "[1, 2]"])
def test_a_garbage_manifest_is_a_broken_line_and_stops_a_run(landing, tmp_path, garbage):
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[0]))
    manifest = out / "_manifests" / f"{DAYS[0]}.json"
    manifest.unlink()
    manifest.write_text(garbage)
    status = _check(out)[0]
    assert not status.ok and "manifest _manifests/2016-12-05.json is unreadable" in status.problems[0]
    assert "BROKEN" in table(_check(out))
    with pytest.raises(OutputError, match="is unreadable"):
        run(_config(landing, out, date=DAYS[1]))


def test_another_schema_version_stops_the_run_and_check_reports_it(landing, tmp_path):
    """A published date whose manifest says version 1, which cannot be migrated (older versions
    that can are tests/test_migrate.py's)."""
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[0]))
    assert json.loads((out / "_manifests" / f"{DAYS[0]}.json").read_text())["schema_version"] == SCHEMA_VERSION
    path = out / "_manifests" / f"{DAYS[0]}.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 1
    path.unlink()
    path.write_text(json.dumps(manifest))
    before = current_snapshot(out)
    with pytest.raises(
        OutputError,
        match=f"of schema version 1, which this news-etl cannot migrate .it writes version {SCHEMA_VERSION}",
    ):
        run(_config(landing, out, date=DAYS[1]))
    assert current_snapshot(out) == before
    assert any("schema version 1" in p for p in _check(out)[0].problems)


def test_a_parquet_file_of_another_schema_version_is_reported(landing, tmp_path):
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[0]))
    victim = next((out / "articles").rglob(f"{DAYS[0]}*.parquet"))
    table_ = pq.read_table(victim)
    table_ = table_.replace_schema_metadata({**table_.schema.metadata, b"news_etl.schema_version": b"99"})
    victim.unlink()
    pq.write_table(table_, victim)
    manifest_path = out / "_manifests" / f"{DAYS[0]}.json"
    manifest = json.loads(manifest_path.read_text())
    rel = victim.relative_to(out).as_posix()
    manifest["files"][rel].update(
        bytes=victim.stat().st_size, sha256=__import__("hashlib").sha256(victim.read_bytes()).hexdigest()
    )
    manifest_path.unlink()
    manifest_path.write_text(json.dumps(manifest))
    assert any("schema version 99" in p for p in _check(out)[0].problems)
    with pytest.raises(OutputError, match="schema version 99"):
        run(_config(landing, out, date=DAYS[1]))


def test_a_dead_run_s_staging_is_removed_by_the_next_run(landing, tmp_path):
    out = tmp_path / "out"
    script = (
        f"from pipeline.config import RunConfig\nfrom pipeline.run import run\n"
        f"run(RunConfig(source={str(landing)!r}, output={str(out)!r}, date={DAYS[0]!r}, workers=1, run_id='dies'))"
    )
    env = dict(os.environ, NEWS_ETL_FAULT_AT="shard:before_summary")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9
    assert (out / ".staging" / "dies").is_dir()
    run(_config(landing, out, date=DAYS[1]))
    assert sorted(os.listdir(out / ".staging")) == []


def test_a_failed_run_removes_its_staging(landing, tmp_path):
    out = tmp_path / "out"
    suites = _suites(tmp_path, {"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 0}})
    with pytest.raises(BatchValidationError):
        run(_config(landing, out, date="2016-12-05", validate=ValidateConfig(expectations_dir=suites)))
    assert sorted(os.listdir(out / ".staging")) == []


def test_disk_full_is_one_line_with_the_path_and_free_space_and_the_date_is_intact(landing, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[0]))
    before, snapshot = _all_rows(out), current_snapshot(out)
    import pipeline.snapshot as snap

    def full(src, dst):  # the OS boundary: the publish's hard links find the disk full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(snap, "_link", full)
    with pytest.raises(PublishError, match=r"cannot write .*: No space left on device; [\d,.]+ MB free on") as caught:
        run(_config(landing, out, date=DAYS[0]))
    assert "\n" not in str(caught.value)
    assert current_snapshot(out) == snapshot and _all_rows(out) == before
    assert sorted(os.listdir(out / ".snapshots")) == [snapshot.name]  # the partial snapshot is gone
    assert sorted(os.listdir(out / ".staging")) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod 555")
def test_a_read_only_output_is_one_line(landing, tmp_path):
    out = tmp_path / "out"
    run(_config(landing, out, date=DAYS[0]))
    before = _all_rows(out)
    os.chmod(out, 0o555)
    try:
        with pytest.raises(PublishError, match="cannot write .*Permission denied"):
            run(_config(landing, out, date=DAYS[1]))
    finally:
        os.chmod(out, 0o755)
    assert _all_rows(out) == before


def test_a_date_being_published_cannot_be_run_again_at_once(landing, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with date_locks(out, [DAYS[0]], "holder", str(out)):
        script = (
            f"from pipeline.config import RunConfig\nfrom pipeline.run import run\n"
            f"run(RunConfig(source={str(landing)!r}, output={str(out)!r}, date={DAYS[0]!r}, workers=1))"
        )
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1
        assert f"landing date {DAYS[0]} is being published by another run (run holder, pid {os.getpid()}" in proc.stderr
        # another date is not blocked
        report = run(_config(landing, out, date=DAYS[1]))
        assert report.status == "succeeded"
    # An owner that dies (SIGKILL) releases its lock: the next run goes ahead.
    code = (
        f"import os, signal, pathlib\nfrom pipeline.locks import date_locks\n"
        f"with date_locks(pathlib.Path({str(out)!r}), [{DAYS[0]!r}], 'crashed', 'x'):\n"
        f"    os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == -9
    assert "run crashed" in (out / ".locks" / f"{DAYS[0]}.lock").read_text()
    assert run(_config(landing, out, date=DAYS[0])).status == "succeeded"
    with date_locks(out, [DAYS[0]], "a", str(out)):  # re-entrant in one process, exclusive between two
        with date_locks(out, [DAYS[0]], "a", str(out)):
            pass
        code = f"import pathlib\nfrom pipeline.locks import date_locks\nwith date_locks(pathlib.Path({str(out)!r}), [{DAYS[0]!r}], 'b', 'x'): pass"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and "OutputBusyError" in proc.stderr


def _cli_run(landing, out, day, run_id):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            "--source",
            str(landing),
            "--output",
            str(out),
            "--date",
            day,
            "--workers",
            "1",
            "--run-id",
            run_id,
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_runs_same_date_never_mix_and_different_dates_both_publish(landing, tmp_path):
    trials = int(os.environ.get("NEWS_ETL_CONCURRENCY_TRIALS", "3"))
    reference = tmp_path / "reference"
    for day in DAYS[:2]:
        run(_config(landing, reference, date=day))
    for trial in range(trials):
        out = tmp_path / f"out{trial}"
        same = [_cli_run(landing, out, DAYS[0], f"t{trial}-a"), _cli_run(landing, out, DAYS[0], f"t{trial}-b")]
        codes = [p.wait(timeout=120) for p in same]
        errs = [p.stderr.read() for p in same]
        assert sorted(codes) in ([0, 0], [0, 1]), errs
        for code, err in zip(codes, errs):
            assert code == 0 or "is being published by another run" in err, err
        other = [_cli_run(landing, out, DAYS[1], f"t{trial}-c")]
        assert other[0].wait(timeout=120) == 0, other[0].stderr.read()
        assert all(s.ok for s in _check(out)[:2])
        assert _all_rows(out) == _all_rows(reference)
        assert not os.listdir(out / ".staging")
    # different dates at the same time: both publish, and the shared text is stored once
    out = tmp_path / "different"
    procs = [_cli_run(landing, out, DAYS[0], "d0"), _cli_run(landing, out, DAYS[1], "d1")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0], [p.stderr.read() for p in procs]
    assert [s.ok for s in _check(out)[:2]] == [True, True]
    texts = [sha for _aid, sha in _all_rows(out)]
    # One text is on both dates. Each run de-duplicates against what is published when its
    # de-duplication starts: the run that gets there second drops its copy, unless both got there
    # before either published (then the text is stored twice; a rerun of either date drops it).
    assert len(texts) - len(set(texts)) <= 1


def test_sigterm_stops_a_run_with_one_line_and_removes_its_staging(landing, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            "--source",
            str(landing),
            "--output",
            str(out),
            "--workers",
            "2",
            "--run-id",
            "term",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (out / ".staging" / "term").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.terminate()
    code = proc.wait(timeout=60)
    err = proc.stderr.read()
    if code == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert code == 143, err
    assert err.strip().splitlines()[-1].startswith("news-etl: terminated (SIGTERM)")
    assert "Traceback" not in err
    assert not (out / ".staging" / "term").exists()
