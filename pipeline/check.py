"""Check: is every expected landing date published exactly once, and does each match its manifest?

In:  an output folder and a date range.
Out: a ``DateStatus`` per date (published or missing; articles, quarantined and the quarantine
     share; problems: a manifest whose files are missing, differ in size or checksum, or files of
     the date that no manifest lists) and ``ok``. ``news-etl check`` prints the table and exits
     non-zero when a date is missing or inconsistent.

The product checks its output itself: Airflow's own backfill bookkeeping can say "complete" while
a date is missing, so this reads the published snapshot, not the scheduler's database.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from .output import file_key, open_output


@dataclass
class DateStatus:
    date: str
    published: bool
    articles: int = 0
    quarantined: int = 0
    run_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def quarantine_share(self) -> float:
        total = self.articles + self.quarantined
        return self.quarantined / total if total else 0.0

    @property
    def ok(self) -> bool:
        return self.published and not self.problems


def check(output, start: dt.date, end: dt.date, verify_checksums: bool = True,
          storage_options=None) -> list[DateStatus]:
    """``output``: a local folder (its current snapshot is read) or an object-store URL."""
    out = open_output(str(output), storage_options)
    files = out.files()
    by_key: dict[str, list[str]] = {}
    for rel in files:
        if rel.startswith(("articles/", "quarantine/", "raw/")):
            by_key.setdefault(file_key(rel), []).append(rel)
    statuses = []
    day = start
    while day <= end:
        key = day.isoformat()
        manifest = out.read_text(f"_manifests/{key}.json") if f"_manifests/{key}.json" in files else None
        statuses.append(_check_key(key, manifest, f"_manifests/{key}.SUCCESS" in files,
                                   files, by_key.get(key, []), out.sha256 if verify_checksums else None))
        day += dt.timedelta(days=1)
    return statuses


def _check_key(key: str, manifest_text: str | None, success: bool, files: dict[str, int],
               of_key: list[str], digest) -> DateStatus:
    if manifest_text is None:
        status = DateStatus(key, False)
        if of_key:
            status.problems.append(f"{len(of_key)} files but no manifest")
        return status
    manifest = json.loads(manifest_text)
    status = DateStatus(key, True, manifest.get("articles", 0), manifest.get("quarantined", 0), manifest.get("run_id"))
    if not success:
        status.problems.append("no SUCCESS marker")
    listed = manifest.get("files", {})
    for rel, info in listed.items():
        if rel not in files:
            status.problems.append(f"missing {rel}")
        elif files[rel] != info.get("bytes"):
            status.problems.append(f"size differs: {rel}")
        elif digest is not None and digest(rel) != info.get("sha256"):
            status.problems.append(f"checksum differs: {rel}")
    for rel in of_key:
        if rel not in listed:
            status.problems.append(f"not in manifest: {rel}")
    rows = sum(int(i.get("rows") or 0) for r, i in listed.items() if r.startswith("articles/"))
    if rows != status.articles:
        status.problems.append(f"manifest says {status.articles} articles, its files hold {rows}")
    return status


def table(statuses: list[DateStatus]) -> str:
    lines = [f"{'date':<12} {'status':<10} {'articles':>9} {'quarantined':>12} {'share':>7}  run / problems"]
    for s in statuses:
        state = "ok" if s.ok else ("MISSING" if not s.published else "BROKEN")
        lines.append(f"{s.date:<12} {state:<10} {s.articles:>9} {s.quarantined:>12} {s.quarantine_share:>7.1%}  "
                     + ("; ".join(s.problems) if s.problems else (s.run_id or "")))
    missing = sum(not s.published for s in statuses)
    broken = sum(s.published and bool(s.problems) for s in statuses)
    lines.append(f"{len(statuses)} dates: {len(statuses) - missing - broken} ok, {missing} MISSING, {broken} BROKEN")
    return "\n".join(lines)
