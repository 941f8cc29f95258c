"""The news-etl command: help, summary, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import main
from pipeline.config import RunConfig
from pipeline.run import run


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def published(samples, tmp_path_factory):
    """An output made by one run over every date of the sample landing zone."""
    out = tmp_path_factory.mktemp("published")
    run(RunConfig(source=str(samples), output=str(out), workers=1))
    return out


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
    assert f'news-etl sql --output {tmp_path} "SELECT year, month, language, count(*) FROM articles' in out
    assert f"plots:   {tmp_path}/_report/index.html" in out and (tmp_path / "_report" / "index.html").is_file()
    assert f"validation (Data Docs): {tmp_path}/_docs/" in out
    assert "expect_column_values_to_match_regex(text)" in out  # the reason of the CSV
    assert "Calculating Metrics" not in p.stderr and "great_expectations" not in p.stderr


def test_json_report(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "2016-12-05", "--json")
    report = json.loads(p.stdout)
    assert report["documents_seen"] == report["articles_written"] + report["quarantined"] + report["duplicates"]


def test_a_date_that_is_not_a_date_exits_2_before_anything_is_written(samples, tmp_path):
    out = tmp_path / "out"
    for date in ("12/07/2016", "2016-13-01"):
        p = cli("run", "--source", str(samples), "--output", str(out), "--date", date)
        assert p.returncode == 2
        assert one_line(p.stderr) == f"news-etl: [run] --date '{date}' is not a date: use YYYY-MM-DD (e.g. 2016-12-07)"
        assert not out.exists()  # no run report named after the raw date, no folder


def test_a_missing_source_exits_1_and_creates_nothing(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--source", str(tmp_path / "nonexistent"), "--output", str(out))
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith("news-etl: [fetch] source folder does not exist") and "pass --source" in line
    assert not out.exists()


def test_an_output_that_is_a_file_exits_2_and_leaves_it_alone(samples, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"not a folder")
    assert main(["run", "--source", str(samples), "--output", str(out), "--date", "2016-12-05"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"news-etl: [run] --output {out} is a file: pass a folder (created if missing) or an object-store URL"
    )
    assert out.read_bytes() == b"not a folder" and sorted(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--storage-option", "endpoint_url"], "--storage-option takes KEY=VALUE"),
        (["--run-id", "a/b"], "--run-id 'a/b' must be letters, digits"),
        (["--workers", "-1"], "--workers -1 is negative"),
        (["--expectations", "/nonexistent/suites"], "--expectations /nonexistent/suites is not a folder"),
    ],
)
def test_malformed_run_options_exit_2_with_one_line(samples, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["run", "--source", str(samples), "--output", str(out), *args]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"news-etl: [run] {message}")
    assert not out.exists()


def test_files_on_a_missing_output_or_an_absent_dataset_exits_1_with_one_line(published, tmp_path, capsys):
    assert main(["files", "--output", str(tmp_path / "nothing")]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"news-etl: [files] no output folder at {tmp_path / 'nothing'}: pass --output with the folder news-etl run published to"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["files", "--output", str(empty)]) == 1
    assert "nothing published at" in one_line(capsys.readouterr().err)
    assert main(["files", "--output", str(published), "--dataset", "raw"]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"news-etl: [files] the manifests at {published} list no raw files: runs publish raw bytes only with "
        "news-etl run --keep-raw (DAG parameter Keep raw bytes)"
    )
    assert main(["files", "--output", str(published)]) == 0
    assert all(line.endswith(".parquet") for line in capsys.readouterr().out.split())


def test_check_with_a_bad_range_exits_2(tmp_path, capsys):
    assert main(["check", "--output", str(tmp_path), "--start", "2016-12-09", "--end", "2016-12-05"]) == 2
    assert (
        one_line(capsys.readouterr().err)
        == "news-etl: [check] --end 2016-12-05 is before --start 2016-12-09: swap them"
    )
    assert main(["check", "--output", str(tmp_path), "--start", "7/12/2016", "--end", "2016-12-05"]) == 2
    assert "--start '7/12/2016' is not a date" in one_line(capsys.readouterr().err)


def test_failed_batch_exits_1_naming_the_expectation(samples, tmp_path):
    src = tmp_path / "src"
    (src / "2016-12-09").mkdir(parents=True)
    (src / "2016-12-09" / "empty.txt").write_bytes(b"")
    p = cli("run", "--source", str(src), "--output", str(tmp_path / "out"), "--date", "2016-12-09")
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert "expect_table_row_count_to_be_between" in line and "nothing of this batch was published" in line
    assert f"Data Docs: {tmp_path / 'out'}/_docs/" in line and f"plots: {tmp_path / 'out'}/_report/index.html" in line


def test_empty_date_exits_0_and_says_so(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "1999-01-01")
    assert p.returncode == 0 and "no article files found" in p.stderr


def test_bad_arguments_exit_2():
    assert cli("run", "--output", "x").returncode == 2


def test_the_summary_suggests_a_command_that_works(published, capsys):
    from pipeline.cli import _summary
    from pipeline.run import RunReport

    report = RunReport(
        run_id="r", status="succeeded", source="s", output=str(published), date=None, started_at="", articles_written=20
    )
    command = next(line.strip() for line in _summary(report).splitlines() if line.strip().startswith("news-etl sql"))
    import shlex

    argv = shlex.split(command)[1:]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["year", "month", "language", "count_star()"]
    assert "2016     12  en" in table


def test_broken_formats_are_quarantined_and_the_run_exits_0(samples, tmp_path):
    p = cli("run", "--source", str(samples), "--output", str(tmp_path), "--date", "2016-12-09")
    assert p.returncode == 0, p.stderr
    for reason in ("JSON syntax error", "no article text found in the HTML page", "document cut short"):
        assert reason in p.stdout


def test_sample_landing_zone_matches_its_generator(repo):
    p = subprocess.run(
        [sys.executable, str(repo / "samples" / "make_landing.py"), "--check"], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
