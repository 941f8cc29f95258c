"""Evaluate: fidelity of what ``run`` publishes on every labelled corpus, side by side with the
references run on the same bytes in the same run.

In:  the corpora folder (``../shared/corpora``: html-trafilatura, html-newspaper, html-zh,
     en-reuters, fr-press, en-bbc; each is skipped when absent).
Out: ``Metric`` rows (corpus, metric, news-etl's value, the reference tool's value on the same
     files in the same run, how many items) that ``news-etl evaluate`` prints as a table and
     ``tests/test_fidelity.py`` holds to pinned floors.

How: each corpus becomes one dated landing folder in a temporary directory (its files
hard-linked, else copied: the landing zone refuses symbolic links), ``run.run`` processes it as a
user's run would (decode, parse, steps, row validation, de-duplication, publish), and the
published Parquet is scored. A page the run quarantined or dropped as a duplicate scores as
missing. The references read the original bytes with their own decoding: trafilatura (text,
title, author: its own extraction of the page) and htmldate (``find_date``).

Scoring: snippets are matched with white space normalised on both sides; dates at the precision
the truth gives, on the publisher's local calendar day (``published_at`` +
``utc_offset_minutes``); Chinese text by character-bigram F1 (no spaces between words). Two
counts that must come down to zero are reported for every corpus: articles holding characters
of a script that their source does not contain (under any plausible decode), and articles whose
``published_at`` the document does not state (the landing date, or a year absent from the file).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .config import RunConfig, default_workers
from .decode import scripts_of

MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[«»°©®\u00a0]")
LANDING = "2030-01-01"  # a landing date none of the corpora's documents carries


@dataclass(frozen=True)
class Metric:
    corpus: str
    metric: str
    ours: float
    reference: float | None
    reference_name: str | None
    n: int

    def row(self) -> str:
        ref = f"{self.reference:8.2%}  {self.reference_name}" if self.reference is not None else "       —"
        return f"{self.corpus:<17} {self.metric:<68} {self.ours:8.2%}  {ref:<24} n={self.n}"


# --- scoring helpers --------------------------------------------------------------------------


def _ws(s: str | None) -> str:
    """White space normalised: every run of white space (incl. no-break spaces) one space."""
    return " ".join(html.unescape(s or "").split())


def _norm(s: str | None) -> str:
    return _ws(s).casefold()


def _damaged(text: str) -> bool:
    return "\ufffd" in text or bool(MOJIBAKE.search(text))


def _tokens(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.lower()))


def _bigrams(text: str) -> Counter:
    chars = [c for c in text if not c.isspace()]
    return Counter(a + b for a, b in zip(chars, chars[1:]))


def _f1(g: Counter, w: Counter) -> float:
    common = sum((g & w).values())
    if not common:
        return 0.0
    p, r = common / sum(g.values()), common / sum(w.values())
    return 2 * p * r / (p + r)


def _local_day(row: dict) -> dt.date | None:
    if row.get("published_at") is None:
        return None
    return (row["published_at"] + dt.timedelta(minutes=row.get("utc_offset_minutes") or 0)).date()


_PERSON_SPLIT = re.compile(r"\s*(?:[,;/|]|\s&\s|\s(?:and|und|et)\s)\s*")


def _people(value) -> set[str]:
    values = value if isinstance(value, (list, tuple)) else [value or ""]
    return {_norm(p).strip(".") for v in values for p in _PERSON_SPLIT.split(v or "") if _norm(p)}


# --- characters and dates the source does not hold -------------------------------------------

_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "shift-jis": "shift_jis", "sjis": "shift_jis"}


def _plain_decodes(raw: bytes) -> list[str]:
    """The source under every plausible decode: UTF-8, cp1252, Latin-1, UTF-16 with a BOM, and
    any charset the file declares (GB2312/GBK as their superset GB18030)."""
    codecs = ["utf-8", "cp1252", "latin-1"] + (["utf-16"] if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else [])
    for m in re.finditer(rb"charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", raw[:8192]):
        name = m.group(1).decode("ascii").lower()
        codecs += [name, _ALIASES.get(name, name)]
    out = [html.unescape(raw.decode("utf-8", "replace"))]
    for c in dict.fromkeys(codecs):
        try:
            out.append(html.unescape(raw.decode(c)))
        except (UnicodeDecodeError, LookupError):
            pass
    return out


# The row's ``encoding`` as a Python codec, where the name is ours.
_OUR_CODECS = {
    "utf-8-bom": "utf-8-sig",
    "utf-16le-bom": "utf-16",
    "utf-16be-bom": "utf-16",
    "utf-32le-bom": "utf-32",
    "utf-32be-bom": "utf-32",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
}


def invented_scripts(text: str, raw: bytes, encoding: str | None = None) -> set[str]:
    """Scripts in ``text`` that no plain decode of ``raw`` holds, nor its reading in the codec the
    published row names (``encoding``: anyone can check it by decoding the bytes so; a page that
    declares no charset has no other plain reading in its code page). A script-level check,
    independent of the decode stage's own."""
    found = scripts_of(text)
    if not found:
        return found
    readings = _plain_decodes(raw)
    if encoding:
        try:
            readings.append(html.unescape(raw.decode(_OUR_CODECS.get(encoding, encoding), "replace")))
        except LookupError:
            pass
    for decoded in readings:
        found -= scripts_of(decoded)
        if not found:
            break
    return found


