"""Check: is every expected landing date published exactly once, and does each match its manifest?

In:  an output folder and a date range.
Out: a ``DateStatus`` per date (published or missing; articles, quarantined and the quarantine
     share; problems: a manifest that is not JSON or of another schema version, files that are
     missing, differ in size or checksum, cannot be read or say another schema version, files of
     the date that no manifest lists) and ``ok``. Problems of the whole output (a missing
     ``current`` link, a data file no manifest names, whatever its name) go on every date.
     ``news-etl check`` prints the table and exits non-zero when a date is missing or inconsistent.

The product checks its output itself: Airflow's own backfill bookkeeping can say "complete" while
a date is missing, so this reads the published snapshot, not the scheduler's database.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from .errors import OutputError
from .output import file_key, open_output, parquet_schema_version, parse_manifest, version_problem
from .records import SCHEMA_VERSION


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


def check(
    output, start: dt.date, end: dt.date, verify_checksums: bool = True, storage_options=None
) -> list[DateStatus]:
    """``output``: a local folder (its current snapshot is read) or an object-store URL."""
    out = open_output(str(output), storage_options)
    # Problems of the whole output go on every date checked: each date's state is then in doubt.
    general: list[str] = []
    try:
        out.verify_layout()
    except OutputError as exc:
        general.append(exc.message)
    files = out.files()
    by_key: dict[str, list[str]] = {}
    for rel in files:
        if rel.startswith(DATA_PREFIXES):
            by_key.setdefault(file_key(rel), []).append(rel)
    listed: set[str] = set()
    for rel in files:  # every data file must be one a manifest names, whatever its name
        if rel.startswith("_manifests/") and rel.endswith(".json"):
            try:
                listed.update(json.loads(out.read_text(rel) or "").get("files", {}))
            except (ValueError, AttributeError):
                pass  # reported on its date
    day_keys = set()
    day = start
    while day <= end:
        day_keys.add(day.isoformat())
        day += dt.timedelta(days=1)
    general += [
        f"not in any manifest: {rel}"
        for rel in sorted(files)
        if rel.startswith(DATA_PREFIXES) and rel not in listed and file_key(rel) not in day_keys
    ]
    statuses = []
    for key in sorted(day_keys):
        manifest = out.read_text(f"_manifests/{key}.json") if f"_manifests/{key}.json" in files else None
        status = _check_key(
            out.location,
            key,
            manifest,
            f"_manifests/{key}.SUCCESS" in files,
            files,
            by_key.get(key, []),
            out.sha256 if verify_checksums else None,
            out.parquet if verify_checksums else None,
        )
        status.problems.extend(general)
        statuses.append(status)
    return statuses


DATA_PREFIXES = ("articles/", "quarantine/", "raw/")


def _check_key(
    where: str,
    key: str,
    manifest_text: str | None,
    success: bool,
    files: dict[str, int],
    of_key: list[str],
    digest,
    parquet=None,
) -> DateStatus:
    if manifest_text is None:
        status = DateStatus(key, False)
        if of_key:
            status.problems.append(f"{len(of_key)} files but no manifest")
        return status
    status = DateStatus(key, True)
    try:
        manifest = parse_manifest(f"_manifests/{key}.json", manifest_text, where, check_version=False)
    except OutputError as exc:
        status.problems.append(exc.message)
        return status
    version = version_problem(manifest.get("schema_version"), [key], where)
    if version is not None:
        status.problems.append(f"{version.message}: {version.hint}")
    status.articles, status.quarantined = manifest.get("articles", 0), manifest.get("quarantined", 0)
    status.run_id = manifest.get("run_id")
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
        elif parquet is not None and rel.endswith(".parquet"):
            try:
                version = parquet_schema_version(parquet(rel))
            except Exception as exc:  # a damaged file: say which, never a traceback
                status.problems.append(f"unreadable {rel} ({type(exc).__name__})")
                continue
            if version != str(SCHEMA_VERSION):
                status.problems.append(f"schema version {version} (this news-etl writes {SCHEMA_VERSION}): {rel}")
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
        lines.append(
            f"{s.date:<12} {state:<10} {s.articles:>9} {s.quarantined:>12} {s.quarantine_share:>7.1%}  "
            + ("; ".join(s.problems) if s.problems else (s.run_id or ""))
        )
    missing = sum(not s.published for s in statuses)
    broken = sum(s.published and bool(s.problems) for s in statuses)
    lines.append(f"{len(statuses)} dates: {len(statuses) - missing - broken} ok, {missing} MISSING, {broken} BROKEN")
    return "\n".join(lines)
