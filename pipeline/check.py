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
import os
from dataclasses import dataclass, field
from pathlib import Path

from .write import _file_key, _sha256_file, current_snapshot


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


def check(output: Path, start: dt.date, end: dt.date, verify_checksums: bool = True) -> list[DateStatus]:
    output = Path(output)
    snapshot = current_snapshot(output)
    by_key: dict[str, list[str]] = {}
    if snapshot:
        for dirpath, _dirs, names in os.walk(snapshot):
            for name in names:
                rel = Path(dirpath, name).relative_to(snapshot).as_posix()
                if rel.startswith(("articles/", "quarantine/")):
                    by_key.setdefault(_file_key(rel), []).append(rel)
    out = []
    day = start
    while day <= end:
        key = day.isoformat()
        manifest_path = snapshot / "_manifests" / f"{key}.json" if snapshot else None
        if manifest_path is None or not manifest_path.exists():
            status = DateStatus(key, False)
            if by_key.get(key):
                status.problems.append(f"{len(by_key[key])} files but no manifest")
            out.append(status)
            day += dt.timedelta(days=1)
            continue
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        status = DateStatus(key, True, manifest.get("articles", 0), manifest.get("quarantined", 0), manifest.get("run_id"))
        if not (snapshot / "_manifests" / f"{key}.SUCCESS").exists():
            status.problems.append("no SUCCESS marker")
        listed = manifest.get("files", {})
        for rel, info in listed.items():
            path = snapshot / rel
            if not path.exists():
                status.problems.append(f"missing {rel}")
            elif path.stat().st_size != info.get("bytes"):
                status.problems.append(f"size differs: {rel}")
            elif verify_checksums and _sha256_file(path) != info.get("sha256"):
                status.problems.append(f"checksum differs: {rel}")
        for rel in by_key.get(key, []):
            if rel not in listed:
                status.problems.append(f"not in manifest: {rel}")
        rows = sum(int(i.get("rows") or 0) for r, i in listed.items() if r.startswith("articles/"))
        if rows != status.articles:
            status.problems.append(f"manifest says {status.articles} articles, its files hold {rows}")
        out.append(status)
        day += dt.timedelta(days=1)
    return out


def table(statuses: list[DateStatus]) -> str:
    lines = [f"{'date':<12} {'status':<10} {'articles':>9} {'quarantined':>12} {'share':>7}  run / problems"]
    for s in statuses:
        state = "ok" if s.ok else ("MISSING" if not s.published else "BROKEN")
        lines.append(f"{s.date:<12} {state:<10} {s.articles:>9} {s.quarantined:>12} {s.quarantine_share:>7.1%}  "
                     + ("; ".join(s.problems) if s.problems else (s.run_id or "")))
    missing = sum(not s.published for s in statuses)
    broken = sum(s.published and bool(s.problems) for s in statuses)
    lines.append(f"{len(statuses)} dates: {len(statuses) - missing - broken} ok, {missing} missing, {broken} inconsistent")
    return "\n".join(lines)