def date_not_stated(row: dict, raw: bytes) -> bool:
    """The row's publication date is not one the document states: the landing date, or a date
    whose year the file does not hold (an image file name read as a date keeps its year, so this
    catches only the grossest)."""
    if row.get("published_at") is None:
        return False
    if row.get("date_source") == "landing":
        return True
    day = _local_day(row)
    return str(day.year).encode() not in raw and str(row["published_at"].year).encode() not in raw


# --- one run per corpus ------------------------------------------------------------------------


def _land(files: list[Path], root: Path, landing: Path) -> None:
    """Each file at its path under ``root``, inside ``landing``: hard-linked, else copied."""
    for f in files:
        dst = landing / f.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, dst)
        except OSError:
            shutil.copyfile(f, dst)


def run_corpus(root: Path, files: list[Path], tmp: Path, workers: int) -> dict[str, dict]:
    """Run the pipeline over ``files`` (landed as one dated folder); the published articles by
    their path relative to ``root`` (``#position`` kept for containers)."""
    import pyarrow.dataset as ds

    from .run import run

    source, output = tmp / root.name / "landing", tmp / root.name / "out"
    _land(files, root, source / LANDING)
    config = RunConfig(
        source=str(source), output=str(output), date=LANDING, workers=workers, dedup_against_published=False
    )
    report = run(config)
    if report.status == "empty":
        return {}
    if report.status != "succeeded":
        raise RuntimeError(f"evaluate: the run over {root.name} ended {report.status}: {report.error}")
    articles = output / "articles"
    if not articles.exists():
        return {}
    table = ds.dataset(str(articles), format="parquet", partitioning="hive").to_table()
    return {r["source_path"].split("/", 1)[1]: r for r in table.to_pylist()}


def _references(args) -> dict:
    """trafilatura's extraction and htmldate's date of one page, on its original bytes."""
    import logging

    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # their complaints about odd pages: quiet
    import htmldate
    import trafilatura

    path, url = args
    raw = Path(path).read_bytes()
    doc = trafilatura.bare_extraction(raw, url=url, with_metadata=True)
    try:
        date = htmldate.find_date(raw, url=url, original_date=True)
    except Exception:  # htmldate raises on odd trees: no date
        date = None
    return {
        "text": (doc.text if doc else "") or "",
        "title": doc.title if doc else None,
        "author": doc.author if doc else None,
        "date": date,
    }


def _invented_and_undated(corpus: str, root: Path, rows: dict[str, dict]) -> list[Metric]:
    invented = undated = 0
    raws: dict[str, bytes] = {}
    for rel, row in rows.items():
        path = rel.split("#")[0]
        raw = raws.get(path)
        if raw is None:
            raw = raws.setdefault(path, (root / path).read_bytes())
        invented += bool(invented_scripts((row["text"] or "") + (row["title"] or ""), raw, row.get("encoding")))
        undated += date_not_stated(row, raw)
    n = max(1, len(rows))
    return [
        Metric(
            corpus,
            "articles with a script absent from the source (lower is better)",
            invented / n,
            None,
            None,
            len(rows),
        ),
        Metric(
            corpus,
            "articles with a date the document does not state (lower is better)",
            undated / n,
            None,
            None,
            len(rows),
        ),
    ]


