"""Inputs that used to crash a reader or blow up memory: a quarantine row per record with a reason
of its stage, a bounded excerpt and a digest; an input's bytes at most once."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

from pipeline.config import RunConfig
from pipeline.document import process_document
from pipeline.fetch import RawDocument, Source, list_items
from pipeline.phases.tasks import process_task
from pipeline.readers import json as json_reader
from pipeline.readers.base import Rejected
from pipeline.records import Quarantined


def test_json_nested_200000_deep_is_a_parse_reason_not_an_internal_error():
    for text in ("[" * 200_000 + "]" * 200_000, '{"a": ' * 200_000 + "1" + "}" * 200_000):
        got = json_reader.read(text)
        assert len(got) == 1 and isinstance(got[0], Rejected)
        assert got[0].reason.startswith("JSON nested deeper than")


def _raw(data: bytes) -> RawDocument:
    return RawDocument(
        "file:///landing/2016-12-07/b.jsonl",
        "2016-12-07/b.jsonl",
        dt.date(2016, 12, 7),
        data,
        hashlib.sha256(data).hexdigest(),
    )


def test_a_jsonl_file_of_broken_lines_keeps_its_bytes_once():
    data = b'{"text": "A first record that parses, so the file is read as JSON lines."}\n' + b'{"a": "x\n' * 2000
    rows = [r for r in process_document(_raw(data), RunConfig(source=".", output=".")) if isinstance(r, Quarantined)]
    assert len(rows) >= 2000  # every broken line (and the first record, if it is not an article)
    assert sum(r.raw is not None for r in rows) == 1 and rows[0].raw == data
    assert all(r.raw_sha256 == hashlib.sha256(data).hexdigest() and r.size_bytes == len(data) for r in rows)
    assert all(r.text_excerpt is None or len(r.text_excerpt) <= 2000 for r in rows)
    assert {r.stage for r in rows} <= {"parse", "json", "clean", "dates", "metadata", "language"}


def test_a_fetch_failure_keeps_the_digest_of_what_was_read(samples, tmp_path):
    src = tmp_path / "src" / "2016-12-07"
    src.mkdir(parents=True)
    shutil.copy(samples / "2016-12-07" / "truncated.txt.gz", src)
    config = RunConfig(source=str(tmp_path / "src"), output=str(tmp_path / "out"))
    items, _ = list_items(Source(config.source), None, config.fetch)
    result = process_task(Source(config.source), items, config)
    (row,) = result.quarantined
    assert (
        row.stage == "fetch" and row.raw_sha256 == hashlib.sha256((src / "truncated.txt.gz").read_bytes()).hexdigest()
    )
