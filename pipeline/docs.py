"""Data Docs: the batch validation results of a run as HTML pages a person can read, offline.

In:  an output folder, a run id, then each landing date's ``validate.BatchResult`` as it is made.
Out: one page per landing date (``OUT/_docs/<run_id>/<date>.html``: every expectation of the
     batch suite with its column, status, observed value, failing count and share, a sample of the
     failing values and the suite's hint), written when its result arrives, and
     ``OUT/_docs/<run_id>/index.html`` (one line per landing date: passed or failed, the failed
     expectations named, a link), whose path ``close`` returns.

The pages are ours, not Great Expectations' Data Docs renderer: GX's pages load their styles and
scripts from public CDNs, so offline (where pipelines run) they show no status at all. These are
self-contained (inline style, no script, no external URL), name the run id and the landing date,
and link only to each other.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

SAMPLE = 20  # failing values shown per expectation (GX's partial list is at most this long too)

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse}"
    "td,th{padding:4px 10px;vertical-align:top;border-bottom:1px solid #ddd;text-align:left}"
    "th{background:#eee}.failed{background:#fdd}.passed{background:#efe}"
    ".status{font-weight:bold;white-space:nowrap}.failed .status{color:#a00}.passed .status{color:#060}"
    "code{font-size:90%}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dd{margin:0}"
    "ul{margin:0;padding-left:1.2em}"
)
# Arguments of an expectation that say how it is evaluated, not what it expects.
_PLUMBING = {"column", "batch_id", "result_format", "include_config", "catch_exceptions", "meta"}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def page_name(key: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.html"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _e(value)


def expectation_rows(raw) -> list[dict[str, Any]]:
    """The rows of a date's page from a GX ``ExpectationSuiteValidationResult``: plain values only."""
    rows = []
    for er in raw.results:
        cfg = er.expectation_config.to_json_dict()
        kwargs = cfg.get("kwargs") or {}
        result = er.result or {}
        error = None
        info = getattr(er, "exception_info", None) or {}
        if isinstance(info, dict) and info.get("raised_exception"):
            error = str(info.get("exception_message") or "raised an exception")[:300]
        rows.append(
            {
                "expectation": cfg["type"],
                "column": kwargs.get("column"),
                "arguments": {k: v for k, v in kwargs.items() if k not in _PLUMBING and v is not None},
                "success": bool(er.success),
                "observed": result.get("observed_value"),
                "element_count": result.get("element_count"),
                "unexpected_count": result.get("unexpected_count"),
                "unexpected_percent": result.get("unexpected_percent"),
                "sample": list(result.get("partial_unexpected_list") or [])[:SAMPLE],
                "hint": (cfg.get("meta") or {}).get("hint", ""),
                "error": error,
            }
        )
    # Failures first, then in the suite's order.
    return sorted(rows, key=lambda r: r["success"])


def render_date(run_id: str, key: str, suite: str, rows: list[dict[str, Any]], statistics: dict[str, Any]) -> str:
    """One landing date's validation page."""
    failed = sum(not r["success"] for r in rows)
    verdict = f"FAILED: {failed} of {len(rows)} expectations" if failed else f"passed: {len(rows)} expectations"
    head = (
        f"<p><a href='index.html'>All dates of this run</a></p>"
        f"<h1>Validation of {_e(key)}: <span class='{'failed' if failed else 'passed'}'>{_e(verdict)}</span></h1>"
        f"<dl><dt>Run name</dt><dd><code>{_e(run_id)}</code></dd><dt>Data asset</dt><dd>landing date {_e(key)}</dd>"
        f"<dt>Expectation suite</dt><dd><code>{_e(suite)}</code></dd>"
        + "".join(f"<dt>{_e(k.replace('_', ' '))}</dt><dd>{_number(v)}</dd>" for k, v in statistics.items())
        + "</dl>"
    )
    body = []
    for r in rows:
        status = "passed" if r["success"] else "FAILED"
        args = "".join(f"<li>{_e(k)} = <code>{_e(v)}</code></li>" for k, v in r["arguments"].items())
        share = "" if r["unexpected_percent"] is None else f" ({_number(r['unexpected_percent'])}%)"
        failing = "" if r["unexpected_count"] is None else f"{_e(r['unexpected_count'])}{share}"
        if r["element_count"] is not None and r["unexpected_count"] is not None:
            failing += f" of {_e(r['element_count'])}"
        sample = "".join(f"<li><code>{_e(v)[:200]}</code></li>" for v in r["sample"])
        note = _e(r["hint"]) + (f"<br>error: {_e(r['error'])}" if r["error"] else "")
        body.append(
            f"<tr class='{status.lower()}'><td class='status'>"
            f"{'&#10008; ' if not r['success'] else '&#10004; '}{status}</td>"
            f"<td><code>{_e(r['expectation'])}</code><ul>{args}</ul></td><td>{_e(r['column'] or '(table)')}</td>"
            f"<td>{'' if r['observed'] is None else '<code>' + _e(r['observed'])[:300] + '</code>'}</td>"
            f"<td>{failing}</td><td><ul>{sample}</ul></td><td>{note}</td></tr>"
        )
    table = (
        "<table><tr><th>status</th><th>expectation</th><th>column</th><th>observed</th><th>failing rows</th>"
        "<th>sample of failing values</th><th>what it means</th></tr>" + "".join(body) + "</table>"
    )
    return _page(f"news-etl validation: {key} ({run_id})", head + table)


class DataDocs:
    """Writes a run's Data Docs as the batches are validated: each landing date's page is rendered
    when its result arrives and the result is let go, so that a run of many dates does not hold
    every GX result (and what it references) until the end. ``close`` writes the index."""

    def __init__(self, output: Path, run_id: str):
        self.run_id = run_id
        self.folder = Path(output) / "_docs" / run_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self._rows: list[tuple[str, str]] = []

    def add(self, key: str, result) -> None:
        page = page_name(key)
        link = _e(key)
        if result.raw is not None:
            raw = result.raw
            suite = getattr(raw, "suite_name", None) or (getattr(raw, "meta", None) or {}).get(
                "expectation_suite_name", ""
            )
            stats = {
                k: v
                for k, v in (result.statistics or {}).items()
                if k
                in ("evaluated_expectations", "successful_expectations", "unsuccessful_expectations", "success_percent")
            }
            (self.folder / page).write_text(
                render_date(self.run_id, key, suite, expectation_rows(raw), stats), encoding="utf-8"
            )
            link = f'<a href="{page}">{_e(key)}</a>'
        status = "passed" if result.success else "FAILED"
        failed = "".join(f"<li>{_e(f)}</li>" for f in result.failures)
        self._rows.append(
            (
                key,
                f'<tr class="{status.lower()}"><td>{link}</td><td class="status">{status}</td>'
                f"<td>{result.evaluated}</td><td><ul>{failed}</ul></td></tr>",
            )
        )

    def close(self) -> Path:
        index = self.folder / "index.html"
        index.write_text(
            _page(
                f"news-etl validation: {self.run_id}",
                f"<h1>news-etl batch validation</h1><p>run <code>{_e(self.run_id)}</code></p>"
                "<table><tr><th>landing date</th><th>status</th><th>expectations</th><th>failed</th></tr>"
                + "".join(row for _, row in sorted(self._rows))
                + "</table>",
            ),
            encoding="utf-8",
        )
        return index
