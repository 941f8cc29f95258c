"""Report page: one HTML page that shows an output at a glance (``OUT/_report/index.html``).

In:  an output folder or object-store URL: its run reports (``OUT/_runs/*.json``), its manifests
     and its published Parquet (articles and quarantine, a few columns each).
Out: ``OUT/_report/index.html``, rewritten whole each time (``write_report_page``). Over all
     published dates, then per landing date: articles vs quarantined vs duplicates, quarantine
     reasons, languages, date sources and precisions, encodings, repairs and the word-count
     distribution; then every run with its status, counts, time and Data Docs.

The plots are inline SVG drawn here by hand: the page needs no network, no JavaScript and no
dependency, and opens from a file or a bucket as it is. Counts per date are those of the published
version of the date (its manifest; duplicates from the run report of the run that published it),
so a rerun replaces a date's figures instead of adding to them.

It does not touch the Data Docs (``OUT/_docs/``) and never fails a run: the CLI calls it after
``run()`` returns and logs a warning if it cannot be written.
"""

from __future__ import annotations

import collections
import datetime as dt
import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import __version__
from .phases.report import reason_group
from .storage import local_path, open_store, published_files, read_manifests

PAGE = "_report/index.html"

# Articles, quarantined, duplicates: the three outcomes of a document, always in these colours.
OUTCOME_COLOURS = {"articles": "#2f7ed8", "quarantined": "#d9534f", "duplicates": "#f0ad4e"}
BAR = "#5b8db8"
WORD_BINS = (0, 50, 100, 200, 500, 1000, 2000, 5000)


# ---------------------------------------------------------------------------------------------
# What the page shows, computed from the output


def _repair_key(repair: str) -> str:
    return repair.split(":")[0].split("(")[0].strip() or repair


def _counter(values: Iterable[Any]) -> dict[str, int]:
    c = collections.Counter("(none)" if v is None else str(v) for v in values)
    return dict(c.most_common())


