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


@pytest.mark.parametrize(
    "name,pack",
    [
        ("a.txt.gz", gzip.compress),
        ("a.txt.bz2", bz2.compress),
        ("a.txt.xz", lzma.compress),
        ("a.txt", gzip.compress),
    ],
)
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
    assert [i.uri for i in items] == ["memory:///landing-test/2016-12-07/b.txt"] or items[0].uri.endswith(
        "2016-12-07/b.txt"
    )
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


# ---------------------------------------------------------------------------------------------
# The landing zone is a jail: links, special files, unreadable folders (one test per escape)

SECRET = b"outside-the-landing-zone secret line\n"


@pytest.fixture
def jail(tmp_path):
    """A landing root with one good file, and a secret file and folder outside it."""
    root = tmp_path / "landing"
    _write(root, "2016-12-07/good.txt", b"good")
    outside = tmp_path / "outside"
    _write(outside, "secret.txt", SECRET)
    _write(outside, "dir/secret.txt", SECRET)
    return root, outside


def _listed(root, date=dt.date(2016, 12, 7)):
    src = Source(str(root))
    items, skipped = list_items(src, date, FetchConfig())
    got = _read_all(src, items)
    assert not any(isinstance(g, RawDocument) and SECRET in g.data for g in got)
    assert not any(isinstance(g, FetchFailure) and g.data and SECRET in g.data for g in got)
    return src, items, skipped, got


def test_file_link_out_of_the_root_is_refused_not_read(jail):
    root, outside = jail
    (root / "2016-12-07" / "passwd-link.txt").symlink_to(outside / "secret.txt")
    (root / "2016-12-07" / "relative-link.txt").symlink_to("../../outside/secret.txt")
    src, items, skipped, got = _listed(root)
    assert [i.rel for i in items] == ["2016-12-07/good.txt"]
    assert sorted(s.source_uri.rsplit("/", 1)[1] for s in skipped) == ["passwd-link.txt", "relative-link.txt"]
    assert all("symbolic link" in s.reason for s in skipped)


def test_link_inside_the_root_is_refused_too(jail):
    root, _ = jail
    (root / "2016-12-07" / "again.txt").symlink_to(root / "2016-12-07" / "good.txt")
    _, items, skipped, _ = _listed(root)
    assert [i.rel for i in items] == ["2016-12-07/good.txt"] and len(skipped) == 1


def test_folder_link_and_link_to_parent_are_not_followed(jail):
    root, outside = jail
    (root / "2016-12-07" / "linked-dir").symlink_to(outside / "dir")
    (root / "2016-12-07" / "up").symlink_to("..")
    (root / "2016-12-07" / "loop").symlink_to(".")
    src, items, skipped, _ = _listed(root)
    assert [i.rel for i in items] == ["2016-12-07/good.txt"]
    assert sorted(s.source_uri.rsplit("/", 1)[1] for s in skipped) == ["linked-dir", "loop", "up"]
    # without a date (the whole source) the same
    items, skipped = list_items(src, None, FetchConfig())
    assert [i.rel for i in items] == ["2016-12-07/good.txt"] and len(skipped) == 3


def test_date_folder_given_as_a_link_is_refused(jail):
    root, outside = jail
    (root / "2016-12-08").symlink_to(outside / "dir")
    (root / "2016").mkdir()
    (root / "2016" / "12").symlink_to(outside)
    src = Source(str(root))
    for date, refused in ((dt.date(2016, 12, 8), ["2016-12-08", "2016/12"]), (dt.date(2016, 12, 9), ["2016/12"])):
        items, skipped = list_items(src, date, FetchConfig())
        assert items == [] and [s.source_uri.split("/landing/")[1] for s in skipped] == refused
        assert all("symbolic link" in s.reason for s in skipped)


