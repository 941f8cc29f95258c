"""Schema evolution: ``news-etl migrate`` on a frozen output written by the version-2 code
(tests/golden/schema-v2-output: three dates, one by each column set version 2 had), runs before and
after it, a migration killed midway, and versions it must refuse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.check import check
from pipeline.cli import main as cli
from pipeline.errors import OutputError
from pipeline.faults import MIGRATE_POINTS
from pipeline.migrate import migrate, upgrade
from pipeline.output import unversioned
from pipeline.records import ARTICLE_SCHEMA, SCHEMA_CHANGES, SCHEMA_VERSION
from pipeline.snapshot import current_snapshot

GOLDEN = Path(__file__).parent / "golden" / "schema-v2-output"
DAYS = ("2016-12-05", "2016-12-06", "2016-12-07")
# The columns each date's file was written with (commits a6120af, 07a7597, aa2ba24, all version 2).
COLUMNS_OF = {"2016-12-05": 32, "2016-12-06": 33, "2016-12-07": 37}
ADDED = {name for change in SCHEMA_CHANGES if change.dataset == "articles" for name in change.added}


@pytest.fixture
def old(tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(GOLDEN, out, symlinks=True)
    return out


def _manifests(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "_manifests").glob("*.json"))}


def _rows(out: Path, day: str) -> list[dict]:
    """Every row of a date (articles and quarantine), as dicts, in file then row order."""
    return [
        {"_dataset": rel.split("/")[0], **row}
        for rel in sorted(_manifests(out)[day]["files"])
        for row in pq.read_table(out / rel).to_pylist()
    ]


def _state(out: Path) -> dict[str, bytes]:
    snapshot = current_snapshot(out)
    return {p.relative_to(snapshot).as_posix(): p.read_bytes() for p in sorted(snapshot.rglob("*")) if p.is_file()}


def _versions(out: Path, day: str) -> set[str]:
    """The version of a date's manifest and of each of its files: one element when not mixed."""
    manifest = _manifests(out)[day]
    files = {pq.read_schema(out / rel).metadata[b"news_etl.schema_version"].decode() for rel in manifest["files"]}
    return {str(manifest["schema_version"])} | files


def _ok(out: Path) -> bool:
    import datetime as dt

    return all(s.ok for s in check(out, dt.date(2016, 12, 5), dt.date(2016, 12, 7)))


def test_the_frozen_output_mixes_three_column_sets_under_version_2(old):
    assert {day: len(pq.read_schema(out_file).names) for day, out_file in _article_files(old).items()} == COLUMNS_OF
    assert all(_versions(old, day) == {"2"} for day in DAYS)
    assert not _ok(old)


def _article_files(out: Path) -> dict[str, Path]:
    return {
        day: out / next(rel for rel in manifest["files"] if rel.startswith("articles/"))
        for day, manifest in _manifests(out).items()
    }


def test_migrate_makes_check_clean_and_keeps_every_row(old):
    before = {day: _rows(old, day) for day in DAYS}
    manifests_before = _manifests(old)
    done = migrate(str(old))
    assert [(d.key, d.from_version) for d in done] == [(day, 2) for day in DAYS]
    assert _ok(old)
    for day in DAYS:
        assert _versions(old, day) == {str(SCHEMA_VERSION)}
        manifest = _manifests(old)[day]
        assert manifest["migrated"]["from_version"] == 2
        for field in ("run_id", "articles", "quarantined", "inputs_sha256", "source"):
            assert manifest.get(field) == manifests_before[day].get(field)
        after = _rows(old, day)
        assert len(after) == len(before[day])
        for was, now in zip(before[day], after):
            assert {k: now[k] for k in was} == was  # old columns kept as they were
            if now["_dataset"] == "articles":
                assert set(now) == set(ARTICLE_SCHEMA.names) | {"_dataset"}
                assert all(now[k] is None for k in ADDED - set(was))  # new ones null
    schema = pq.read_schema(_article_files(old)["2016-12-05"])
    assert schema.equals(ARTICLE_SCHEMA) and schema.metadata == ARTICLE_SCHEMA.metadata
    state = _state(old)
    assert migrate(str(old)) == [] and _state(old) == state  # idempotent: nothing left to do


