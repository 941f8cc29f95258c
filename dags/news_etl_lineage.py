"""OpenLineage datasets of a news_etl publish, with their schema facets.

In:  the landing zone's and the published dataset's URIs (``file:///…``, ``s3://…``), and the
     Arrow schemas of ``pipeline.records``.
Out: ``declare``: the running task answers the OpenLineage provider's
     ``get_openlineage_facets_on_complete`` with those two datasets, each with a ``schema`` facet
     (one field per Arrow column: its name and its Arrow type as text). The published articles
     carry ``ARTICLE_SCHEMA``; the landing zone carries ``RAW_SCHEMA``, the record news-etl reads
     of each input (a file or an archive member: its path, checksum, size and bytes).

Why on the running task: a ``@task`` has no operator class of its own to define the method on,
and the provider's hook-lineage path turns assets into datasets without facets. The provider
looks the method up on the task object of the run (its template context's ``task``) when the task
completes, so the paths are those of the run's own parameters. Imported inside the task only (the
DAG file imports nothing but the Task SDK at parse time); not a DAG file.
"""

from __future__ import annotations


def schema_facet(schema):
    """A ``SchemaDatasetFacet`` of an Arrow schema: its columns in order, ``type`` = Arrow's name."""
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type)) for f in schema]
    )


def dataset(uri: str, schema):
    """The OpenLineage dataset Airflow's converters make of ``uri`` (None when no converter knows its
    scheme, e.g. ``s3://`` without the Amazon provider), with the schema facet of ``schema``."""
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset
    from openlineage.client.event_v2 import Dataset

    base = translate_airflow_asset(Asset(uri=uri), None)
    if base is None:
        return None
    return Dataset(namespace=base.namespace, name=base.name, facets={"schema": schema_facet(schema)})


def declare(task, source_uri: str, published_uri: str) -> bool:
    """Make ``task`` (the running operator) report the landing zone and the published articles,
    with their schemas, on completion. False when OpenLineage is not installed or a URI has no
    converter: the hook-lineage collector's datasets (no facets) are then what is emitted."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return False
    from pipeline.records import ARTICLE_SCHEMA, RAW_SCHEMA

    source, published = dataset(source_uri, RAW_SCHEMA), dataset(published_uri, ARTICLE_SCHEMA)
    if task is None or source is None or published is None:
        return False
    lineage = OperatorLineage(inputs=[source], outputs=[published])
    task.get_openlineage_facets_on_complete = lambda task_instance: lineage
    return True
