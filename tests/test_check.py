"""news-etl check: expected vs published dates, manifests vs files, exit codes."""

from __future__ import annotations

import datetime as dt
import shutil

import pyarrow.parquet as pq
import pytest

from pipeline.check import check
from pipeline.cli import main
from pipeline.config import RunConfig
from pipeline.run import run


@pytest.fixture()
def published(samples, tmp_path):
    for day in ("2016-12-05", "2016-12-06"):
        run(RunConfig(source=str(samples), output=str(tmp_path), date=day, workers=1))
    return tmp_path


def test_clean_output_is_ok(published):
    statuses = check(published, dt.date(2016, 12, 5), dt.date(2016, 12, 6))
    assert [s.ok for s in statuses] == [True, True]
    assert statuses[0].articles == 4 and statuses[0].quarantined == 1 and statuses[0].quarantine_share == 0.2
    assert main(["check", "--output", str(published), "--start", "2016-12-05", "--end", "2016-12-06"]) == 0


def test_a_missing_date_fails(published, capsys):
    assert main(["check", "--output", str(published), "--start", "2016-12-05", "--end", "2016-12-07"]) == 1
    assert "MISSING" in capsys.readouterr().out


def test_a_file_that_differs_from_its_manifest_fails(published, capsys):
    (victim,) = (published / "current" / "articles").rglob("2016-12-06.part-*.parquet")
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF  # same size, other bytes
    victim.unlink()  # break the hard link: the old snapshot keeps its copy
    victim.write_bytes(bytes(data))
    (status,) = check(published, dt.date(2016, 12, 6), dt.date(2016, 12, 6))
    assert not status.ok and "checksum differs" in status.problems[0]
    shutil.copy(victim, victim.with_name("2016-12-06.part-00099.parquet"))
    (status,) = check(published, dt.date(2016, 12, 6), dt.date(2016, 12, 6), verify_checksums=False)
    assert any("not in manifest" in p for p in status.problems)
    assert main(["check", "--output", str(published), "--start", "2016-12-06", "--end", "2016-12-06"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_daily_counts_catch_up_stale_dates_once(published):
    from pipeline.reports import daily_counts, stale_dates

    assert stale_dates(published) == ["2016-12-05", "2016-12-06"]
    for date in stale_dates(published):
        daily_counts(published, date)
    assert stale_dates(published) == []  # computed once per publish
    t = pq.read_table(published / "daily_counts" / "landing_date=2016-12-05" / "counts.parquet")
    assert sum(t.column("articles").to_pylist()) == 4