def test_root_given_as_a_link_is_resolved_and_read(jail, tmp_path):
    root, _ = jail
    (tmp_path / "root-link").symlink_to(root)
    src = Source(str(tmp_path / "root-link"))
    items, skipped = list_items(src, dt.date(2016, 12, 7), FetchConfig())
    assert [d.data for d in _read_all(src, items)] == [b"good"] and skipped == []


def test_fifo_is_skipped_without_being_opened(jail):
    root, _ = jail
    os.mkfifo(root / "2016-12-07" / "pipe.txt")
    _, items, skipped, _ = _listed(root)  # opening the FIFO for reading would block here
    assert [i.rel for i in items] == ["2016-12-07/good.txt"]
    assert len(skipped) == 1 and "FIFO" in skipped[0].reason


def test_socket_is_skipped(tmp_path):
    import socket

    root = tmp_path / "l"
    _write(root, "2016-12-07/good.txt", b"good")
    path = root / "2016-12-07" / "s.sock"
    if len(str(path)) > 100:
        pytest.skip("temporary path too long for a unix socket")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        items, skipped = list_items(Source(str(root)), dt.date(2016, 12, 7), FetchConfig())
    finally:
        sock.close()
    assert len(items) == 1 and len(skipped) == 1 and "socket" in skipped[0].reason


def test_file_swapped_for_a_link_or_fifo_after_the_listing_is_refused(jail):
    import signal

    root, outside = jail
    _write(root, "2016-12-07/later.txt", b"x")
    _write(root, "2016-12-07/sub/inner.txt", b"x")
    src = Source(str(root))
    items, _ = list_items(src, dt.date(2016, 12, 7), FetchConfig())
    assert len(items) == 3
    (root / "2016-12-07" / "later.txt").unlink()
    (root / "2016-12-07" / "later.txt").symlink_to(outside / "secret.txt")
    (root / "2016-12-07" / "good.txt").unlink()
    os.mkfifo(root / "2016-12-07" / "good.txt")
    (root / "2016-12-07" / "sub" / "inner.txt").unlink()
    (root / "2016-12-07" / "sub").rmdir()
    (root / "2016-12-07" / "sub").symlink_to(outside / "dir")  # a folder of the path became a link
    (outside / "dir" / "inner.txt").write_bytes(SECRET)
    signal.alarm(20)  # a FIFO opened without O_NONBLOCK would hang: fail instead
    try:
        got = _read_all(src, items)
    finally:
        signal.alarm(0)
    assert all(isinstance(g, Skipped) for g in got), got
    reasons = " | ".join(g.reason for g in got)
    assert "FIFO" in reasons and "symbolic link" in reasons and "leaves the source root" in reasons


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its mode")
def test_unreadable_folder_is_skipped_with_the_reason(jail):
    root, _ = jail
    _write(root, "2016-12-07/locked/a.txt", b"a")
    (root / "2016-12-07" / "locked").chmod(0)
    try:
        _, items, skipped, _ = _listed(root)
    finally:
        (root / "2016-12-07" / "locked").chmod(0o755)
    assert [i.rel for i in items] == ["2016-12-07/good.txt"]
    assert len(skipped) == 1 and "cannot be listed" in skipped[0].reason


