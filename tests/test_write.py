"""Write: staged Parquet, atomic snapshot publish, per-key replacement, crash safety."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import article

from pipeline.config import WriteConfig
from pipeline.records import ARTICLE_SCHEMA, SCHEMA_VERSION, to_batch
from pipeline.snapshot import LocalOutput, current_snapshot
from pipeline.write import Stager


def publish(out, files, manifests, config, **crash):
    return LocalOutput(out, config).publish(files, manifests, "run", **crash)


def stage(out, run_id, key, n, month=12, text_suffix=""):
    """Stage n articles of one key as a run's shard would; returns publish()'s {key: [(file, rel)]}."""
    rows = [
        dataclasses.replace(
            article(i, text=f"Texte numéro {i} {text_suffix} du jour {key} avec assez de mots pour passer."),
            published_at=dt.datetime(2016, month, 3, tzinfo=dt.UTC),
        )
        for i in range(n)
    ]
    stager = Stager(out / ".staging" / run_id / "shard-00000", 0, WriteConfig())
    stager.add_articles(pa.Table.from_batches([to_batch(rows, ARTICLE_SCHEMA)]), [key] * n)
    stager.close()
    return {key: [(stager.root / rel, rel) for rel in stager.keys[key].article_files]}


def read(out):
    return pq.read_table(out / "articles", partitioning="hive")


def test_publish_creates_hive_layout_and_manifest(tmp_path):
    snap = publish(tmp_path, stage(tmp_path, "r1", "2016-12-07", 3), {"2016-12-07": {"run_id": "r1"}}, WriteConfig())
    assert (tmp_path / "articles" / "year=2016" / "month=12" / "2016-12-07.part-00000.parquet").is_file()
    assert (tmp_path / "_manifests" / "2016-12-07.SUCCESS").is_file()
    assert read(tmp_path).num_rows == 3
    manifest = LocalOutput(tmp_path).read_manifests()["2016-12-07"]
    assert manifest["run_id"] == "r1" and manifest["schema_version"] == SCHEMA_VERSION
    ((rel, info),) = manifest["files"].items()
    assert rel == "articles/year=2016/month=12/2016-12-07.part-00000.parquet" and len(info["sha256"]) == 64
    assert current_snapshot(tmp_path).name == snap


def test_rerun_replaces_exactly_its_key(tmp_path):
    publish(tmp_path, stage(tmp_path, "a", "2016-12-06", 2, month=11), {}, WriteConfig())
    publish(tmp_path, stage(tmp_path, "b", "2016-12-07", 3), {}, WriteConfig())
    other = tmp_path / "articles/year=2016/month=11/2016-12-06.part-00000.parquet"
    inode = os.stat(other).st_ino
    publish(tmp_path, stage(tmp_path, "c", "2016-12-07", 1, text_suffix="v2"), {}, WriteConfig())
    t = read(tmp_path)
    assert t.num_rows == 3
    assert os.stat(other).st_ino == inode  # carried over by hard link, untouched
    texts = [x for x in t.column("text").to_pylist() if "2016-12-07" in x]
    assert len(texts) == 1 and "v2" in texts[0]


def test_a_key_that_moves_partition_leaves_nothing_behind(tmp_path):
    publish(tmp_path, stage(tmp_path, "a", "2016-12-07", 2, month=11), {}, WriteConfig())
    publish(tmp_path, stage(tmp_path, "b", "2016-12-07", 2, month=12), {}, WriteConfig())
    assert not (tmp_path / "articles/year=2016/month=11").exists()
    assert read(tmp_path).num_rows == 2


def test_publish_killed_before_the_swap_leaves_the_previous_version(tmp_path):
    publish(tmp_path, stage(tmp_path, "a", "2016-12-07", 2), {}, WriteConfig())
    before = read(tmp_path).sort_by("article_id")
    with pytest.raises(KeyboardInterrupt):
        publish(
            tmp_path,
            stage(tmp_path, "b", "2016-12-07", 5, text_suffix="new"),
            {},
            WriteConfig(),
            _crash_after_links=True,
        )
    assert read(tmp_path).sort_by("article_id").equals(before)
    assert len(list((tmp_path / ".snapshots").iterdir())) == 2  # the orphan is still there
    publish(tmp_path, stage(tmp_path, "c", "2016-12-07", 4, text_suffix="new"), {}, WriteConfig())
    assert read(tmp_path).num_rows == 4
    assert sorted(p.name for p in (tmp_path / ".snapshots").iterdir()) == ["00000001", "00000002"]


def test_old_snapshots_are_collected(tmp_path):
    for i in range(6):
        publish(
            tmp_path, stage(tmp_path, f"r{i}", "2016-12-07", 1, text_suffix=str(i)), {}, WriteConfig(keep_snapshots=2)
        )
    assert len(list((tmp_path / ".snapshots").iterdir())) == 3


def test_output_folder_owned_by_someone_else_is_refused(tmp_path):
    (tmp_path / "articles").mkdir()
    with pytest.raises(Exception, match="not news-etl's link"):
        publish(tmp_path, stage(tmp_path, "a", "2016-12-07", 1), {}, WriteConfig())


def test_articles_are_partitioned_by_publication_date_else_by_landing_date(tmp_path):
    stated = dataclasses.replace(
        article(0),
        published_at=dt.datetime(2004, 3, 31, 23, 30, tzinfo=dt.UTC),
        landing_date=dt.date(2026, 12, 1),
    )
    undated = dataclasses.replace(
        article(1), published_at=None, date_precision=None, date_source="none", landing_date=dt.date(2026, 12, 1)
    )
    stager = Stager(tmp_path / "shard", 0, WriteConfig())
    stager.add_articles(pa.Table.from_batches([to_batch([stated, undated], ARTICLE_SCHEMA)]), ["2026-12-01"] * 2)
    stager.close()
    assert stager.keys["2026-12-01"].article_files == {
        "articles/year=2004/month=03/2026-12-01.part-00000.parquet": 1,
        "articles/year=2026/month=12/2026-12-01.part-00000.parquet": 1,
    }