def _value_counts(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """{value: count}, largest first, counted by Arrow (a column of millions stays fast)."""
    counts = pc.value_counts(column)
    pairs = [
        ("(none)" if v is None else str(v), n)
        for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
    ]
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 else str(n)


def _word_bins(counts: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    import numpy as np

    labels = [f"{_k(lo)}–{_k(hi) if hi >= 1000 else hi - 1}" for lo, hi in zip(WORD_BINS, WORD_BINS[1:])] + [
        f"{_k(WORD_BINS[-1])}+"
    ]
    values = pc.drop_null(counts).to_numpy(zero_copy_only=False) if len(counts) else np.array([], dtype=np.int64)
    index = np.searchsorted(np.array(WORD_BINS[1:]), values, side="right")
    return dict(zip(labels, np.bincount(index, minlength=len(labels)).tolist()))


def _read(files: list[str], columns: list[str], fs) -> pa.Table | None:
    """The given columns of every file (ParquetFile: no dataset discovery, no partition parsing)."""
    tables = []
    for f in files:
        fh = fs.open(f, "rb") if fs is not None else open(f, "rb")
        with fh:
            pf = pq.ParquetFile(fh)
            tables.append(pf.read(columns=[c for c in columns if c in pf.schema_arrow.names]))
    return pa.concat_tables(tables, promote_options="default") if tables else None


def _path_on(fs, url: str) -> str:
    return url.split("://", 1)[1] if fs is not None and "://" in url else url


def collect(output: str, storage_options: Mapping[str, Any] | None = None) -> dict:
    """Everything the page shows, as plain data (tested on its own)."""
    output = str(output)
    store = open_store(output, storage_options)
    fs = store.fs if store else None
    manifests = read_manifests(output, storage_options)
    runs = _run_reports(output, storage_options)
    by_id = {r.get("run_id"): r for r in runs}
    dates: dict[str, dict] = {}
    for date, manifest in sorted(manifests.items()):
        run = by_id.get(manifest.get("run_id"), {})
        batch = (run.get("batches") or {}).get(date, {})
        dates[date] = {
            "run_id": manifest.get("run_id"),
            "articles": int(manifest.get("articles") or 0),
            "quarantined": int(manifest.get("quarantined") or 0),
            "duplicates": int(batch.get("duplicates") or 0),
            "published_at": manifest.get("published_at"),
        }
    columns = ["landing_date", "language", "date_source", "date_precision", "encoding", "repairs", "word_count"]
    articles = _read([_path_on(fs, f) for f in published_files(output, "articles", storage_options)], columns, fs)
    quarantine = _read(
        [_path_on(fs, f) for f in published_files(output, "quarantine", storage_options)],
        ["landing_date", "stage", "reason", "expectation"],
        fs,
    )
    facets = ("languages", "date_sources", "date_precisions", "encodings", "repairs", "word_counts", "reasons")
    per_date: dict[str, dict[str, dict[str, int]]] = {d: {f: {} for f in facets} for d in dates}
    overall: dict[str, dict[str, int]] = {}
    if articles is not None and articles.num_rows:
        for day in pc.unique(articles.column("landing_date")).to_pylist():
            part = articles.filter(
                pc.equal(articles.column("landing_date"), pa.scalar(day, articles.schema.field("landing_date").type))
            )
            per_date.setdefault(day.isoformat(), {f: {} for f in facets}).update(_facets(part))
        overall.update(_facets(articles))
    if quarantine is not None and quarantine.num_rows:
        keys = [
            reason_group(s, r, e)
            for s, r, e in zip(
                quarantine.column("stage").to_pylist(),
                quarantine.column("reason").to_pylist(),
                quarantine.column("expectation").to_pylist(),
            )
        ]
        landing = [d.isoformat() if d else None for d in quarantine.column("landing_date").to_pylist()]
        for d in set(landing):
            per_date.setdefault(d, {f: {} for f in facets})["reasons"] = _counter(
                k for k, day in zip(keys, landing) if day == d
            )
        overall["reasons"] = _counter(keys)
    return {
        "output": output,
        "dates": dates,
        "per_date": per_date,
        "overall": overall,
        "runs": runs,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _facets(t: pa.Table) -> dict[str, dict[str, int]]:
    repairs = pc.list_flatten(t.column("repairs")).to_pylist() if "repairs" in t.column_names else []
    return {
        "languages": _value_counts(t.column("language")),
        "date_sources": _value_counts(t.column("date_source")),
        "date_precisions": _value_counts(t.column("date_precision")),
        "encodings": _value_counts(t.column("encoding")),
        "repairs": _counter(_repair_key(r) for r in repairs if r),  # only the repaired articles' entries
        "word_counts": _word_bins(t.column("word_count")),
    }


def _run_reports(output: str, storage_options) -> list[dict]:
    store = open_store(output, storage_options)
    reports = []
    if store is None:
        folder = local_path(output) / "_runs"
        texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    else:
        texts = [
            store.read_text(rel) or ""
            for rel in store.find("_runs")
            if rel.endswith(".json") and not rel.rsplit("/", 1)[-1].startswith(".")
        ]
    for text in texts:
        try:
            reports.append(json.loads(text))
        except ValueError:
            continue
    return sorted(reports, key=lambda r: (r.get("started_at") or "", r.get("run_id") or ""))


# ---------------------------------------------------------------------------------------------
# Drawing: inline SVG, by hand


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def hbars(title: str, counts: Mapping[str, int], colour: str = BAR, limit: int = 12, width: int = 460) -> str:
    """A horizontal bar chart of ``counts`` (largest first, the rest summed in one bar)."""
    items = list(counts.items())
    if len(items) > limit:
        rest = sum(v for _, v in items[limit - 1 :])
        items = items[: limit - 1] + [(f"{len(counts) - limit + 1} others", rest)]
    if not items:
        return f'<figure class="chart"><figcaption>{_e(title)}</figcaption><p class="none">none</p></figure>'
    label_w, row_h, value_w = 250, 20, 56
    bar_w = width - label_w - value_w
    top = max(v for _, v in items) or 1
    total = sum(counts.values()) or 1
    rows = []
    for i, (label, value) in enumerate(items):
        y = i * row_h
        w = max(1.0, bar_w * value / top) if value else 0
        short = label if len(label) <= 40 else label[:39] + "…"
        rows.append(
            f"<g><title>{_e(label)}: {value:,} ({value / total:.1%})</title>"
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{value:,}</text></g>'
        )
    height = len(items) * row_h + 4
    return (
        f'<figure class="chart"><figcaption>{_e(title)}</figcaption>'
        f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">{"".join(rows)}</svg></figure>'
    )


def columns(title: str, counts: Mapping[str, int], colour: str = BAR, width: int = 460) -> str:
    """A vertical bar chart in the given order (a distribution: the word-count bins)."""
    items = list(counts.items())
    if not items or not any(v for _, v in items):
        return f'<figure class="chart"><figcaption>{_e(title)}</figcaption><p class="none">none</p></figure>'
    height, bottom, top_pad = 150, 34, 16
    slot = width / len(items)
    top = max(v for _, v in items) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        h = (height - bottom - top_pad) * value / top
        x = i * slot + 4
        y = height - bottom - h
        parts.append(
            f"<g><title>{_e(label)} words: {value:,}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot - 8:.1f}" height="{h:.1f}" fill="{colour}"/>'
            f'<text x="{x + (slot - 8) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{value:,}</text>'
            f'<text x="{x + (slot - 8) / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle">{_e(label)}</text></g>'
        )
    parts.append(f'<line x1="0" x2="{width}" y1="{height - bottom}" y2="{height - bottom}" stroke="#999"/>')
    return (
        f'<figure class="chart"><figcaption>{_e(title)}</figcaption>'
        f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">{"".join(parts)}</svg></figure>'
    )


def outcomes(dates: Mapping[str, Mapping[str, int]], width: int = 940) -> str:
    """Stacked bars, one per landing date: articles, quarantined, duplicates (with a legend)."""
    if not dates:
        return '<p class="none">no published date</p>'
    height, bottom, left, top_pad = 230, 46, 48, 12
    keys = list(OUTCOME_COLOURS)
    totals = {d: sum(int(v.get(k, 0)) for k in keys) for d, v in dates.items()}
    top = max(totals.values()) or 1
    slot = (width - left) / len(dates)
    bar = min(60.0, slot * 0.7)
    plot_h = height - bottom - top_pad
    parts = []
    for tick in _ticks(top):
        y = height - bottom - plot_h * tick / top
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>'
        )
    step = max(1, int(len(dates) / ((width - left) / 80)))  # at most one date label per 80 px
    for i, (date, counts) in enumerate(dates.items()):
        x = left + i * slot + (slot - bar) / 2
        y = height - bottom
        tip = ", ".join(f"{k} {int(counts.get(k, 0)):,}" for k in keys)
        parts.append(f"<g><title>{_e(date)}: {tip}</title>")
        for k in keys:
            h = plot_h * int(counts.get(k, 0)) / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{OUTCOME_COLOURS[k]}"/>'
            )
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{totals[date]:,}</text></g>')
        if i % step == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">{_e(date)}</text>'
            )
    parts.append(f'<line x1="{left}" x2="{width}" y1="{height - bottom}" y2="{height - bottom}" stroke="#999"/>')
    legend = "".join(
        f'<rect x="{left + 130 * i}" y="{height - 16}" width="12" height="12" fill="{c}"/>'
        f'<text x="{left + 130 * i + 16}" y="{height - 6}">{k}</text>'
        for i, (k, c) in enumerate(OUTCOME_COLOURS.items())
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="articles, quarantined and duplicates '
        f'per landing date">{"".join(parts)}{legend}</svg>'
    )


