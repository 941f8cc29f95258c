"""A hostile landing date: one good article among traps, through the whole run (issue 15, fetch part).

The test builds the date in a temporary folder: empty, binary, NUL-filled, truncated and
UTF-16/32 files, corrupt, duplicate-named, escaping and 30-deep nested archives, a tar with link
members, file system links to a sentinel file OUTSIDE the root (a file, a folder, ``..``), a
FIFO, names with a newline, control characters, non-UTF-8 bytes, 255 bytes, a path of more than
400 characters, and a folder that cannot be listed. It runs ``pipeline.run.run`` in a child
process (a hang is a failure, not a stuck suite; its peak RSS is measured there) and checks:
the run succeeds, the good article is published, the report balances, every input is accounted
for with a reason, and the sentinel's words appear nowhere in the output.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import textwrap
import warnings
import zipfile
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pyarrow.parquet as pq
import pytest

DATE = "2016-12-07"
GOOD = "Harbour ferry timetable"  # words of the good article: found in the output (control)
SENTINEL = "SENTINEL-4c1d9e outside the landing zone"  # outside the root: never in the output
REFUSED = "REFUSED-8b2f70 refused member"  # inside refused archive members: never in the output

GOOD_TEXT = f"""Title: {GOOD} changes from Monday
Date: Wed, 07 Dec 2016 08:30:00 +0000

The harbour board confirmed on Tuesday that the winter ferry timetable will start next Monday,
with two early crossings added on weekdays for commuters who work on the mainland.

The board said the change follows a survey of more than nine hundred passengers, most of whom
asked for a departure before seven in the morning. Weekend services stay as they are.

