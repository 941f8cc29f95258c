"""Fuzz through ``news-etl run``: mutated real articles under hostile names, many to a landing date.

Seeds: every file of ``samples/landing`` and, where ``../shared/corpora`` exists, a seeded draw of
its files (first 64 KB of each; their text is read here, never copied into the repository). Each
input is a seed with one to three mutations (bit flips, truncation, a re-encoding into a random
code page, splices of HTML, JSON, JSONL, SGML and feed structure or of another seed, repeated or
deleted chunks, NULs and random bytes), often nested into gzip, bz2, xz, zip, tar or tar.gz (up
to three levels, several members), under a random name (bytes that are not UTF-8, newlines,
control characters, ``#``, ``!``, ``%41``, 255-byte components, sub-folders). Each landing date
also holds three unmutated sample articles, so that it has articles to publish.

Each run is the CLI (``news-etl run``) in a child process, with a timeout (a hang is a failure),
over ``DATES`` landing dates of ``NEWS_ETL_FUZZ_PER_DATE`` inputs each, into a fresh output. It
must exit 0: every date holds articles, and the batch suite's other expectations (unique ids, no
duplicate text, the schema, known date sources) must hold whatever the input, so a failed batch
(exit 1) would be a bug here, not a verdict on the input. Then: the report balances
(``documents_seen == articles_written + quarantined + duplicates``), the ledger has one row per
document and the skipped files, every input file is accounted for (a ledger row of its own, of a
member ``!/`` or a record ``#``, or a skip with a reason), no quarantine reason is ``internal``,
``news-etl check`` is clean, and no staging or temporary file is left.

CI runs one run of 2 x 250 inputs. The long command runs 10,000 (5 runs of 2 x 1,000)::

    NEWS_ETL_FUZZ_INPUTS=10000 NEWS_ETL_FUZZ_PER_DATE=1000 ./dev test tests/test_fuzz.py -q -s -p no:cacheprovider

(``NEWS_ETL_FUZZ_SEED`` changes the draw; each run prints its inputs, documents, outcome counts
and seconds.)
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import warnings
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import CORPORA
from outputs import leftovers

PER_DATE = int(os.environ.get("NEWS_ETL_FUZZ_PER_DATE", "250"))
INPUTS = int(os.environ.get("NEWS_ETL_FUZZ_INPUTS", "0")) or 2 * PER_DATE
SEED = int(os.environ.get("NEWS_ETL_FUZZ_SEED", "15"))

SEED_BYTES = 64 * 1024
CORPUS_SEEDS = 400
CONTROLS = (  # unmutated articles, three a date, none a copy of another
    ("2016-12-05", ("council-transport.txt", "marche-de-noel.txt", "valmont-budget.txt")),
    ("2016-12-06", ("festival-lumieres.txt", "mediatheque.txt", "port-expansion.txt")),
)
DATES = tuple(date for date, _ in CONTROLS)
RUNS = max(1, -(-INPUTS // (PER_DATE * len(DATES))))  # rounded up
RUN_TIMEOUT = 60 + PER_DATE * len(DATES)  # seconds: generous; past it the run is a hang

CODECS = (
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "cp1252",
    "latin-1",
    "iso-8859-15",
    "cp1251",
    "koi8-r",
    "iso-8859-7",
    "cp437",
    "mac_roman",
    "shift_jis",
    "euc-jp",
    "gb2312",
    "gbk",
    "big5",
    "euc-kr",
    "cp1256",
    "tis-620",
)
STRUCTURE = (  # fragments of every format the readers recognise, whole or cut
    b"<html><head><meta charset='utf-8'><title>T</title></head><body><article><p>",
    b"</p></article></body></html>",
    b'<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2016-12-05T08:00:00Z"}</script>',
    b'<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">',
    b'{"title": "T", "text": "',
    b'", "date_publish": "2016-12-05"}\n',
    b'[{"maintext": "x"}, ',
    b'{"articles": [',
    b"]}",
    b'\n{"a": "x\n',
    b"<REUTERS><DATE>26-FEB-1987 15:01:01.79</DATE><TEXT><TITLE>T</TITLE><BODY>",
    b"</BODY></TEXT></REUTERS>",
    b'<!DOCTYPE lewis SYSTEM "lewis.dtd">',
    b'<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><item><title>T</title><description>',
    b"</description><pubDate>Mon, 05 Dec 2016 08:00:00 GMT</pubDate></item></channel></rss>",
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="html">',
    b"<![CDATA[",
    b"]]>",
    b"&#0; &#xD800; &amp;&lt;&#1114112;",
    b"Title: T\nDate: 2016-13-45 99:99\n\n",
    b" date 9999-12 ",
    b'<ARTICLE url="http://x" date="31-2-2016">',
    b"\r\n\r\n",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00" * 17,
)
NAME_PARTS = (
    b"article",
    b"\xe9t\xe9",
    b"\xff\xfe",
    b"new\nline",
    b"tab\tx",
    b"\x1b[31m",
    b"\x07\x01",
    b"#1",
    b"!",
    b"%41",
    b"%",
    "\u202e\u2028".encode(),
    "日本".encode(),
    b" ",
    b"-",
    b".txt",
    b".gz",
    b".zip",
    b".html",
    b".jsonl",
)


def _seeds(samples: Path) -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(samples.rglob("*")) if p.is_file()]
    if CORPORA.is_dir():  # optional: the fuzz runs on the samples alone where the corpora are absent
        files = sorted(p for p in CORPORA.rglob("*") if p.is_file())
        for p in random.Random(SEED).sample(files, min(CORPUS_SEEDS, len(files))):
            with open(p, "rb") as fh:
                seeds.append(fh.read(SEED_BYTES))
    return [s for s in seeds if s] + [b""]


def _reencode(rng: random.Random, data: bytes) -> bytes:
    text = data.decode(rng.choice(("utf-8", "cp1252", "latin-1")), "replace")
    return text.encode(rng.choice(CODECS), rng.choice(("replace", "ignore")))


def _mutate_once(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    n = len(data)
    pos = rng.randint(0, n)
    kind = rng.randrange(9)
    if kind == 0 and n:  # bit flips
        out = bytearray(data)
        for _ in range(rng.randint(1, 1 + n // 100)):
            out[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == 1:  # truncated
        return data[:pos]
    if kind == 2:  # another code page
        return _reencode(rng, data)
    if kind == 3:  # a splice of structure
        return data[:pos] + rng.choice(STRUCTURE)[: rng.randint(1, 200)] + data[pos:]
    if kind == 4:  # a splice of another seed
        other = rng.choice(seeds)
        a = rng.randint(0, len(other))
        return data[:pos] + other[a : a + rng.randint(0, 4096)] + data[pos:]
    if kind == 5:  # a chunk repeated
        chunk = data[pos : pos + rng.randint(1, 512)]
        return data[:pos] + chunk * rng.randint(2, 50) + data[pos:]
    if kind == 6:  # a chunk deleted
        return data[:pos] + data[pos + rng.randint(1, 1024) :]
    if kind == 7:  # random bytes
        return data[:pos] + rng.randbytes(rng.randint(1, 64)) + data[pos:]
    return data[:pos] + b"\x00" * rng.randint(1, 64) + data[pos:]  # NULs


def _zip(rng: random.Random, members: list[tuple[bytes, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names, on purpose
        with zipfile.ZipFile(buf, "w", rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))) as zf:
            for name, data in members:
                zf.writestr(name.decode("utf-8", "replace") or "member", data)
    return buf.getvalue()


def _tar(rng: random.Random, members: list[tuple[bytes, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=rng.choice(("w", "w:gz")), format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape") or "member")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _nest(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """Wrapped in up to three levels of compression or archives (bit flips after wrapping too)."""
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        kind = rng.randrange(6)
        if kind == 0:
            data = gzip.compress(data)
        elif kind == 1:
            data = bz2.compress(data)
        elif kind == 2:
            data = lzma.compress(data)
        else:
            members = [(_name(rng, i), _mutate(rng, rng.choice(seeds), seeds)) for i in range(rng.randint(0, 3))]
            members.insert(rng.randint(0, len(members)), (_name(rng, 9), data))
            data = _zip(rng, members) if kind < 5 else _tar(rng, members)
        if rng.random() < 0.1:
            data = _mutate_once(rng, data, seeds)  # a corrupt stream or archive
    return data


def _mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    for _ in range(rng.randint(1, 3)):
        data = _mutate_once(rng, data, seeds)
    return data[: 4 * SEED_BYTES]


def _name(rng: random.Random, i: int) -> bytes:
    """A file name, unique by its number: random parts, sometimes a 255-byte component."""
    name = b"%05d" % i + b"".join(rng.choice(NAME_PARTS) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.05:
        name = (name + b"n" * 255)[:255]
    return name.replace(b"/", b"_")


def _build(root: Path, run: int, samples: Path, seeds: list[bytes]) -> int:
    """The landing dates of fuzz run ``run``; returns the number of mutated inputs."""
    rng = random.Random(SEED * 1_000_003 + run)
    inputs = 0
    for date, controls in CONTROLS:
        day = os.fsencode(root / date)
        os.makedirs(day)
        for name in controls:
            shutil.copy(samples / date / name, os.fsdecode(os.path.join(day, b"0-control-" + name.encode())))
        for i in range(PER_DATE):
            data = _nest(rng, _mutate(rng, rng.choice(seeds), seeds), seeds)
            folder = day
            for _ in range(rng.choice((0, 0, 0, 1, 2))):
                folder = os.path.join(folder, b"d" + _name(rng, rng.randrange(100))[:254])
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, _name(rng, i)), "wb") as fh:
                fh.write(data)
            inputs += 1
    return inputs


def _uri(day: Path, rel: bytes) -> str:
    return Path(os.fsdecode(os.path.join(os.fsencode(day), rel))).as_uri()


def _unaccounted(day: Path, ledger: list[dict], skipped: dict[str, str]) -> list[bytes]:
    """Files of the date folder (walked without following links) with no ledger row of their
    own, of a member or of a record, and no skip with a reason."""
    uris = sorted(r["source_uri"] for r in ledger)
    missing = []
    for dirpath, dirnames, filenames in os.walk(os.fsencode(day)):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), os.fsencode(day))
            uri = _uri(day, rel)
            if skipped.get(uri):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if name in dirnames:
                continue
            if not any(u == uri or u.startswith((uri + "!/", uri + "#")) for u in uris):
                missing.append(rel)
    return missing


def _assert_run(src: Path, out: Path, inputs: int) -> dict:
    started = time.perf_counter()
    cli = [sys.executable, "-m", "pipeline.cli"]
    try:
        proc = subprocess.run(
            [*cli, "run", "--source", str(src), "--output", str(out), "--workers", "2"],
            capture_output=True,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run hung (more than {RUN_TIMEOUT} s) over {src}")
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]
    (report_path,) = (out / "_runs").glob("*.json")
    report = json.loads(report_path.read_text())
    assert report["status"] == "succeeded"
    seen = report["documents_seen"]
    assert seen == report["articles_written"] + report["quarantined"] + report["duplicates"], report
    everything = pq.read_table(report["ledger"]).to_pylist()
    ledger = [r for r in everything if r["outcome"] != "skipped"]
    assert len(ledger) == seen == len({r["source_uri"] for r in ledger})
    skipped = {s["source_uri"]: s["reason"] for s in report["files_skipped"]}
    assert sorted(r["source_uri"] for r in everything if r["outcome"] == "skipped") == sorted(skipped)
    assert all(r["reason"] for r in ledger if r["outcome"] == "quarantined")
    internal = [r for r in ledger if r["outcome"] == "quarantined" and "please report it" in r["reason"]]
    assert "internal" not in report["quarantine_by_stage"] and internal == [], internal[:5]
    for date, _ in CONTROLS:
        assert _unaccounted(src / date, ledger, skipped) == [], date
        assert report["batches"][date]["published"], report["batches"][date]
    check = subprocess.run(
        [*cli, "check", "--output", str(out), "--start", DATES[0], "--end", DATES[-1]], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert leftovers(out) == []
    counts = {k: report[k] for k in ("documents_seen", "articles_written", "quarantined", "duplicates")}
    print(f"\nfuzz: {inputs} inputs, {len(skipped)} skipped, {counts}, {seconds:.1f} s")
    return report


@pytest.fixture(scope="module")
def seeds(samples) -> list[bytes]:
    return _seeds(samples)


@pytest.mark.parametrize("run", range(RUNS))
def test_mutated_inputs_under_hostile_names_are_all_accounted_for(run, seeds, samples, tmp_path):
    src = tmp_path / "landing"
    inputs = _build(src, run, samples, seeds)
    _assert_run(src, tmp_path / "out", inputs)