def test_a_run_before_migrate_stops_with_the_command_and_changes_nothing(old, samples, tmp_path, capsys):
    state, link = _state(old), os.readlink(old / "current")
    code = cli(["run", "--source", str(samples), "--output", str(old), "--date", "2016-12-09", "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert (
        "3 published dates (2016-12-05, 2016-12-06, 2016-12-07) of schema version 2, this news-etl writes version 3"
        in err
    )
    assert err.endswith(f"news-etl migrate {old}")
    assert os.readlink(old / "current") == link and _state(old) == state
    assert not list((old / "articles").rglob("2016-12-09*"))


def test_a_run_after_migrate_publishes_beside_the_migrated_dates(old, samples, capsys):
    assert cli(["migrate", str(old)]) == 0
    printed = capsys.readouterr().out
    assert "2016-12-05: schema version 2 -> 3 (2 files, 2 rows)" in printed
    assert f"news-etl check --output {old} --start 2016-12-05 --end 2016-12-07" in printed
    code = cli(["run", "--source", str(samples), "--output", str(old), "--date", "2016-12-09", "--workers", "1"])
    assert code == 0
    import datetime as dt

    statuses = check(old, dt.date(2016, 12, 5), dt.date(2016, 12, 9))
    assert [s.date for s in statuses if s.ok] == [*DAYS, "2016-12-09"]
    assert cli(["migrate", str(old)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out


@pytest.mark.parametrize("point", [f"{MIGRATE_POINTS[1]}#1", f"{MIGRATE_POINTS[0]}#2", "publish:after_build#3"])
def test_a_migration_killed_midway_leaves_whole_dates_and_a_rerun_completes(old, tmp_path, point):
    clean = tmp_path / "clean"
    shutil.copytree(GOLDEN, clean, symlinks=True)
    migrate(str(clean))
    env = {**os.environ, "NEWS_ETL_FAULT_AT": point}
    killed = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "migrate", str(old)], env=env, capture_output=True, timeout=120
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    versions = [_versions(old, day) for day in DAYS]
    assert all(len(v) == 1 for v in versions), versions  # each date old or new, never mixed
    assert {"2"} in versions and {"3"} in versions  # killed midway indeed
    assert subprocess.run([sys.executable, "-m", "pipeline.cli", "migrate", str(old)], timeout=120).returncode == 0
    assert _ok(old)
    assert all(_rows(old, day) == _rows(clean, day) for day in DAYS)
    assert not [p.name for p in (old / ".staging").iterdir()]  # the killed migration's staging is gone


def test_a_newer_version_is_refused_and_never_downgraded(old, samples, capsys):
    path = old / "_manifests" / "2016-12-06.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    path.unlink()
    path.write_text(json.dumps(manifest))
    state = _state(old)
    with pytest.raises(OutputError, match=f"of schema version {SCHEMA_VERSION + 1}, newer than this news-etl's"):
        migrate(str(old))
    assert _state(old) == state  # the older dates are not migrated either
    code = cli(["run", "--source", str(samples), "--output", str(old), "--date", "2016-12-09", "--workers", "1"])
    assert code == 1 and "never downgraded" in capsys.readouterr().err


def test_a_version_that_cannot_be_migrated_is_refused(old):
    path = old / "_manifests" / "2016-12-06.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 1
    path.unlink()
    path.write_text(json.dumps(manifest))
    with pytest.raises(OutputError, match="schema version 1, which this news-etl cannot migrate"):
        migrate(str(old))


def test_an_undeclared_column_is_refused_not_guessed():
    table = pa.table({"article_id": ["a"], "surprise": [1]})
    with pytest.raises(OutputError, match="declare the change in pipeline/records.py SCHEMA_CHANGES"):
        upgrade(table, "articles", 2)


@pytest.fixture
def s3(s3_server):
    return s3_server


def test_migrate_on_object_storage_publishes_through_the_manifests(s3, monkeypatch):
    import datetime as dt

    for k, v in s3.env.items():
        monkeypatch.setenv(k, v)
    s3.create_bucket("migrate")
    fs = s3.filesystem()
    for rel in ("articles", "quarantine", "_manifests"):
        fs.put(str((GOLDEN / "current" / rel).resolve()), f"migrate/news/{rel}", recursive=True)
    url = "s3://migrate/news"
    assert not all(s.ok for s in check(url, dt.date(2016, 12, 5), dt.date(2016, 12, 7)))
    before = {rel: pq.read_table(GOLDEN / rel).to_pylist() for day in DAYS for rel in _manifests(GOLDEN)[day]["files"]}
    assert [d.key for d in migrate(url)] == list(DAYS)
    statuses = check(url, dt.date(2016, 12, 5), dt.date(2016, 12, 7))
    assert all(s.ok for s in statuses), [s.problems for s in statuses]
    fs.invalidate_cache()
    for day in DAYS:
        manifest = json.loads(fs.cat_file(f"migrate/news/_manifests/{day}.json"))
        assert manifest["schema_version"] == SCHEMA_VERSION and manifest["migrated"]["from_version"] == 2
        for rel in manifest["files"]:
            table = pq.read_table(f"migrate/news/{rel}", filesystem=fs)
            assert table.schema.metadata[b"news_etl.schema_version"] == str(SCHEMA_VERSION).encode()
            old_rows = before[unversioned(rel)]
            assert [{k: row[k] for k in was} for was, row in zip(old_rows, table.to_pylist())] == old_rows
    assert migrate(url) == []
    assert not fs.exists("migrate/news/_locks/2016-12-05.json")  # each date's lock released
