"""Evaluate: fidelity of the pipeline on every labelled corpus, side by side with the references.

In:  the corpora folder (``../shared/corpora``: html-trafilatura, html-newspaper, en-reuters,
     fr-press, en-bbc; each is skipped when absent).
Out: ``Metric`` rows (corpus, metric, news-etl's value, the reference tool's value on the same
     files in the same run, how many items) that ``news-etl evaluate`` prints as a table and
     ``tests/test_fidelity.py`` holds to pinned floors.

Everything goes through ``document.process_document``, the function a run applies to each input, so
what is measured is what the stages make of each document; row-level validation and
de-duplication come after it and are measured by the run tests (``tests/test_corpora.py``).
Dates are compared at the precision the truth gives, on the publisher's local calendar day
(``published_at`` + ``utc_offset_minutes``). The references are trafilatura (text, title) and
htmldate (dates), run directly on the same bytes, with their own decoding.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .config import RunConfig, default_workers
from .fetch import RawDocument
from .records import Article

MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[«»°©®\u00a0]")
_CONFIG = RunConfig(source="-", output="-")


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
        return f"{self.corpus:<17} {self.metric:<52} {self.ours:8.2%}  {ref:<24} n={self.n}"


def _process(path: Path, rel: str, landing: dt.date | None = None) -> list:
    from .document import process_document

    data = path.read_bytes()
    raw = RawDocument(path.as_uri(), rel, landing, data, hashlib.sha256(data).hexdigest())
    return process_document(raw, _CONFIG)


def _local_day(a: Article) -> dt.date | None:
    if a.published_at is None:  # the page states no date
        return None
    return (a.published_at + dt.timedelta(minutes=a.utc_offset_minutes or 0)).date()


def _norm(s: str | None) -> str:
    return " ".join(html.unescape(s or "").split()).casefold()


def _damaged(text: str) -> bool:
    return "\ufffd" in text or bool(MOJIBAKE.search(text))


def _tokens(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.lower()))


def _f1(got: str, want: str) -> float:
    g, w = _tokens(got), _tokens(want)
    common = sum((g & w).values())
    if not common:
        return 0.0
    p, r = common / sum(g.values()), common / sum(w.values())
    return 2 * p * r / (p + r)


# ---------------------------------------------------------------------------------------------


def _trafilatura_page(args) -> dict:
    path, url, truth = args
    import htmldate
    import trafilatura

    for name in ("trafilatura", "htmldate"):
        import logging

        logging.getLogger(name).setLevel(logging.ERROR)
    raw = path.read_bytes()
    out = _process(path, path.name, dt.date(2030, 1, 1))
    a = out[0] if out and isinstance(out[0], Article) else None
    ours = a.text if a else ""
    ref = trafilatura.bare_extraction(raw, url=url, with_metadata=True)
    ref_text = (ref.text if ref else "") or ""
    ok = lambda t: all(w in t for w in truth["with"]) and not any(w in t for w in truth["without"])  # noqa: E731
    row = {"snippets": ok(ours), "ref_snippets": ok(ref_text), "damaged": _damaged(ours), "ref_damaged": _damaged(ref_text),
           "title": _norm(a.title if a else None) == _norm(truth.get("title")) if truth.get("title") else None,
           "ref_title": _norm(ref.title if ref else None) == _norm(truth.get("title")) if truth.get("title") else None}
    if truth.get("date") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", truth["date"]):
        row["date"] = bool(a) and _local_day(a) is not None and _local_day(a).isoformat() == truth["date"]
        try:
            row["ref_date"] = htmldate.find_date(raw, url=url, original_date=True) == truth["date"]
        except Exception:
            row["ref_date"] = False
    return row


def _newspaper_page(args) -> dict:
    html_path, text_path = args
    import trafilatura

    out = _process(html_path, html_path.name, dt.date(2030, 1, 1))
    a = out[0] if out and isinstance(out[0], Article) else None
    want = text_path.read_text(encoding="utf-8", errors="replace")
    ref = trafilatura.extract(html_path.read_bytes()) or ""
    return {"f1": _f1(a.text if a else "", want), "ref_f1": _f1(ref, want), "damaged": _damaged(a.text) if a else False}


def html_trafilatura(root: Path, pool) -> list[Metric]:
    truth = json.loads((root / "meta" / "ground_truth_subset.json").read_text(encoding="utf-8"))
    jobs = [(root / "files" / t["file"], url, t) for url, t in truth.items() if (root / "files" / t["file"]).exists()]
    rows = list(pool.map(_trafilatura_page, jobs))
    n = len(rows)
    dates = [r for r in rows if "date" in r]
    titles = [r for r in rows if r["title"] is not None]
    c = "html-trafilatura"
    return [
        Metric(c, "pages with every expected snippet, no unwanted", sum(r["snippets"] for r in rows) / n,
               sum(r["ref_snippets"] for r in rows) / n, "trafilatura", n),
        Metric(c, "date exact (day)", sum(r["date"] for r in dates) / len(dates), sum(r["ref_date"] for r in dates) / len(dates), "htmldate", len(dates)),
        Metric(c, "title exact", sum(r["title"] for r in titles) / len(titles), sum(r["ref_title"] for r in titles) / len(titles), "trafilatura", len(titles)),
        Metric(c, "pages with decode damage left (lower is better)", sum(r["damaged"] for r in rows) / n,
               sum(r["ref_damaged"] for r in rows) / n, "trafilatura", n),
    ]


def html_newspaper(root: Path, pool) -> list[Metric]:
    jobs = [(p, root / "files" / "text" / (p.stem + ".txt")) for p in sorted((root / "files" / "html").glob("*.html"))
            if (root / "files" / "text" / (p.stem + ".txt")).exists()]
    rows = list(pool.map(_newspaper_page, jobs))
    n = len(rows)
    return [
        Metric("html-newspaper", "text similarity to expected (token F1, mean)", sum(r["f1"] for r in rows) / n,
               sum(r["ref_f1"] for r in rows) / n, "trafilatura", n),
        Metric("html-newspaper", "pages with decode damage left", sum(r["damaged"] for r in rows) / n, None, None, n),
    ]


_RDATE = re.compile(r"(\d{1,2})-([A-Z]{3})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})")
_MON = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}


def reuters(root: Path) -> list[Metric]:
    total = accounted = articles = date_ok = title_ok = titled = controls = 0
    for path in sorted((root / "files").glob("*.sgm")):
        text = path.read_bytes().decode("utf-8", "replace")
        truth = re.findall(r"<REUTERS\b.*?</REUTERS>", text, re.S)
        total += len(truth)
        out = _process(path, path.name)
        accounted += len(out)
        for res, raw in zip(out, truth):
            if not isinstance(res, Article):
                continue
            articles += 1
            m = _RDATE.search(re.search(r"<DATE>(.*?)</DATE>", raw, re.S).group(1))
            want = dt.datetime(int(m[3]), _MON[m[2]], int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=dt.timezone.utc)
            date_ok += res.published_at == want and res.date_precision == "second"
            t = re.search(r"<TITLE>(.*?)</TITLE>", raw, re.S)
            if t:
                titled += 1
                title_ok += _norm(res.title) == _norm(t.group(1))
            controls += any(ord(ch) < 32 and ch != "\n" for ch in res.text)
    c = "en-reuters"
    return [
        Metric(c, "<REUTERS> documents accounted for", accounted / total if total else 1.0, None, None, total),
        Metric(c, "date exact to the second (of articles)", date_ok / max(1, articles), None, None, articles),
        Metric(c, "title exact (of articles with <TITLE>)", title_ok / max(1, titled), None, None, titled),
        Metric(c, "articles with control characters (lower is better)", controls / max(1, articles), None, None, articles),
    ]


def _fr_truth(head: str) -> dt.date | None:
    for pattern, order in ((r'date="(\d{1,2})-(\d{1,2})-(\d{4})"', (3, 2, 1)), (r'date="(\d{4})-(\d{2})-(\d{2})"', (1, 2, 3)),
                           (r"url=\S*?/(\d{4})/(\d{2})/(\d{2})/", (1, 2, 3))):
        m = re.search(pattern, head)
        if m:
            return dt.date(int(m[order[0]]), int(m[order[1]]), int(m[order[2]]))
    return None


def _fr_file(path: Path) -> tuple[bool | None, bool, bool]:
    head = path.read_bytes()[:600].decode("utf-8", "replace")
    truth = _fr_truth(head)
    out = _process(path, path.name, dt.date(2019, 3, 1))
    a = out[0] if isinstance(out[0], Article) else None
    date = (a is not None and a.published_at is not None and a.published_at.date() == truth) if truth else None
    leak = a is not None and bool(re.search(r"<(ARTICLE|doc)\b|\burl=|date=\"", a.text))
    return date, leak, (a.language == "fr") if a is not None else None


def fr_press(root: Path, pool) -> list[Metric]:
    files = sorted((root / "files").rglob("*.txt"))
    rows = list(pool.map(_fr_file, files, chunksize=64))
    dated = [r for r in rows if r[0] is not None]
    langs = [r[2] for r in rows if r[2] is not None]
    return [
        Metric("fr-press", "date right (files with a header or URL date)", sum(r[0] for r in dated) / len(dated), None, None, len(dated)),
        Metric("fr-press", "header attributes in text (lower is better)", sum(r[1] for r in rows) / len(rows), None, None, len(rows)),
        Metric("fr-press", "language fr (of articles)", sum(langs) / len(langs), None, None, len(langs)),
    ]


def _bbc_file(path: Path) -> tuple[bool, bool]:
    want = " ".join(html.unescape(path.read_bytes().decode("utf-8", "replace").split("\n", 1)[0]).split())
    out = _process(path, path.name, dt.date(2005, 6, 1))
    a = out[0] if isinstance(out[0], Article) else None
    return (a is not None and a.title == want), (a.language == "en") if a is not None else None


def en_bbc(root: Path, pool) -> list[Metric]:
    files = [p for p in sorted((root / "files").rglob("*.txt")) if p.parent != root / "files"]
    rows = list(pool.map(_bbc_file, files, chunksize=64))
    langs = [r[1] for r in rows if r[1] is not None]
    return [
        Metric("en-bbc", "title line recovered", sum(r[0] for r in rows) / len(rows), None, None, len(rows)),
        Metric("en-bbc", "language en (of articles)", sum(langs) / len(langs), None, None, len(langs)),
    ]


def evaluate(corpora: Path, workers: int = 0) -> list[Metric]:
    corpora = Path(corpora)
    metrics: list[Metric] = []
    with ProcessPoolExecutor(max_workers=workers or default_workers()) as pool:
        if (corpora / "html-trafilatura").is_dir():
            metrics += html_trafilatura(corpora / "html-trafilatura", pool)
        if (corpora / "html-newspaper").is_dir():
            metrics += html_newspaper(corpora / "html-newspaper", pool)
        if (corpora / "en-reuters").is_dir():
            metrics += reuters(corpora / "en-reuters")
        if (corpora / "fr-press").is_dir():
            metrics += fr_press(corpora / "fr-press", pool)
        if (corpora / "en-bbc").is_dir():
            metrics += en_bbc(corpora / "en-bbc", pool)
    return metrics


def table(metrics: list[Metric]) -> str:
    head = f"{'corpus':<17} {'metric':<52} {'news-etl':>8}  {'reference':<24} items"
    return "\n".join([head, "-" * len(head)] + [m.row() for m in metrics])
