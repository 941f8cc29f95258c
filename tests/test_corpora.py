"""Acceptance on real corpora (fr-press, en-bbc), read from ../shared/corpora when present.

Prints what fails. Floors are pinned: lowering one is a visible change in this file.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil

import pyarrow.parquet as pq
import pytest
from conftest import corpus

from pipeline.config import RunConfig
from pipeline.run import run

MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[«»°©®\u00a0]")
FLOOR = 0.99


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def corpora_run(tmp_path_factory):
    fr, bbc = corpus("fr-press") / "files", corpus("en-bbc") / "files"
    tmp = tmp_path_factory.mktemp("corpora")
    src = tmp / "landing"
    src.mkdir()
    # The landing layout, hard-linked where on the same device (links are refused by fetch).
    shutil.copytree(fr, src / "2019-03-01", copy_function=_link_or_copy)
    shutil.copytree(bbc, src / "2005-06-01", copy_function=_link_or_copy)
    report = run(RunConfig(source=str(src), output=str(tmp / "out")))
    articles = pq.read_table(
        tmp / "out" / "articles",
        partitioning="hive",
        columns=[
            "source_path",
            "title",
            "text",
            "language",
            "published_at",
            "date_precision",
            "date_source",
            "year",
            "month",
        ],
    ).to_pylist()
    quarantine = pq.read_table(
        tmp / "out" / "quarantine", partitioning="hive", columns=["source_path", "reason"]
    ).to_pylist()
    ledger = pq.read_table(report.ledger).to_pylist()
    return report, {a["source_path"]: a for a in articles}, {q["source_path"]: q for q in quarantine}, ledger, fr, bbc


def _rate(ok: int, total: int, what: str, failures: list[str]) -> float:
    rate = ok / total if total else 1.0
    print(f"\n{what}: {ok}/{total} = {rate:.2%}")
    for f in failures[:15]:
        print("   fails:", f)
    if len(failures) > 15:
        print(f"   ... and {len(failures) - 15} more")
    return rate


def test_report_equation_and_no_damage(corpora_run):
    report, articles, quarantine, ledger, fr, bbc = corpora_run
    assert report.balanced() and len([r for r in ledger if r["outcome"] != "skipped"]) == report.documents_seen
    assert report.documents_seen == sum(1 for p in fr.rglob("*") if p.is_file()) + sum(
        1 for p in bbc.rglob("*") if p.is_file()
    )
    damaged = [p for p, a in articles.items() if "\ufffd" in a["text"] or MOJIBAKE.search(a["text"])]
    assert damaged == []
    print(
        f"\ndocuments {report.documents_seen}, articles {report.articles_written}, quarantined {report.quarantined}, "
        f"duplicates {report.duplicates}, {report.seconds:.1f}s; quarantine reasons {report.quarantine_reasons}"
    )


def _truth_fr(path) -> dt.date | None:
    head = path.read_bytes()[:600].decode("utf-8", "replace")
    m = re.search(r'date="(\d{1,2})-(\d{1,2})-(\d{4})"', head)
    if m:
        return dt.date(int(m[3]), int(m[2]), int(m[1]))
    m = re.search(r'date="(\d{4})-(\d{2})-(\d{2})"', head)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    m = re.search(r"url=\S*?/(\d{4})/(\d{2})/(\d{2})/", head)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    return None


def test_fr_press_header_and_url_dates(corpora_run):
    report, articles, quarantine, ledger, fr, bbc = corpora_run
    dup = {r["source_uri"].split("2019-03-01/")[-1] for r in ledger if r["outcome"] == "duplicate"}
    ok, total, failures = 0, 0, []
    for path in sorted(fr.rglob("*.txt")):
        truth = _truth_fr(path)
        if truth is None:
            continue
        rel = path.relative_to(fr).as_posix()
        if rel in dup:
            continue
        total += 1
        got = articles.get(f"2019-03-01/{rel}")
        if got and got["published_at"] and got["published_at"].date() == truth and got["date_precision"] == "day":
            ok += 1
        else:
            failures.append(
                f"{rel}: want {truth}, got {got['published_at'] if got else quarantine.get('2019-03-01/' + rel, {}).get('reason')}"
            )
    assert _rate(ok, total, "fr-press header/URL dates", failures) >= FLOOR


def test_fr_press_header_attributes_never_in_text(corpora_run):
    _, articles, *_ = corpora_run
    leaks = [
        p
        for p, a in articles.items()
        if p.startswith("2019-03-01/") and re.search(r"<(ARTICLE|doc)\b|\burl=|date=\"", a["text"])
    ]
    assert leaks == []


def test_bbc_files_state_no_date_and_get_none_filed_under_their_landing_month(corpora_run):
    """The BBC files are a title and paragraphs, no date: none is invented (the landing date was
    once taken for one), and they are filed under year=2005/month=06, their landing month."""
    report, articles, quarantine, ledger, fr, bbc = corpora_run
    rows = [a for p, a in articles.items() if p.startswith("2005-06-01/")]
    assert rows
    assert {(a["published_at"], a["date_precision"], a["date_source"]) for a in rows} == {(None, None, "none")}
    assert {(int(a["year"]), int(a["month"])) for a in rows} == {(2005, 6)}


def test_bbc_title_lines(corpora_run):
    report, articles, quarantine, ledger, fr, bbc = corpora_run
    dup = {r["source_uri"].split("2005-06-01/")[-1] for r in ledger if r["outcome"] == "duplicate"}
    ok, total, failures = 0, 0, []
    for path in sorted(bbc.rglob("*.txt")):
        rel = path.relative_to(bbc).as_posix()
        if rel == "README.TXT" or rel in dup or "/" not in rel:
            continue
        total += 1
        line = path.read_bytes().decode("utf-8", "replace").split("\n", 1)[0]
        want = " ".join(html.unescape(line).split())  # the truth, with entities and spacing normalized
        got = articles.get(f"2005-06-01/{rel}")
        if got and got["title"] == want and not got["text"].startswith(want):
            ok += 1
        else:
            failures.append(f"{rel}: want {want!r}, got {got['title'] if got else 'quarantined'!r}")
    assert _rate(ok, total, "BBC title lines", failures) >= FLOOR


def test_language(corpora_run):
    _, articles, *_ = corpora_run
    fr = [a for p, a in articles.items() if p.startswith("2019-03-01/")]
    en = [a for p, a in articles.items() if p.startswith("2005-06-01/") and "README" not in p]
    fr_ok = sum(a["language"] == "fr" for a in fr)
    en_ok = sum(a["language"] == "en" for a in en)
    assert (
        _rate(
            fr_ok,
            len(fr),
            "fr-press language fr",
            [a["source_path"] + " " + a["language"] for a in fr if a["language"] != "fr"],
        )
        >= FLOOR
    )
    assert (
        _rate(
            en_ok,
            len(en),
            "en-bbc language en",
            [a["source_path"] + " " + a["language"] for a in en if a["language"] != "en"],
        )
        >= FLOOR
    )
