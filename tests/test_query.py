"""news-etl sql (pipeline/query.py) and the README's "Reading the data" snippets, run against a
real output of the sample landing zone."""

from __future__ import annotations

import json
import re
import shlex

import pyarrow.parquet as pq
import pytest

from pipeline import query
from pipeline.cli import main
from pipeline.config import RunConfig
from pipeline.errors import StageError
from pipeline.run import run


@pytest.fixture(scope="module")
def published(samples, tmp_path_factory):
    """``<tmp>/output``: one run over every date of samples/landing (the README's paths are relative)."""
    root = tmp_path_factory.mktemp("reading")
    report = run(RunConfig(source=str(samples), output=str(root / "output"), workers=1))
    return root, report


def test_views_hold_what_was_published(published):
    root, report = published
    out = str(root / "output")
    assert query.query(out, "SELECT count(*) FROM articles").rows == [(report.articles_written,)]
    assert query.query(out, "SELECT count(*) FROM quarantine").rows == [(report.quarantined,)]
    ledger = dict(
        query.query(
            out, "SELECT outcome, count(*) FROM ledger WHERE run_id = ? GROUP BY ALL".replace("?", f"'{report.run_id}'")
        ).rows
    )
    assert ledger == {
        "written": report.articles_written,
        "quarantined": report.quarantined,
        "duplicate": report.duplicates,
        "skipped": len(report.files_skipped),
    }
    cols = query.query(out, "SELECT year, month, landing_date FROM articles LIMIT 1").columns
    assert cols == ["year", "month", "landing_date"]
    assert query.query(out, "SELECT DISTINCT landing FROM quarantine ORDER BY 1").rows[0][0].isoformat() == "2016-12-05"


def test_daily_counts_view_once_written(published, tmp_path):
    import shutil

    from pipeline.reports import daily_counts

    out = tmp_path / "output"
    shutil.copytree(published[0] / "output", out, symlinks=True)
    with pytest.raises(
        StageError,
        match=r"\[sql\] Catalog Error: Table with name daily_counts does not exist.*"
        r"daily_counts appears once the news_etl_daily_counts DAG has run",
    ):
        query.query(str(out), "SELECT * FROM daily_counts")
    daily_counts(str(out), "2016-12-07")
    rows = query.query(str(out), "SELECT landing_date, sum(articles) FROM daily_counts GROUP BY ALL").rows
    assert [(d.isoformat(), n) for d, n in rows] == [("2016-12-07", published[1].batches["2016-12-07"]["articles"])]


def test_articles_are_the_files_the_manifests_list(published, tmp_path):
    """A file no manifest lists (a publish half done, a stray copy) is not read."""
    import shutil

    out = tmp_path / "output"
    shutil.copytree(published[0] / "output", out, symlinks=True)
    listed = sorted((out / "articles").rglob("*.parquet"))
    stray = listed[0].with_name("stray.parquet")
    shutil.copy(listed[0], stray)
    n = published[1].articles_written
    assert query.query(str(out), "SELECT count(*) FROM articles").rows == [(n,)]
    assert pq.read_table(stray).num_rows > 0  # a glob would have counted it twice


