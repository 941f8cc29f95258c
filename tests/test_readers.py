"""DuckDB, pandas and Polars read OUT/articles as is, with hive partitions and the declared types."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import polars as pl
import pytest

from pipeline.config import RunConfig
from pipeline.run import run


@pytest.fixture(scope="module")
def out(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("readers")
    report = run(RunConfig(source=str(samples), output=str(out), workers=1))
    return out, report.articles_written


def test_duckdb(out):
    path, n = out
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{path}/articles/**/*.parquet', hive_partitioning=true)")
    types = dict(zip(rel.columns, [str(t) for t in rel.types]))
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["repairs"] == "VARCHAR[]" and types["word_count"] == "INTEGER" and types["landing_date"] == "DATE"
    assert types["year"] in ("BIGINT", "INTEGER") and types["month"] in ("BIGINT", "INTEGER")
    assert (
        duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{path}/articles/**/*.parquet', hive_partitioning=true)"
        ).fetchall()[0][0]
        == n
    )
    (mism,) = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{path}/articles/**/*.parquet', hive_partitioning=true) "
        "WHERE year != year(coalesce((published_at AT TIME ZONE 'UTC')::DATE, landing_date)) "
        "OR month != month(coalesce((published_at AT TIME ZONE 'UTC')::DATE, landing_date))"
    ).fetchall()[0]
    assert mism == 0  # the publication month, else (the document states no date) the landing month


def test_pandas(out):
    path, n = out
    df = pd.read_parquet(path / "articles")
    assert len(df) == n
    assert str(df["published_at"].dtype) == "datetime64[us, UTC]"
    assert pd.api.types.is_integer_dtype(df["word_count"])
    # pyarrow gives hive partition columns to pandas as categoricals of int32
    assert pd.api.types.is_integer_dtype(df["year"].cat.categories) and pd.api.types.is_integer_dtype(
        df["month"].cat.categories
    )
    assert set(df["month"].astype(int)) == {12}
    assert isinstance(df["landing_date"].dropna().iloc[0], dt.date)


def test_polars(out):
    path, n = out
    df = pl.read_parquet(f"{path}/articles/**/*.parquet", hive_partitioning=True)
    assert df.height == n
    assert df.schema["published_at"] == pl.Datetime("us", "UTC")
    assert df.schema["repairs"] == pl.List(pl.String) and df.schema["word_count"] == pl.Int32
    assert df.schema["year"].is_integer() and df.schema["month"].is_integer()
    lazy = pl.scan_parquet(f"{path}/articles/**/*.parquet", hive_partitioning=True).filter(pl.col("month") == 12)
    assert lazy.collect().height == n