# --- the corpora ---------------------------------------------------------------------------------


def html_trafilatura(root: Path, tmp: Path, pool, workers: int) -> list[Metric]:
    truth = json.loads((root / "meta" / "ground_truth_subset.json").read_text(encoding="utf-8"))
    pages = [(root / "files" / t["file"], url, t) for url, t in truth.items() if (root / "files" / t["file"]).exists()]
    refs = pool.map(_references, [(str(p), url) for p, url, _ in pages])
    rows = run_corpus(root, [p for p, _, _ in pages], tmp, workers)
    snip = ref_snip = damaged = ref_damaged = title = ref_title = titled = date = ref_date = dated = 0
    author = ref_author = authored = 0
    for (path, _url, t), ref in zip(pages, refs):
        a = rows.get(str(path.relative_to(root)))
        ours, theirs = _ws(a["text"] if a else ""), _ws(ref["text"])

        def ok(s: str, t: dict = t) -> bool:
            return all(_ws(w) in s for w in t["with"]) and not any(_ws(w) in s for w in t["without"])

        snip += ok(ours)
        ref_snip += ok(theirs)
        damaged += _damaged(ours)
        ref_damaged += _damaged(theirs)
        if t.get("title"):
            titled += 1
            title += _norm(a["title"] if a else None) == _norm(t["title"])
            ref_title += _norm(ref["title"]) == _norm(t["title"])
        if t.get("date") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", t["date"]):
            dated += 1
            date += bool(a) and str(_local_day(a)) == t["date"]
            ref_date += ref["date"] == t["date"]
        if t.get("author"):
            authored += 1
            want = _people(t["author"])
            author += bool(a) and _people(a["authors"]) == want
            ref_author += _people(ref["author"]) == want
    n, c = len(pages), "html-trafilatura"
    return [
        Metric(c, "pages written", len(rows) / n, None, None, n),
        Metric(c, "pages with every expected snippet, no unwanted", snip / n, ref_snip / n, "trafilatura", n),
        Metric(c, "date exact (day)", date / dated, ref_date / dated, "htmldate", dated),
        Metric(c, "title exact", title / titled, ref_title / titled, "trafilatura", titled),
        Metric(
            c,
            "authors exact (pages whose truth names them)",
            author / authored,
            ref_author / authored,
            "trafilatura",
            authored,
        ),
        Metric(c, "pages with decode damage left (lower is better)", damaged / n, ref_damaged / n, "trafilatura", n),
    ] + _invented_and_undated(c, root, rows)


def html_newspaper(root: Path, tmp: Path, pool, workers: int) -> list[Metric]:
    pages = [
        (p, root / "files" / "text" / (p.stem + ".txt"))
        for p in sorted((root / "files" / "html").glob("*.html"))
        if (root / "files" / "text" / (p.stem + ".txt")).exists()
    ]
    refs = pool.map(_references, [(str(p), None) for p, _ in pages])
    rows = run_corpus(root, [p for p, _ in pages], tmp, workers)
    f1 = ref_f1 = damaged = 0.0
    for (path, text_path), ref in zip(pages, refs):
        a = rows.get(str(path.relative_to(root)))
        want = _tokens(text_path.read_text(encoding="utf-8", errors="replace"))
        f1 += _f1(_tokens(a["text"] if a else ""), want)
        ref_f1 += _f1(_tokens(ref["text"]), want)
        damaged += bool(a) and _damaged(a["text"])
    n, c = len(pages), "html-newspaper"
    return [
        Metric(c, "pages written", len(rows) / n, None, None, n),
        Metric(c, "text similarity to expected (token F1, mean)", f1 / n, ref_f1 / n, "trafilatura", n),
        Metric(c, "pages with decode damage left", damaged / n, None, None, n),
    ] + _invented_and_undated(c, root, rows)


