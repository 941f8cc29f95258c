"""Fetch: layouts, compression, archives (bounded, no path escape), hidden files."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import lzma
import os
import tarfile
import zipfile

import pytest

from pipeline.config import FetchConfig
from pipeline.errors import SourceError
from pipeline.fetch import FetchFailure, RawDocument, Skipped, Source, landing_date_of, list_items, read_item


def _write(root, rel, data: bytes):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _read_all(src, items, config=FetchConfig()):
    out = []
    for it in items:
        out.extend(read_item(src, it, config))
    return out


def test_layouts_pick_one_date(tmp_path):
    _write(tmp_path, "2016-12-07/a.txt", b"a")
    _write(tmp_path, "2016-12-07/sub/b.txt", b"b")
    _write(tmp_path, "2016/12/07/c.txt", b"c")
    _write(tmp_path, "2016-12-08/d.txt", b"d")
    src = Source(str(tmp_path))
    items, skipped = list_items(src, dt.date(2016, 12, 7), FetchConfig())
    assert [i.rel for i in items] == ["2016-12-07/a.txt", "2016-12-07/sub/b.txt", "2016/12/07/c.txt"]
    assert {i.landing_date for i in items} == {dt.date(2016, 12, 7)}
    items, _ = list_items(src, None, FetchConfig())
    assert len(items) == 4
    assert {i.rel: i.landing_date for i in items}["2016-12-08/d.txt"] == dt.date(2016, 12, 8)
    assert list_items(src, dt.date(2001, 1, 1), FetchConfig())[0] == []


def test_custom_layout_and_undated_paths():
    config = FetchConfig(layouts=("incoming/{yyyy}{mm}{dd}",))
    assert landing_date_of("incoming/20161207/a.txt", config.layouts) == dt.date(2016, 12, 7)
    assert landing_date_of("misc/a.txt", FetchConfig().layouts) is None
    assert landing_date_of("2016-13-45/a.txt", FetchConfig().layouts) is None


def test_hidden_files_are_skipped_and_reported(tmp_path):
    _write(tmp_path, "2016-12-07/.DS_Store", b"x")
    _write(tmp_path, "2016-12-07/.tmp/part.txt", b"x")
    _write(tmp_path, "2016-12-07/a.txt", b"a")
    items, skipped = list_items(Source(str(tmp_path)), dt.date(2016, 12, 7), FetchConfig())
    assert [i.rel for i in items] == ["2016-12-07/a.txt"]
    assert len(skipped) == 2 and all(s.reason == "hidden file" for s in skipped)


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        list_items(Source(str(tmp_path / "nope")), None, FetchConfig())


@pytest.mark.parametrize("name,pack", [
    ("a.txt.gz", gzip.compress), ("a.txt.bz2", bz2.compress), ("a.txt.xz", lzma.compress), ("a.txt", gzip.compress),
])
def test_compressed_files_are_recognised_by_their_bytes(tmp_path, name, pack):
    _write(tmp_path, f"2016-12-07/{name}", pack(b"hello news"))
    src = Source(str(tmp_path))
    docs = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert [d.data for d in docs] == [b"hello news"]


def test_decompression_is_bounded(tmp_path):
    _write(tmp_path, "2016-12-07/bomb.gz", gzip.compress(b"\0" * 2_000_000))
    src = Source(str(tmp_path))
    config = FetchConfig(max_document_bytes=1000, max_archive_bytes=100_000)
    (got,) = _read_all(src, list_items(src, None, config)[0], config)
    assert isinstance(got, FetchFailure) and "expands beyond" in got.reason


def test_zip_members_become_documents_and_escapes_are_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/one.txt", "one")
        zf.writestr("two.txt.gz", gzip.compress(b"two"))
        zf.writestr("../evil.txt", "evil")
        zf.writestr("/abs.txt", "abs")
        zf.writestr("__MACOSX/._one.txt", "meta")
        zf.writestr("dir/", "")
    _write(tmp_path, "2016-12-07/pack.zip", buf.getvalue())
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    docs = {d.source_path: d.data for d in got if isinstance(d, RawDocument)}
    assert docs == {"2016-12-07/pack.zip!/a/one.txt": b"one", "2016-12-07/pack.zip!/two.txt.gz": b"two"}
    refused = [f.reason for f in got if isinstance(f, FetchFailure)]
    assert len(refused) == 2 and all("unsafe member path" in r for r in refused)
    assert sum(isinstance(s, Skipped) for s in got) == 1


def test_tar_gz_members_links_and_escapes(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in [("ok.txt", b"ok"), ("../../etc/passwd", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link.txt")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    _write(tmp_path, "2016-12-07/pack.tgz", gzip.compress(raw.getvalue()))
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert [d.data for d in got if isinstance(d, RawDocument)] == [b"ok"]
    reasons = sorted(f.reason for f in got if isinstance(f, FetchFailure))
    assert "unsafe member path" in reasons[1] and "not a regular file" in reasons[0]


def test_corrupt_archives_and_streams_are_failures_not_crashes(tmp_path):
    _write(tmp_path, "2016-12-07/cut.gz", gzip.compress(b"x" * 10_000)[:30])
    _write(tmp_path, "2016-12-07/bad.zip", b"PK\x03\x04garbage")
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert all(isinstance(g, FetchFailure) for g in got) and len(got) == 2


def test_unreadable_file_is_a_failure(tmp_path):
    if os.geteuid() == 0:
        path = _write(tmp_path, "2016-12-07/a.txt", b"a")
        src = Source(str(tmp_path))
        items = list_items(src, None, FetchConfig())[0]
        path.unlink()  # listed, then gone before the read
        (got,) = _read_all(src, items)
    else:
        path = _write(tmp_path, "2016-12-07/a.txt", b"a")
        path.chmod(0)
        src = Source(str(tmp_path))
        (got,) = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert isinstance(got, FetchFailure) and "cannot read" in got.reason


def test_fsspec_url_source(tmp_path):
    _write(tmp_path, "2016-12-07/a.txt", b"hello")
    src = Source(f"file://{tmp_path}")
    items, _ = list_items(src, dt.date(2016, 12, 7), FetchConfig())
    assert [d.data for d in _read_all(src, items)] == [b"hello"]
    mem = Source("memory://landing-test")
    mem.fs.pipe("/landing-test/2016-12-07/b.txt", b"from memory")
    items, _ = list_items(mem, dt.date(2016, 12, 7), FetchConfig())
    assert [i.uri for i in items] == ["memory:///landing-test/2016-12-07/b.txt"] or items[0].uri.endswith("2016-12-07/b.txt")
    assert [d.data for d in _read_all(mem, items)] == [b"from memory"]


def test_source_is_never_modified(tmp_path, samples):
    before = {p: p.stat().st_mtime_ns for p in samples.rglob("*") if p.is_file()}
    src = Source(str(samples))
    _read_all(src, list_items(src, None, FetchConfig())[0])
    assert before == {p: p.stat().st_mtime_ns for p in samples.rglob("*") if p.is_file()}


def test_local_uris_are_file_uris_of_the_path(tmp_path):
    from pathlib import Path

    from pipeline.fetch import Source

    src = Source(str(tmp_path))
    for rel in ["2016-12-07/a.txt", "a b/é#?.txt", "x/%41.txt", "t.tar.gz!/inner.txt"]:
        assert src.uri_of(rel) == Path(src.root, rel).as_uri()