Ticket prices do not change this winter, and the new timetable is posted at both terminals.
"""

# Each a different story, so that none is a near duplicate of another.
STORIES = [
    "The county library opened its new reading room on Saturday after eighteen months of building work, "
    "and volunteers carried the last boxes of local history records up the restored oak staircase.",
    "Farmers in the valley say the late frost cut the apple harvest by a third this year, and several "
    "orchards will sell their fruit to the cider press rather than to the weekly market.",
    "A youth orchestra from the northern suburbs won the regional competition with a programme of "
    "folk dances arranged by its conductor, who founded the group in a school gymnasium.",
    "Engineers began replacing the cast iron water mains under the high street on Wednesday, and shops "
    "along the route will stay open behind temporary fencing until the work ends in spring.",
    "The rowing club celebrated its centenary with a regatta on the river, where former members raced "
    "in a wooden boat restored from photographs kept in the clubhouse archive.",
    "Residents of the old mill district asked the council for a pedestrian crossing near the primary "
    "school after a petition gathered almost four hundred signatures in two weeks.",
    "The observatory on the hill reopened to visitors with a refurbished telescope, and astronomers "
    "will host free evening sessions every clear Friday until the end of the winter.",
    "Bakers from across the region met at the town hall for the annual bread fair, where a family bakery "
    "won first prize for a rye loaf made with flour from a water mill nearby.",
]


def _story(k: int, title: str) -> str:
    return f"Title: {title}\n\n{STORIES[k]} {STORIES[k].split(',')[0]} was the talk of the week in town.\n"


def _zip(members) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def _flip_member(data: bytes, name: str) -> bytes:
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + 12):
        out[i] ^= 0xFF
    return bytes(out)


def _tar_with_links() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, typ, target in [
            ("sym.txt", tarfile.SYMTYPE, "/etc/passwd"),
            ("hard.txt", tarfile.LNKTYPE, "../../outside/sentinel.txt"),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = typ, target
            tf.addfile(info)
        data = (REFUSED + " " + STORIES[0]).encode()
        info = tarfile.TarInfo("../../up.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return raw.getvalue()


# name (bytes, relative to the date folder) -> what becomes of it
EXPECT_SKIPPED = {
    b"passwd-link.txt": "symbolic link",
    b"relative-link.txt": "symbolic link",
    b"linked-dir": "symbolic link",
    b"up": "symbolic link",
    b"pipe.txt": "FIFO",
    b"locked": "cannot be listed",
}


def _build(tmp: Path) -> tuple[Path, Path, Path]:
    rng = random.Random(15)
    outside = tmp / "outside"
    (outside / "dir").mkdir(parents=True)
    sentinel_text = f"Title: {SENTINEL}\n\n{SENTINEL}. " + STORIES[7] + f" {SENTINEL}.\n"
    (outside / "sentinel.txt").write_text(sentinel_text)
    (outside / "dir" / "article.txt").write_text(sentinel_text)
    root = tmp / "landing"
    day = root / DATE
    day.mkdir(parents=True)
    bdir = os.fsencode(day)

    def put(name: bytes, data: bytes) -> None:
        path = os.path.join(bdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)

    put(b"good.txt", GOOD_TEXT.encode())
    put(b"empty.txt", b"")
    put(b"binary.bin", bytes(rng.randrange(256) for _ in range(4096)))
    put(b"nul.txt", b"\0" * 4096)
    put(b"truncated.txt.gz", gzip.compress(_story(1, "Cut").encode() * 20)[:60])
    put(b"utf16.txt", _story(2, "Orchestra wins").encode("utf-16"))
    put(b"utf32.txt", _story(3, "Water mains").encode("utf-32"))
    put(b"corrupt-member.zip", _flip_member(_zip([("bad.txt", _story(4, "Flipped").encode() * 5)]), "bad.txt"))
    put(
        b"dupes.zip",
        _zip([("story.txt", _story(4, "Rowing club").encode()), ("story.txt", _story(5, "Crossing").encode())]),
    )
    put(
        b"traversal.zip",
        _zip(
            [
                ("../escaped.txt", (REFUSED + " " + STORIES[0]).encode()),
                ("/abs.txt", (REFUSED + " " + STORIES[0]).encode()),
            ]
        ),
    )
    put(b"links.tar", _tar_with_links())
    nested = _story(6, "Nested").encode()
    for depth in range(30):
        nested = _zip([(f"level{depth}.zip" if depth else "a.txt", nested)])
    put(b"deep.zip", nested)
    put(b"new\nline.txt", _story(6, "Observatory reopens").encode())
    put(b"latin1-\xe9t\xe9.txt", _story(7, "Bread fair").encode("cp1252"))
    put(b"ctrl\x01\x1b[31m-bell\x07.txt", _story(0, "Library").encode())
    put(b"n" * 251 + b".txt", _story(1, "Apple harvest").encode())
    long_rel = b"/".join([b"d" * 60] * 5) + b"/" + b"p" * 120 + b".txt"
    put(long_rel, b"Title: Long path\n\nA short note kept in a deep folder.\n")
    put(b"locked/inside.txt", _story(2, "Locked").encode())

    os.symlink(outside / "sentinel.txt", os.path.join(bdir, b"passwd-link.txt"))
    os.symlink("../../outside/sentinel.txt", os.path.join(bdir, b"relative-link.txt"))
    os.symlink(outside / "dir", os.path.join(bdir, b"linked-dir"))
    os.symlink("..", os.path.join(bdir, b"up"))
    os.mkfifo(os.path.join(bdir, b"pipe.txt"))
    return root, outside, day


# The child: the run, with the folder `locked` unreadable (chmod 000, or, as root, whom modes do not
# stop, a listing that fails the way it fails for others), then its peak RSS.
CHILD = textwrap.dedent("""
    import json, os, resource, sys
    from pipeline.config import FetchConfig, RunConfig
    from pipeline.run import run

    root, out, locked = sys.argv[1:4]
    if os.geteuid() == 0:
        scandir = os.scandir
        def failing(path="."):
            if not isinstance(path, int) and os.fsdecode(path) == locked:
                raise PermissionError(13, "Permission denied", locked)
            return scandir(path)
        os.scandir = failing
    report = run(RunConfig(source=root, output=out, date=sys.argv[4], workers=2,
                           fetch=FetchConfig(keep_raw=True)))
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"status": report.status, "run_id": report.run_id, "peak_rss_kb": peak}))
    sys.exit(0 if report.status == "succeeded" else 1)