def _zh_truth(root: Path, field: str) -> dict[str, str]:
    data = json.loads((root / "meta" / f"{field}_ground.json").read_text(encoding="utf-8"))
    return {k: (v.get("articleBody") if isinstance(v, dict) else v) or "" for k, v in data.items()}


def _zh_day(value: str) -> str | None:
    m = re.match(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})", value or "")
    return f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}" if m else None


def html_zh(root: Path, tmp: Path, pool, workers: int) -> list[Metric]:
    text_truth, date_truth, author_truth = (
        _zh_truth(root, "cleaned"),
        _zh_truth(root, "date"),
        _zh_truth(root, "author"),
    )
    pages = sorted((root / "files").glob("*.html"))
    refs = pool.map(_references, [(str(p), None) for p in pages])
    rows = run_corpus(root, pages, tmp, workers)
    f1 = ref_f1 = texts = date = ref_date = dated = author = ref_author = authored = fffd = 0
    for path, ref in zip(pages, refs):
        a = rows.get(str(path.relative_to(root)))
        uuid = path.stem
        if text_truth.get(uuid):
            texts += 1
            want = _bigrams(text_truth[uuid])
            f1 += _f1(_bigrams(a["text"] if a else ""), want)
            ref_f1 += _f1(_bigrams(ref["text"]), want)
        day = _zh_day(date_truth.get(uuid, ""))
        if day:
            dated += 1
            date += bool(a) and str(_local_day(a)) == day
            ref_date += ref["date"] == day
        who = author_truth.get(uuid, "").strip()
        if who and who.upper() != "UNKNOWN":
            authored += 1
            want = _people(who)
            author += bool(a) and bool(want) and want <= _people(a["authors"])
            ref_author += bool(want) and want <= _people(ref["author"])
        fffd += bool(a) and "\ufffd" in (a["text"] + (a["title"] or ""))
    n, c = len(pages), "html-zh"
    return [
        Metric(c, "pages written", len(rows) / n, None, None, n),
        Metric(
            c,
            "text similarity to the truth (character-bigram F1, mean)",
            f1 / max(1, texts),
            ref_f1 / max(1, texts),
            "trafilatura",
            texts,
        ),
        Metric(c, "date exact (day)", date / max(1, dated), ref_date / max(1, dated), "htmldate", dated),
        Metric(
            c,
            "author named (pages whose truth names one)",
            author / max(1, authored),
            ref_author / max(1, authored),
            "trafilatura",
            authored,
        ),
        Metric(c, "pages with U+FFFD (lower is better)", fffd / n, None, None, n),
    ] + _invented_and_undated(c, root, rows)


_RDATE = re.compile(r"(\d{1,2})-([A-Z]{3})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})")
_MON = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}


def reuters(root: Path, tmp: Path, pool, workers: int) -> list[Metric]:
    files = sorted((root / "files").glob("*.sgm"))
    rows = run_corpus(root, files, tmp, workers)
    total = articles = date_ok = title_ok = titled = controls = 0
    for path in files:
        docs = re.findall(r"<REUTERS\b.*?</REUTERS>", path.read_bytes().decode("utf-8", "replace"), re.S)
        total += len(docs)
        for i, raw in enumerate(docs, start=1):
            a = rows.get(f"{path.relative_to(root)}#{i}")
            if a is None:
                continue
            articles += 1
            m = _RDATE.search(re.search(r"<DATE>(.*?)</DATE>", raw, re.S).group(1))
            want = dt.datetime(int(m[3]), _MON[m[2]], int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=dt.UTC)
            date_ok += a["published_at"] == want and a["date_precision"] == "second"
            t = re.search(r"<TITLE>(.*?)</TITLE>", raw, re.S)
            if t:
                titled += 1
                title_ok += _norm(a["title"]) == _norm(t.group(1))
            controls += any(ord(ch) < 32 and ch != "\n" for ch in a["text"])
    c = "en-reuters"
    return [
        Metric(c, "<REUTERS> documents published", articles / max(1, total), None, None, total),
        Metric(c, "date exact to the second (of articles)", date_ok / max(1, articles), None, None, articles),
        Metric(c, "title exact (of articles with <TITLE>)", title_ok / max(1, titled), None, None, titled),
        Metric(
            c, "articles with control characters (lower is better)", controls / max(1, articles), None, None, articles
        ),
    ] + _invented_and_undated(c, root, rows)


