"""news-etl: a batch ETL for news corpora.

Article files in (any encoding, plain text today), clean, validated, hive-partitioned Parquet out.

The package is a plain library: it never imports Airflow. ``pipeline.run.run`` is the one entry
point that the CLI (``pipeline.cli``) and the Airflow DAGs (``dags/``) call. One module per stage:

    fetch -> decode -> parse -> clean -> dates -> metadata -> validate -> write

each opening with a docstring that says what goes in and what comes out.
"""

__version__ = "0.1.0"