def test_folder_that_cannot_be_listed_is_skipped_with_the_reason(jail, monkeypatch):
    """The same as the test above where it runs as root (CI): the folder's listing fails."""
    root, _ = jail
    _write(root, "2016-12-07/locked/a.txt", b"a")
    locked = str(root / "2016-12-07" / "locked")
    scandir = os.scandir

    def failing(path="."):
        if not isinstance(path, int) and os.fsdecode(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", failing)
    _, items, skipped, _ = _listed(root)
    assert [i.rel for i in items] == ["2016-12-07/good.txt"]
    assert len(skipped) == 1 and skipped[0].source_uri.endswith("/locked")
    assert "cannot be listed (Permission denied)" in skipped[0].reason


def test_fsspec_paths_outside_the_root_or_not_files_are_refused():
    mem = Source("memory://jail-test")
    mem.fs.pipe("/jail-test/2016-12-07/ok.txt", b"ok")
    mem.fs.pipe("/jail-test/2016-12-07/../../secret.txt", SECRET)  # a key, not a folder
    items, skipped = list_items(mem, None, FetchConfig())
    assert [d.data for d in _read_all(mem, items)] == [b"ok"]
    assert [s.reason for s in skipped] == ["path leaves the source root, not read"]


# ---------------------------------------------------------------------------------------------
# Names: any bytes, a printable and reversible form


@pytest.mark.parametrize(
    "name",
    [
        b"latin1-\xe9t\xe9.txt",
        b"new\nline.txt",
        b"tab\tbell\x07.txt",
        b"c1-\xc2\x85.txt",
        b"a" * 251 + b".txt",
        b"bidi-\xe2\x80\xae.txt",
        b"pct-%41%zz%.txt",
        b"hash#2.txt",
        "\u00e9t\u00e9-ok.txt".encode(),
    ],
)
def test_any_file_name_is_read_under_a_printable_reversible_name(tmp_path, name):
    from urllib.parse import unquote_to_bytes

    from pipeline.fetch import name_bytes, printable_name

    root = tmp_path / "l"
    (root / "2016-12-07").mkdir(parents=True)
    with open(os.path.join(os.fsencode(root / "2016-12-07"), name), "wb") as fh:
        fh.write(b"news")
    src = Source(str(root))
    items, skipped = list_items(src, dt.date(2016, 12, 7), FetchConfig())
    (item,) = items
    assert item.rel.isprintable() and item.uri.isprintable()
    item.rel.encode("utf-8")  # no surrogates: Arrow and the JSON report take it
    assert name_bytes(item.rel) == b"2016-12-07/" + name
    assert unquote_to_bytes(item.uri.split("/2016-12-07/")[1]) == name
    (doc,) = _read_all(src, items)
    assert doc.data == b"news" and doc.source_path == item.rel
    if name.isascii() and name.decode().isprintable() and b"%" not in name and b"#" not in name:
        assert printable_name(name.decode()) == name.decode()  # plain names are kept as they are


def test_printable_names_never_collide():
    from pipeline.fetch import name_bytes, printable_name

    names = ["a%41", "aA", "a\udcc1", "a%C1", "a#1", "a%231", "x!/y", "x%21/y", "%", "%%", "%4", "%4g", "!", "a!b"]
    shown = [printable_name(n) for n in names]
    assert len(set(shown)) == len(names)
    assert [name_bytes(s) for s in shown] == [n.encode("utf-8", "surrogateescape") for n in names]


def test_a_folder_named_like_an_archive_member_does_not_collide(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "member")
    _write(tmp_path, "2016-12-07/pack.zip", buf.getvalue())
    _write(tmp_path, "2016-12-07/pack.zip!/a.txt", b"file")
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    paths = {d.source_path: d.data for d in got}
    assert paths == {"2016-12-07/pack.zip!/a.txt": b"member", "2016-12-07/pack.zip%21/a.txt": b"file"}


def test_long_paths_are_read(tmp_path):
    rel = "2016-12-07/" + "/".join(["d" * 60] * 6) + "/" + "n" * 200 + ".txt"
    assert len(rel) > 400
    _write(tmp_path, rel, b"deep")
    src = Source(str(tmp_path))
    items, _ = list_items(src, None, FetchConfig())
    assert [i.rel for i in items] == [rel] and [d.data for d in _read_all(src, items)] == [b"deep"]


# ---------------------------------------------------------------------------------------------
# Archives: corrupt members, duplicate names, nesting, memory


def _zip(members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def _flip_member(data: bytes, name: str) -> bytes:
    """The zip with the first bytes of ``name``'s compressed data inverted (a deflate error)."""
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + 12):
        out[i] ^= 0xFF
    return bytes(out)


def test_corrupt_zip_member_is_one_failure_and_the_others_are_read(tmp_path):
    text = b"The harbour board met on Tuesday to discuss the new ferry timetable. " * 40
    data = _flip_member(_zip([("ok.txt", b"fine"), ("bad.txt", text), ("after.txt", b"also fine")]), "bad.txt")
    _write(tmp_path, "2016-12-07/flipped.zip", data)
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert [(type(g).__name__, g.source_path.rsplit("!/", 1)[1]) for g in got] == [
        ("RawDocument", "ok.txt"),
        ("FetchFailure", "bad.txt"),
        ("RawDocument", "after.txt"),
    ]
    assert "cannot read zip member" in got[1].reason and got[1].data is None


@pytest.mark.parametrize("pack", [gzip.compress, bz2.compress, lzma.compress])
def test_corrupt_and_truncated_streams_are_failures(tmp_path, pack):
    packed = pack(b"news text " * 5000)
    flipped = bytearray(packed)
    for i in range(len(packed) // 2, len(packed) // 2 + 8):
        flipped[i] ^= 0x55
    _write(tmp_path, "2016-12-07/cut.txt", packed[: len(packed) // 2])
    _write(tmp_path, "2016-12-07/flipped.txt", bytes(flipped))
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert len(got) == 2 and all(isinstance(g, FetchFailure) and "corrupt compressed file" in g.reason for g in got)
    assert got[0].data == packed[: len(packed) // 2]  # a small input's bytes are kept, with their digest
    assert got[0].raw_sha256 is not None


def test_truncated_tar_is_one_failure_after_its_good_members(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in [("one.txt", b"one"), ("two.txt", b"two" * 2000)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    _write(tmp_path, "2016-12-07/cut.tar", raw.getvalue()[:2048])
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert [type(g).__name__ for g in got] == ["RawDocument", "FetchFailure"]
    assert got[1].source_path == "2016-12-07/cut.tar" and "corrupt tar archive" in got[1].reason


def test_duplicate_member_names_get_distinct_paths(tmp_path):
    _write(
        tmp_path,
        "2016-12-07/dupes.zip",
        _zip([("a.txt", b"first"), ("a.txt", b"second"), ("./a.txt", b"third"), ("a.txt;2", b"fourth")]),
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for data in (b"one", b"two"):
            info = tarfile.TarInfo("same.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    _write(tmp_path, "2016-12-07/dupes.tar", raw.getvalue())
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    paths = [g.source_path for g in got]
    assert len(set(paths)) == len(paths) == 6
    assert {g.source_path.split("!/")[1]: g.data for g in got} == {
        "a.txt": b"first",
        "a.txt;2": b"second",
        "a.txt;3": b"third",
        "a.txt;2;2": b"fourth",
        "same.txt": b"one",
        "same.txt;2": b"two",
    }


def test_nested_zips_are_not_expanded(tmp_path):
    data = b"innermost"
    for depth in range(30):
        data = _zip([(f"level{depth}.zip" if depth else "a.txt", data)])
    _write(tmp_path, "2016-12-07/deep.zip", data)
    src = Source(str(tmp_path))
    (got,) = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert isinstance(got, FetchFailure) and "nested archive" in got.reason


def test_members_are_read_one_at_a_time(tmp_path):
    import tracemalloc

    size = 3 * 1024 * 1024
    _write(
        tmp_path, "2016-12-07/big.zip", _zip([(f"m{k}.txt", os.urandom(size)) for k in range(6)], zipfile.ZIP_STORED)
    )
    src = Source(str(tmp_path))
    (item,) = list_items(src, None, FetchConfig())[0]
    tracemalloc.start()
    try:
        count = 0
        for got in read_item(src, item, FetchConfig()):
            assert isinstance(got, RawDocument) and len(got.data) == size
            count += 1
            del got
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 6 and peak < 3 * size  # the archive is 18 MB: never whole in memory


def test_failure_bytes_are_bounded(tmp_path):
    big_bad = bytearray(gzip.compress(os.urandom(3 * 1024 * 1024)))
    big_bad[len(big_bad) // 2] ^= 0xFF
    members = [(f"bad{k}.txt.gz", bytes(big_bad)) for k in range(2)]
    members += [(f"nested{k}.zip", _zip([("a.txt", os.urandom(900_000))], zipfile.ZIP_STORED)) for k in range(20)]
    _write(tmp_path, "2016-12-07/bad.zip", _zip(members, zipfile.ZIP_STORED))
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert len(got) == 22 and all(isinstance(g, FetchFailure) for g in got)
    assert [g.data for g in got[:2]] == [None, None] and all(g.raw_sha256 for g in got)
    kept = sum(len(g.data or b"") for g in got)
    assert 0 < kept <= 16 * 1024 * 1024


def test_read_item_never_raises(tmp_path):
    """Seeded mutations of good archives and streams: each gives documents or failures, never an error."""
    import random

    rng = random.Random(15)
    text = b"Council approves the new bus timetable after a long debate on Monday evening. " * 30
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        info = tarfile.TarInfo("t.txt")
        info.size = len(text)
        tf.addfile(info, io.BytesIO(text))
    seeds = [
        _zip([("a.txt", text), ("b.txt.gz", gzip.compress(text)), ("c.zip", _zip([("x", text)]))]),
        _zip([("a.txt", text)], zipfile.ZIP_BZIP2),
        _zip([("a.txt", text)], zipfile.ZIP_LZMA),
        gzip.compress(_zip([("a.txt", text)])),
        gzip.compress(raw.getvalue()),
        bz2.compress(raw.getvalue()),
        raw.getvalue(),
        bz2.compress(text),
        lzma.compress(text),
        gzip.compress(text),
    ]
    for k in range(600):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        _write(tmp_path, f"2016-12-07/f{k:03d}", bytes(data))
    src = Source(str(tmp_path))
    items = list_items(src, None, FetchConfig())[0]
    for item in items:
        got = list(read_item(src, item, FetchConfig()))
        assert got and all(isinstance(g, (RawDocument, FetchFailure, Skipped)) for g in got)
        paths = [g.source_path for g in got if not isinstance(g, Skipped)]
        assert len(set(paths)) == len(paths)
        assert not any("unexpected error" in g.reason for g in got if isinstance(g, FetchFailure))


def _zip_with_empty_name(data: bytes) -> bytes:
    """A zip of one member named ``x`` whose name is cut to nothing (zipfile will not write one)."""
    import struct

    raw = _zip([("x", data)], zipfile.ZIP_STORED)
    cd = raw.index(b"PK\x01\x02")
    eocd = raw.index(b"PK\x05\x06")
    local = raw[:26] + struct.pack("<H", 0) + raw[28:30] + raw[31:cd]
    central = raw[cd : cd + 28] + struct.pack("<H", 0) + raw[cd + 30 : cd + 46] + raw[cd + 47 : eocd]
    end = bytearray(raw[eocd:])
    struct.pack_into("<II", end, 12, len(central), len(local))
    return local + central + bytes(end)


def test_member_with_an_empty_or_dot_name_is_refused(tmp_path):
    _write(tmp_path, "2016-12-07/empty-name.zip", _zip_with_empty_name(b"nameless"))
    _write(tmp_path, "2016-12-07/dot.zip", _zip([(".", b"dot"), ("ok.txt", b"ok")]))
    src = Source(str(tmp_path))
    got = _read_all(src, list_items(src, None, FetchConfig())[0])
    assert [(type(g).__name__, g.source_path) for g in got] == [
        ("FetchFailure", "2016-12-07/dot.zip!/."),
        ("RawDocument", "2016-12-07/dot.zip!/ok.txt"),
        ("FetchFailure", "2016-12-07/empty-name.zip!/"),
    ]
    assert all("unsafe member path" in g.reason for g in got if isinstance(g, FetchFailure))