def _fr_truth(head: str) -> dt.date | None:
    for pattern, order in (
        (r'date="(\d{1,2})-(\d{1,2})-(\d{4})"', (3, 2, 1)),
        (r'date="(\d{4})-(\d{2})-(\d{2})"', (1, 2, 3)),
        (r"url=\S*?/(\d{4})/(\d{2})/(\d{2})/", (1, 2, 3)),
    ):
        m = re.search(pattern, head)
        if m:
            return dt.date(int(m[order[0]]), int(m[order[1]]), int(m[order[2]]))
    return None


def fr_press(root: Path, tmp: Path, pool, workers: int) -> list[Metric]:
    files = sorted((root / "files").rglob("*.txt"))
    rows = run_corpus(root, files, tmp, workers)
    dated = date_ok = leaks = fr = 0
    for path in files:
        a = rows.get(str(path.relative_to(root)))
        truth = _fr_truth(path.read_bytes()[:600].decode("utf-8", "replace"))
        if truth:
            dated += 1
            date_ok += a is not None and a["published_at"] is not None and a["published_at"].date() == truth
        if a is not None:
            leaks += bool(re.search(r"<(ARTICLE|doc)\b|\burl=|date=\"", a["text"]))
            fr += a["language"] == "fr"
    n, c = max(1, len(rows)), "fr-press"
    return [
        Metric(c, "articles published", len(rows) / max(1, len(files)), None, None, len(files)),
        Metric(c, "date right (files with a header or URL date)", date_ok / max(1, dated), None, None, dated),
        Metric(c, "header attributes in text (lower is better)", leaks / n, None, None, len(rows)),
        Metric(c, "language fr (of articles)", fr / n, None, None, len(rows)),
    ] + _invented_and_undated(c, root, rows)


def en_bbc(root: Path, tmp: Path, pool, workers: int) -> list[Metric]:
    files = [p for p in sorted((root / "files").rglob("*.txt")) if p.parent != root / "files"]
    rows = run_corpus(root, files, tmp, workers)
    titles = en = 0
    for path in files:
        a = rows.get(str(path.relative_to(root)))
        want = _ws(path.read_bytes().decode("utf-8", "replace").split("\n", 1)[0])
        titles += a is not None and a["title"] == want
        en += a is not None and a["language"] == "en"
    c = "en-bbc"
    return [
        Metric(
            c,
            "title line recovered (of files, duplicates count as missing)",
            titles / len(files),
            None,
            None,
            len(files),
        ),
        Metric(c, "language en (of articles)", en / max(1, len(rows)), None, None, len(rows)),
    ] + _invented_and_undated(c, root, rows)


CORPORA = {
    "html-trafilatura": html_trafilatura,
    "html-newspaper": html_newspaper,
    "html-zh": html_zh,
    "en-reuters": reuters,
    "fr-press": fr_press,
    "en-bbc": en_bbc,
}


def evaluate(corpora: Path, workers: int = 0, only: tuple[str, ...] = ()) -> list[Metric]:
    """Every labelled corpus present under ``corpora`` (or those named in ``only``), each through
    one run of the pipeline, scored against its truth and the references."""
    corpora = Path(corpora)
    workers = workers or default_workers()
    metrics: list[Metric] = []
    with (
        tempfile.TemporaryDirectory(prefix="news-etl-evaluate-") as tmp,
        ProcessPoolExecutor(max_workers=workers) as pool,
    ):
        for name, score in CORPORA.items():
            if (corpora / name).is_dir() and (not only or name in only):
                metrics += score(corpora / name, Path(tmp), pool, workers)
    return metrics


def table(metrics: list[Metric]) -> str:
    head = f"{'corpus':<17} {'metric':<68} {'news-etl':>8}  {'reference':<24} items"
    return "\n".join([head, "-" * len(head)] + [m.row() for m in metrics])