def test_cli_prints_a_table_csv_and_json(published, capsys):
    out = str(published[0] / "output")
    assert main(["sql", "--output", out, "SELECT language, count(*) AS n FROM articles GROUP BY ALL ORDER BY ALL"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["language", "n"] and set(lines[1]) == {"-", " "}
    assert lines[-1] == "(2 rows)" and re.fullmatch(r"en\s+\d+", lines[2])
    assert (
        main(["sql", "--output", out, "--format", "csv", "SELECT title, authors FROM articles ORDER BY title LIMIT 2"])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == "title,authors"
    assert main(["sql", "--output", out, "--format", "json", "SELECT landing, reason FROM quarantine"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == published[1].quarantined and re.fullmatch(r"2016-12-0\d", rows[0]["landing"])


def test_cli_table_cuts_long_output(published, capsys):
    out = str(published[0] / "output")
    assert main(["sql", "--output", out, "--max-rows", "3", "SELECT text FROM articles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 3 + 1 and all(len(line) <= 60 for line in lines[2:5])
    assert (
        lines[-1] == f"({published[1].articles_written} rows, {published[1].articles_written - 3} not shown: "
        "add a LIMIT or use --format csv)"
    )


@pytest.mark.parametrize(
    "sql,message",
    [
        (
            "SELEC 1",
            'news-etl: [sql] Parser Error: syntax error at or near "SELEC": the views are articles, quarantine, ledger',
        ),
        (
            "SELECT nope FROM articles",
            'news-etl: [sql] Binder Error: Referenced column "nope" not found in FROM clause',
        ),
    ],
)
def test_cli_sql_errors_are_one_line(published, capsys, sql, message):
    assert main(["sql", "--output", str(published[0] / "output"), sql]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message)


def test_cli_sql_on_nothing_published(tmp_path, capsys):
    assert main(["sql", "--output", str(tmp_path / "none"), "SELECT 1"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"news-etl: [sql] no output folder at {tmp_path / 'none'}: pass --output with the folder news-etl run published to"
    )
    assert main(["sql", "--output", str(tmp_path), "SELECT 1"]) == 1
    assert "nothing published at" in capsys.readouterr().err
    assert main(["sql", "--output", str(tmp_path), "  "]) == 2


# ---------------------------------------------------------------------------------------------
# The README's "Reading the data" section: every snippet but Spark's runs here.


def _section(repo) -> str:
    text = (repo / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Reading the data")
    return text[start : text.index("\n## ", start + 1)]


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def test_readme_news_etl_sql_commands_answer(published, repo, monkeypatch, capsys):
    monkeypatch.chdir(published[0])
    commands = [
        line
        for block in _blocks(_section(repo), "bash")
        for line in block.splitlines()
        if line.startswith(".venv/bin/news-etl sql") and "s3://" not in line
    ]
    assert len(commands) >= 3
    for command in commands:
        argv = shlex.split(command.split("  #")[0])[1:]
        assert main(argv) == 0, command
        out = capsys.readouterr().out
        assert out.strip() and "(0 rows)" not in out, command


def test_readme_python_snippets_run(published, repo, monkeypatch):
    monkeypatch.chdir(published[0])
    report = published[1]
    snippets = _blocks(_section(repo), "python")
    assert len(snippets) == 4 and "spark" in snippets[-1]
    found = {}
    for code in snippets[:-1]:  # Spark is not installed here
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
        found.update({k: v for k, v in scope.items() if k in ("rows", "per_language", "articles", "quarantine")})
    assert sum(r[-1] for r in found["rows"]) == report.articles_written  # DuckDB
    assert found["per_language"]["len"].sum() == report.articles_written  # Polars
    assert len(found["articles"]) == report.articles_written  # pandas
    assert len(found["quarantine"]) == report.quarantined


# ---------------------------------------------------------------------------------------------
# Object storage: a local S3-compatible server (moto)


@pytest.fixture
def s3(s3_server):
    return s3_server


def test_on_object_storage_the_views_are_the_manifests_files(s3, samples, tmp_path, monkeypatch, capsys):
    from pipeline import storage
    from pipeline.report_page import write_report_page

    for k, v in s3.env.items():  # the standard AWS variables, nothing news-etl specific
        monkeypatch.setenv(k, v)
    s3.create_bucket("reading")
    fs = s3.filesystem()
    fs.put(str(samples / "2016-12-07"), "reading/landing/2016-12-07", recursive=True)
    out = "s3://reading/news"
    report = run(
        RunConfig(
            source="s3://reading/landing", output=out, date="2016-12-07", workers=1, work_dir=str(tmp_path / "work")
        )
    )
    listed = storage.published_files(out)
    # A file no manifest lists: what a glob reader sees while a rerun publishes.
    fs.copy(listed[0][len("s3://") :], listed[0][len("s3://") :].rsplit("/", 1)[0] + "/stray.parquet")

    assert (
        main(
            [
                "sql",
                "--output",
                out,
                "--format",
                "json",
                "SELECT count(*) AS n, count(DISTINCT landing_date) AS dates FROM articles",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"n": report.articles_written, "dates": 1}]
    ledger = query.query(out, "SELECT run_id, count(*) FROM ledger GROUP BY ALL").rows
    assert ledger == [(report.run_id, report.documents_seen + len(report.files_skipped))]  # skipped files too
    assert query.query(out, "SELECT count(*) FROM quarantine").rows == [(report.quarantined,)]

    page = write_report_page(out)
    assert page == "s3://reading/news/_report/index.html"
    text = fs.cat_file("reading/news/_report/index.html").decode()
    assert f"{report.articles_written} articles, {report.quarantined} quarantined" in text and "http" not in text