def _ticks(top: int) -> list[int]:
    """About four round gridline values up to ``top``."""
    raw = top / 4
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, top + 1, max(1, step)))


# ---------------------------------------------------------------------------------------------
# The page


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#222;
padding:0 12px}
h1{font-size:1.5em;margin-bottom:4px} h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666} .none{color:#999;font-style:italic;margin:4px 0}
.totals{display:flex;gap:28px;margin:16px 0} .totals div{font-size:.9em;color:#555}
.totals b{display:block;font-size:1.6em;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:8px 36px}
figure.chart{margin:8px 0} figcaption{font-weight:600;margin-bottom:4px}
svg{font-size:11px;fill:#333;overflow:visible} svg text{fill:#333}
details{margin:8px 0;border:1px solid #e3e3e3;border-radius:4px;padding:6px 12px}
summary{cursor:pointer;font-weight:600}
table{border-collapse:collapse;font-size:.9em} td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
td.d{white-space:nowrap} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fdecea} tr.empty td{color:#888}
"""


def _facet_charts(facets: Mapping[str, Mapping[str, int]]) -> str:
    return (
        '<div class="grid">'
        + "".join(
            [
                hbars("Quarantine reasons", facets.get("reasons", {}), OUTCOME_COLOURS["quarantined"]),
                hbars("Languages", facets.get("languages", {})),
                hbars("Date sources", facets.get("date_sources", {})),
                hbars("Date precisions", facets.get("date_precisions", {})),
                hbars("Encodings", facets.get("encodings", {})),
                hbars("Repairs (articles may have several)", facets.get("repairs", {})),
                columns("Words per article", facets.get("word_counts", {})),
            ]
        )
        + "</div>"
    )


def _link(output: str, target: str | None) -> str:
    """A relative link from OUT/_report/ to a file of the output, when it is inside it."""
    if not target:
        return ""
    out = output.rstrip("/")
    rel = target[len(out) + 1 :] if target.startswith(out + "/") else None
    if rel is None and "://" not in target:
        try:
            rel = Path(target).resolve().relative_to(local_path(out)).as_posix()
        except ValueError:
            rel = None
    return f'<a href="../{_e(rel)}">Data Docs</a>' if rel else _e(target)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def render(data: Mapping[str, Any]) -> str:
    dates = data["dates"]
    totals = {k: sum(d[k] for d in dates.values()) for k in OUTCOME_COLOURS}
    seen = sum(totals.values())
    share = totals["quarantined"] / seen if seen else 0.0
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>news-etl report: {_e(data['output'])}</title><style>{CSS}</style></head><body>",
        "<h1>news-etl: what was published</h1>",
        f"<p class='meta'><code>{_e(data['output'])}</code> · generated {_e(data['generated_at'])} by news-etl "
        f"{_e(__version__)} · {_plural(len(dates), 'landing date')}, {_plural(len(data['runs']), 'run')}</p>",
        "<div class='totals'>"
        + "".join(f"<div><b>{totals[k]:,}</b>{k}</div>" for k in OUTCOME_COLOURS)
        + f"<div><b>{share:.1%}</b>quarantine share</div></div>",
        "<h2>Per landing date</h2>",
        "<p class='meta'>The published version of each date (its latest successful run).</p>",
        outcomes(dates),
        "<h2>All published dates</h2>",
        _facet_charts(data["overall"]),
        "<h2>Each landing date</h2>",
    ]
    for _i, (date, info) in enumerate(dates.items()):
        facets = data["per_date"].get(date, {})
        parts.append(
            f"<details id='date-{_e(date)}'{' open' if len(dates) == 1 else ''}>"
            f"<summary>{_e(date)}: {_plural(info['articles'], 'article')}, "
            f"{info['quarantined']:,} quarantined, {_plural(info['duplicates'], 'duplicate')} "
            f"<span class='meta'>(run {_e(info['run_id'])})</span></summary>{_facet_charts(facets)}</details>"
        )
    parts.append(
        "<h2>Runs</h2><table><tr><th>run</th><th>status</th><th>dates</th><th>documents</th><th>articles</th>"
        "<th>quarantined</th><th>duplicates</th><th>seconds</th><th>validation</th><th>error</th></tr>"
    )
    for r in reversed(data["runs"]):
        status = r.get("status") or "?"
        keys = sorted(r.get("batches") or {})
        span = (
            (keys[0] if len(keys) == 1 else f"{keys[0]} … {keys[-1]} ({len(keys)})") if keys else (r.get("date") or "")
        )
        parts.append(
            f"<tr class='{_e(status)}'><td><code>{_e(r.get('run_id'))}</code></td>"
            f"<td>{_e(status)}</td><td class='d'>{_e(span)}</td>"
            + "".join(
                f"<td class='n'>{int(r.get(k) or 0):,}</td>"
                for k in ("documents_seen", "articles_written", "quarantined", "duplicates")
            )
            + f"<td class='n'>{float(r.get('seconds') or 0):.1f}</td>"
            f"<td>{_link(data['output'], r.get('data_docs'))}</td>"
            f"<td>{_e(r.get('error') or '')}</td></tr>"
        )
    parts.append("</table></body></html>\n")
    return "".join(parts)


def write_report_page(output, storage_options: Mapping[str, Any] | None = None) -> str:
    """Write ``OUT/_report/index.html`` from the output as it is now; return its path (or URL)."""
    output = str(output)
    page = render(collect(output, storage_options))
    store = open_store(output, storage_options)
    if store is not None:
        store.write_text(PAGE, page)
        return store.uri(PAGE)
    path = local_path(output) / PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return str(path)
