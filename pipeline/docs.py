"""Data Docs: the batch validation results of a run as HTML pages a person can read.

In:  an output folder, a run id, then each landing date's ``validate.BatchResult`` as it is made.
Out: one Great Expectations validation page per landing date (GX's own Data Docs renderer),
     written when its result arrives, and ``OUT/_docs/<run_id>/index.html`` (one line per landing
     date: passed or failed, the failed expectations named, a link), whose path ``close`` returns.
"""

from __future__ import annotations

import html
import re
from pathlib import Path


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
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        page = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.html"
        if result.raw is not None:
            document = ValidationResultsPageRenderer().render(result.raw)
            (self.folder / page).write_text(DefaultJinjaPageView().render(document), encoding="utf-8")
        status = "passed" if result.success else "FAILED"
        failed = "".join(f"<li>{html.escape(f)}</li>" for f in result.failures)
        self._rows.append((key, f'<tr class="{status.lower()}"><td><a href="{page}">{html.escape(key)}</a></td><td>{status}</td>'
                                f"<td>{result.evaluated}</td><td><ul>{failed}</ul></td></tr>"))

    def close(self) -> Path:
        index = self.folder / "index.html"
        index.write_text(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>news-etl validation: "
            f"{html.escape(self.run_id)}</title><style>body{{font-family:sans-serif}}td{{padding:4px 12px;vertical-align:top}}"
            ".failed{background:#fdd}.passed{background:#dfd}</style></head><body>"
            f"<h1>news-etl batch validation</h1><p>run <code>{html.escape(self.run_id)}</code></p>"
            "<table><tr><th>landing date</th><th>status</th><th>expectations</th><th>failed</th></tr>"
            + "".join(row for _, row in sorted(self._rows)) + "</table></body></html>",
            encoding="utf-8",
        )
        return index

