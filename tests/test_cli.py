"""The news-etl command: help, summary, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_help_explains():
    p = cli("run", "--help")
    assert p.returncode == 0
    for word in ("--source", "--output", "--date", "YYYY-MM-DD", "quarantine", "articles/year=YYYY/month=MM"):
        assert word in p.stdout
    assert cli("--help").returncode == 0


def test_run_prints_a_summary_and_exits_0_with_quarantined_rows(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "2016-12-07")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "succeeded" in out and "quarantined" in out and "duplicates" in out
    assert "read_parquet(" in out and "hive_partitioning=true" in out
    assert "expect_column_values_to_match_regex(text)" in out  # the reason of the CSV
    assert "Calculating Metrics" not in p.stderr and "great_expectations" not in p.stderr


def test_json_report(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "2016-12-05", "--json")
    report = json.loads(p.stdout)
    assert report["documents_seen"] == report["articles_written"] + report["quarantined"] + report["duplicates"]


@pytest.mark.parametrize("args,phrase", [
    (["--date", "2016-13-01"], "is not a date"),
    (["--source", "/nonexistent/landing"], "does not exist"),
])
def test_failures_exit_non_zero_with_one_line(samples, tmp_path, args, phrase):
    base = {"--source": str(samples), "--output": str(tmp_path)}
    extra = dict(zip(args[::2], args[1::2]))
    base.update(extra)
    p = cli("run", *[x for kv in base.items() for x in kv])
    assert p.returncode == 1
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("news-etl: [") and phrase in lines[0]


def test_failed_batch_exits_1_naming_the_expectation(samples, tmp_path):
    src = tmp_path / "src"
    (src / "2016-12-09").mkdir(parents=True)
    (src / "2016-12-09" / "empty.txt").write_bytes(b"")
    p = cli("run", "--source", str(src), "--output", str(tmp_path / "out"), "--date", "2016-12-09")
    assert p.returncode == 1
    assert "expect_table_row_count_to_be_between" in p.stderr and "nothing of this batch was published" in p.stderr


def test_empty_date_exits_0_and_says_so(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "1999-01-01")
    assert p.returncode == 0 and "no article files found" in p.stderr


def test_bad_arguments_exit_2():
    assert cli("run", "--output", "x").returncode == 2


def test_broken_formats_are_quarantined_and_the_run_exits_0(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "2016-12-09")
    assert p.returncode == 0, p.stderr
    for reason in ("JSON syntax error", "no article text found in the HTML page", "document cut short"):
        assert reason in p.stdout


def test_sample_landing_zone_matches_its_generator(repo):
    p = subprocess.run([sys.executable, str(repo / "samples" / "make_landing.py"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