""")


@pytest.fixture(scope="module")
def trap(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    root, outside, day = _build(tmp)
    out = tmp / "out"
    locked = day / "locked"
    if os.geteuid() != 0:
        locked.chmod(0)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), str(out), str(locked), DATE],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    report = json.loads((out / "_runs" / f"{result['run_id']}.json").read_text())
    ledger = pq.read_table(report["ledger"]).to_pylist()
    articles = pq.read_table(out / "articles", partitioning="hive").to_pylist()
    quarantine = pq.read_table(out / "quarantine", partitioning="hive").to_pylist()
    return {
        "root": root,
        "day": day,
        "out": out,
        "result": result,
        "report": report,
        "ledger": ledger,
        "articles": articles,
        "quarantine": quarantine,
    }


def _uri(day: Path, name: bytes) -> str:
    return Path(os.fsdecode(os.path.join(os.fsencode(day), name))).as_uri()


def _skipped(trap) -> dict[str, str]:
    return {s["source_uri"]: s["reason"] for s in trap["report"]["files_skipped"]}


def test_the_run_succeeds_and_publishes_the_good_article(trap):
    assert trap["result"]["status"] == "succeeded" and trap["report"]["status"] == "succeeded"
    good = [a for a in trap["articles"] if a["source_path"] == f"{DATE}/good.txt"]
    assert len(good) == 1 and good[0]["title"].startswith(GOOD)


def test_the_report_balances_and_the_ledger_has_every_document(trap):
    report, everything = trap["report"], trap["ledger"]
    ledger = [r for r in everything if r["outcome"] != "skipped"]  # skipped files are in it too
    assert report["documents_seen"] == report["articles_written"] + report["quarantined"] + report["duplicates"]
    assert len(ledger) == report["documents_seen"] == len({r["source_uri"] for r in ledger})
    assert sorted(r["source_uri"] for r in everything if r["outcome"] == "skipped") == sorted(
        s["source_uri"] for s in report["files_skipped"]
    )
    assert all(r["reason"] for r in ledger if r["outcome"] == "quarantined")


def test_every_input_is_accounted_for_with_a_reason(trap):
    """Every entry of the date folder, walked here without following links: a file has a ledger
    row (itself, a member '!/' or a record '#'), anything else a skip with a reason."""
    day, ledger, skipped = trap["day"], trap["ledger"], _skipped(trap)
    uris = [r["source_uri"] for r in ledger]
    unaccounted = []
    for dirpath, dirnames, filenames in os.walk(os.fsencode(day)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.fsencode(day))
            uri = _uri(day, rel)
            if uri in skipped:
                assert skipped[uri], uri
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                continue
            if not any(u == uri or u.startswith(uri + "!/") or u.startswith(uri + "#") for u in uris):
                unaccounted.append(rel)
    assert unaccounted == []
    for name, phrase in EXPECT_SKIPPED.items():
        assert phrase in skipped[_uri(day, name)], (name, skipped[_uri(day, name)])


def _every_value(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _every_value(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _every_value(v)
    elif isinstance(value, bytes):
        yield value
    elif value is not None:
        yield str(value).encode("utf-8", "surrogateescape")


def _found_in_output(out: Path, needle: str) -> list[str]:
    """Files under ``out`` whose bytes hold ``needle``; Parquet files are read (their pages are
    compressed) and every value of every column searched."""
    hits = []
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        if needle.encode() in path.read_bytes():
            hits.append(str(path))
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            if any(needle.encode() in v for row in table.to_pylist() for v in _every_value(row)):
                hits.append(str(path))
    return hits


def test_nothing_outside_the_root_is_read_and_refused_members_are_not_published(trap):
    out = trap["out"]
    assert _found_in_output(out, GOOD)  # the search does find what was published
    for needle in (SENTINEL, SENTINEL.split()[0], REFUSED.split()[0]):
        assert _found_in_output(out, needle) == [], needle


def test_links_to_a_file_outside_are_skipped(trap):
    skipped = _skipped(trap)
    for name in (b"passwd-link.txt", b"relative-link.txt"):
        assert "symbolic link, not followed" in skipped[_uri(trap["day"], name)]


def test_link_to_a_folder_outside_and_to_the_parent_are_skipped(trap):
    skipped = _skipped(trap)
    for name in (b"linked-dir", b"up"):
        assert "symbolic link, not followed" in skipped[_uri(trap["day"], name)]
    assert not any("/up/" in r["source_uri"] or "/linked-dir/" in r["source_uri"] for r in trap["ledger"])


def test_fifo_is_skipped_and_does_not_hang_the_run(trap):
    assert "FIFO" in _skipped(trap)[_uri(trap["day"], b"pipe.txt")]


def test_folder_that_cannot_be_listed_is_skipped_with_the_reason(trap):
    assert "cannot be listed (Permission denied)" in _skipped(trap)[_uri(trap["day"], b"locked")]


def test_archive_escapes_and_links_are_quarantined_without_bytes(trap):
    q = {r["source_path"]: r for r in trap["quarantine"]}
    for path, phrase in [
        ("traversal.zip!/../escaped.txt", "unsafe member path"),
        ("traversal.zip!//abs.txt", "unsafe member path"),
        ("links.tar!/sym.txt", "not a regular file"),
        ("links.tar!/hard.txt", "not a regular file"),
        ("links.tar!/../../up.txt", "unsafe member path"),
    ]:
        row = q[f"{DATE}/{path}"]
        assert phrase in row["reason"] and row["raw"] is None and row["text_excerpt"] is None, row


def test_corrupt_member_and_nested_zip_are_one_row_each(trap):
    q = {r["source_path"]: r for r in trap["quarantine"]}
    assert "cannot read zip member" in q[f"{DATE}/corrupt-member.zip!/bad.txt"]["reason"]
    assert "nested archive" in q[f"{DATE}/deep.zip!/level29.zip"]["reason"]
    assert "corrupt compressed file" in q[f"{DATE}/truncated.txt.gz"]["reason"]
    for name in ("empty.txt", "binary.bin", "nul.txt"):
        assert q[f"{DATE}/{name}"]["stage"] in ("decode", "parse") and q[f"{DATE}/{name}"]["reason"]


def test_duplicate_member_names_are_two_articles(trap):
    by = {a["source_path"]: a for a in trap["articles"]}
    one, two = by[f"{DATE}/dupes.zip!/story.txt"], by[f"{DATE}/dupes.zip!/story.txt;2"]
    assert one["article_id"] != two["article_id"] and one["title"] == "Rowing club" and two["title"] == "Crossing"


@pytest.mark.parametrize(
    "name", [b"new\nline.txt", b"latin1-\xe9t\xe9.txt", b"ctrl\x01\x1b[31m-bell\x07.txt", b"n" * 251 + b".txt"]
)
def test_hostile_names_are_published_under_a_printable_reversible_path(trap, name):
    rows = {unquote_to_bytes(r["source_path"]): r for r in trap["articles"] + trap["quarantine"]}
    row = rows[DATE.encode() + b"/" + name]
    assert row["source_path"].isprintable() and row["source_uri"].isprintable()
    assert unquote_to_bytes(row["source_uri"].split(f"/{DATE}/")[1]) == name
    assert row in trap["articles"], row.get("reason")


def test_a_path_of_more_than_400_characters_is_read(trap):
    (row,) = [a for a in trap["articles"] + trap["quarantine"] if a["source_path"].endswith("p" * 120 + ".txt")]
    assert len(row["source_path"]) > 400


def test_peak_rss_of_the_trap_run_is_bounded(trap):
    peak_mb = trap["result"]["peak_rss_kb"] / 1024
    print(f"\npeak RSS of the trap run: {peak_mb:.0f} MB")
    assert peak_mb < 1024
