"""Migrate: rewrite every published date of an older schema version to the current one.

In:  an output (a local folder or an fsspec URL) whose manifests say an older schema version, and
     the declared changes ``records.SCHEMA_CHANGES`` (columns added, renamed, dropped).
Out: each such date published again through ``Output.publish`` (a snapshot swap locally, a
     manifest commit on object storage), one date at a time: its files read, the declared changes
     applied in order (an added column is null in the old rows; a version-2 file that already
     holds it keeps its values), written with the current schema and its version in the Parquet
     metadata and the manifest (``migrated``: from which version, when, by which news-etl). Rows,
     their order and every other manifest field are kept.

A date is old or new, never mixed: its new files go live in one atomic step, under the lock of
that date (a run of the date waits or fails as against another run). A migration that is killed
leaves the dates before it migrated and the others old; rerunning it migrates the others (a date
at the current version is skipped). Before anything changes, the whole output is read: a date of a
newer version, of a version that cannot be migrated, or whose files differ from its manifest
stops the migration with one line.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .config import WriteConfig
from .errors import OutputError
from .faults import fault_point
from .locks import alive, clean_dead_staging
from .output import (
    MANIFESTS,
    Output,
    migratable,
    open_output,
    parquet_schema_version,
    parse_manifest,
    parse_manifests,
    unversioned,
)
from .records import ARTICLE_SCHEMA, QUARANTINE_SCHEMA, RAW_SCHEMA, SCHEMA_CHANGES, SCHEMA_VERSION

SCHEMAS = {"articles": ARTICLE_SCHEMA, "quarantine": QUARANTINE_SCHEMA, "raw": RAW_SCHEMA}


@dataclass(frozen=True, slots=True)
class MigratedDate:
    key: str
    from_version: int
    files: int
    rows: int


def upgrade(table: pa.Table, dataset: str, version: int, where: str = "") -> pa.Table:
    """A table of ``dataset`` written with schema ``version``, as the current schema: the declared
    changes of every version from ``version`` on, in order, then the current column order, types
    and metadata. A column that is neither in the current schema nor declared dropped, or one the
    current schema has that no change explains, is an ``OutputError``: declare the change."""
    target = SCHEMAS[dataset]
    columns = {name: table.column(name) for name in table.column_names}
    for change in SCHEMA_CHANGES:
        if change.dataset != dataset or change.version < version:
            continue
        for old, new in change.renamed:
            if old in columns:
                columns[new] = columns.pop(old)
        for name in change.dropped:
            columns.pop(name, None)
        for name in change.added:  # a file written after the column, under the old number, has it
            columns.setdefault(name, pa.nulls(table.num_rows, target.field(name).type))
    extra = sorted(set(columns) - set(target.names))
    missing = [name for name in target.names if name not in columns]
    if extra or missing:
        raise OutputError(
            f"a {dataset} file of schema version {version} has columns {extra} the current schema does not "
            f"and lacks {missing}",
            source=where,
            hint="declare the change in pipeline/records.py SCHEMA_CHANGES (see CONTRIBUTING.md, Add a column)",
        )
    arrays = [columns[field.name].cast(field.type) for field in target]
    return pa.Table.from_arrays(arrays, schema=target)


def pending(out: Output) -> dict[str, dict]:
    """The manifests of the dates to migrate (older than this version), by key; an ``OutputError``
    when any date cannot be migrated (newer, too old, unreadable): then nothing may change."""
    texts = {rel: out.read_text(rel) for rel in sorted(out.files()) if rel.startswith(f"{MANIFESTS}/")}
    manifests = parse_manifests({rel: text for rel, text in texts.items() if rel.endswith(".json")}, out.location, True)
    return {k: m for k, m in manifests.items() if m.get("schema_version") != SCHEMA_VERSION}


def _still_old(out: Output, key: str) -> dict | None:
    """The manifest of ``key`` if it is still of an older version (a run may have republished it)."""
    manifest = parse_manifest(f"{MANIFESTS}/{key}.json", out.read_text(f"{MANIFESTS}/{key}.json"), out.location, False)
    return manifest if migratable(manifest.get("schema_version")) else None


def _stage_date(out: Output, key: str, manifest: dict, folder: Path, write: WriteConfig) -> tuple[list, dict]:
    """Each file of a date, checked against its manifest, upgraded and written under ``folder``:
    the (staged file, destination) pairs and the rows of each."""
    staged, rows = [], {}
    for rel, info in sorted(manifest.get("files", {}).items()):
        if out.sha256(rel) != info.get("sha256"):
            raise OutputError(
                f"{rel} differs from the manifest of {key}",
                source=out.location,
                hint=f"rerun its date (news-etl run --date {key}) first; news-etl check lists every problem",
            )
        file = out.parquet(rel)
        version = parquet_schema_version(file) or str(manifest["schema_version"])
        if not version.isdigit() or int(version) > SCHEMA_VERSION:
            raise OutputError(
                f"{rel} says schema version {version}, this news-etl writes {SCHEMA_VERSION}",
                source=out.location,
                hint="use the news-etl that wrote it or a newer one; an output is never downgraded",
            )
        table = upgrade(file.read(), rel.split("/", 1)[0], int(version), out.location)
        dest = unversioned(rel)
        path = folder / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression=write.compression, compression_level=write.compression_level)
        staged.append((path, dest))
        rows[dest] = table.num_rows
    return staged, rows


def migrate_date(out: Output, key: str, manifest: dict, run_id: str, write: WriteConfig) -> MigratedDate:
    """One date rewritten to the current schema and published in one atomic step."""
    folder = out.staging(run_id) / key
    staged, rows = _stage_date(out, key, manifest, folder, write)
    fault_point("migrate:before_publish")
    kept = {k: v for k, v in manifest.items() if k not in ("files", "schema_version", "version")}
    kept["rows_by_file"] = rows
    kept["migrated"] = {
        "from_version": manifest["schema_version"],
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "by": f"news-etl {__version__}",
        "migration_id": run_id,
    }
    out.publish({key: staged}, {key: kept}, run_id)
    out.release(folder)
    return MigratedDate(key, manifest["schema_version"], len(staged), sum(rows.values()))


def migrate(
    url: str,
    storage_options: Mapping[str, Any] | None = None,
    on_date: Callable[[MigratedDate], None] | None = None,
    write: WriteConfig | None = None,
) -> list[MigratedDate]:
    """Every published date of an older schema version of ``url``, migrated (see the module)."""
    out = open_output(str(url), storage_options, write=write)
    out.verify_layout()
    todo = pending(out)
    run_id = f"migrate-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    staging_root = out.staging(run_id).parent
    done: list[MigratedDate] = []
    if not todo:
        return done
    with ExitStack() as stack:
        staging_root.mkdir(parents=True, exist_ok=True)
        stack.enter_context(alive(staging_root, run_id))
        stack.callback(out.drop_staging, run_id)
        clean_dead_staging(staging_root, out.drop_staging)
        for key in sorted(todo):
            with out.date_locks([key], run_id):
                current = _still_old(out, key)
                if current is None:
                    continue
                migrated = migrate_date(out, key, current, run_id, write or WriteConfig())
            done.append(migrated)
            if on_date is not None:
                on_date(migrated)
            fault_point("migrate:after_date")
    return done
