"""The benchmark's peer engine: HuggingFace datatrove doing news-etl's steps on the landing zone.

    .venv-datatrove/bin/python benchmarks/datatrove_peer.py --src LANDING --out OUT --workers 2 [--limit N]

Runs in its own virtualenv (datatrove pins its own dependencies; `./dev bench` builds
.venv-datatrove from benchmarks/datatrove.lock on first use) and is started by bench.py, which
times it and samples its memory. In: a landing zone SRC/YYYY-MM-DD/<files>. Out: Parquet files
OUT/day=YYYY-MM-DD/<rank>.parquet (zstd; columns text, id, day, file_path, published, language),
datatrove's logs and stats under OUT/logs, and one line of JSON on stdout: articles, dated, and
the seconds each step spent (summed over tasks).

The pipeline, one datatrove step per stage:
  LandingReader    a BaseDiskReader subclass: lists SRC/YYYY-MM-DD/** with datatrove's own file
                   listing and sharding, decodes each file as the hand-written pipeline does (UTF-8,
                   else charset-normalizer, else latin-1: peer_steps.decode)
  FTFYFormatter    datatrove's, with its default configuration
  HeaderDate       dateparser on the header's date (peer_steps.header_date_text, the hand-written
                   pipeline's extraction)
  Py3LangID        py3langid on the first 400 characters, a label-only filter. datatrove's
                   LanguageFilter is not used: its backends (fastText lid.176, GlotLID) download
                   their model on first use, and this benchmark runs offline
  ParquetWriter    datatrove's, partitioned by day through its output_filename template
The executor is datatrove's LocalPipelineExecutor with tasks = workers (each task a shard of the
files, datatrove's rank::world_size split).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datatrove.data import Document, DocumentsPipeline  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.base import PipelineStep  # noqa: E402
from datatrove.pipeline.filters.base_filter import BaseFilter  # noqa: E402
from datatrove.pipeline.formatters import FTFYFormatter  # noqa: E402
from datatrove.pipeline.readers.base import BaseDiskReader  # noqa: E402
from datatrove.pipeline.writers import ParquetWriter  # noqa: E402
from peer_steps import decode, header_date_text  # noqa: E402

DAY_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/**"


class LandingReader(BaseDiskReader):
    """One document per file of SRC/YYYY-MM-DD/**: its decoded text, its path as id, its day."""

    name = "📰 Landing zone"

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with self.track_time():
            with self.data_folder.open(filepath, "rb") as f:
                raw = f.read()
            document = self.get_document_from_dict(
                {"text": decode(raw), "id": filepath, "metadata": {"day": filepath.split("/", 1)[0]}}, filepath, 0
            )
        if document:
            yield document


class HeaderDate(PipelineStep):
    """metadata["published"]: dateparser on the header's date, None when it finds none."""

    name = "📅 Header date"
    type = "✂️ - FORMAT"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import dateparser

        for doc in data:
            with self.track_time():
                found = header_date_text(doc.text)
                doc.metadata["published"] = dateparser.parse(found) if found else None
            self.stat_update("dated" if doc.metadata["published"] else "undated")
            yield doc


class Py3LangID(BaseFilter):
    """metadata["language"]: py3langid on the first 400 characters; keeps every document."""

    name = "🌍 py3langid"

    def filter(self, doc: Document) -> bool:
        import py3langid

        doc.metadata["language"] = py3langid.classify(doc.text[:400])[0]
        return True


def schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("text", pa.string()),
            ("id", pa.string()),
            ("day", pa.string()),
            ("file_path", pa.string()),
            ("published", pa.timestamp("us", tz="UTC")),
            ("language", pa.string()),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--limit", type=int, default=-1, help="about this many articles in all (-1: all)")
    args = ap.parse_args(argv)

    limit = -1 if args.limit < 0 else -(-args.limit // args.workers)  # datatrove's limit is per task
    executor = LocalPipelineExecutor(
        pipeline=[
            LandingReader(str(args.src), glob_pattern=DAY_GLOB, limit=limit),
            FTFYFormatter(),
            HeaderDate(),
            Py3LangID(),
            ParquetWriter(
                str(args.out),
                output_filename="day=${day}/${rank}.parquet",
                compression="zstd",
                expand_metadata=True,
                schema=schema(),
            ),
        ],
        tasks=args.workers,
        workers=args.workers,
        logging_dir=str(args.out / "logs"),
    )
    t0 = time.perf_counter()
    stats = executor.run()
    seconds = time.perf_counter() - t0
    # the steps' seconds, summed over tasks, named as the hand-written pipeline's stages
    stage_seconds = {
        label: round(s.time_stats.total, 3)
        for label, s in zip(("read+decode", "ftfy", "dates", "language", "write"), stats.stats)
    }
    counts = {k: v.total for s in stats.stats for k, v in s.stats.items()}
    print(
        json.dumps(
            {
                "articles": int(counts.get("dated", 0) + counts.get("undated", 0)),
                "dated": int(counts.get("dated", 0)),
                "seconds_in_executor": round(seconds, 2),
                "stage_seconds": stage_seconds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
