"""evaluate's own checks, on inputs written here: scripts a source does not hold, dates a document
does not state, corpora landed without symbolic links."""

from __future__ import annotations

import datetime as dt

from pipeline.evaluate import _land, date_not_stated, invented_scripts


def test_a_script_the_source_does_not_hold_is_invented():
    raw = "<p>pauvreté » et la ville</p>".encode()
    assert invented_scripts("pauvret頻 et la ville", raw) == {"CJK"}
    assert invented_scripts("pauvreté » et la ville", raw) == set()


def test_a_script_the_source_holds_under_its_declared_charset_is_not_invented():
    raw = '<meta charset="gb2312"><p>北京</p>'.encode("gb18030")
    assert invented_scripts("北京", raw) == set()


def test_a_landing_date_or_a_year_absent_from_the_file_is_not_stated():
    at = dt.datetime(2016, 12, 7, tzinfo=dt.UTC)
    assert date_not_stated({"published_at": at, "date_source": "landing"}, b"Date: 2016-12-07")
    assert date_not_stated({"published_at": at, "date_source": "header"}, b"Date: yesterday")
    assert not date_not_stated({"published_at": at, "date_source": "header"}, b"Date: 2016-12-07")
    assert not date_not_stated({"published_at": None, "date_source": None}, b"")


def test_corpora_are_landed_as_files_not_symbolic_links(tmp_path):
    root = tmp_path / "corpus"
    (root / "files" / "a").mkdir(parents=True)
    (root / "files" / "a" / "x.txt").write_text("one")
    _land([root / "files" / "a" / "x.txt"], root, tmp_path / "landing" / "2030-01-01")
    landed = tmp_path / "landing" / "2030-01-01" / "files" / "a" / "x.txt"
    assert landed.is_file() and not landed.is_symlink() and landed.read_text() == "one"
