"""Import once, fork many: the heavy imports of a task, done ahead in a pre-forking host.

In:  nothing; importing this module is the whole effect.
Out: ``great_expectations`` (about 3 s of CPU to import), trafilatura, htmldate, the language
     model and the pipeline's stages loaded in this process, quiet.

An Airflow Celery worker forks a process for every task (Task SDK supervisor) from its pool
processes. Name this module in Celery's ``imports`` and every task starts with all of it in
memory (copy-on-write) instead of importing it again::

    AIRFLOW__CELERY__EXTRA_CELERY_CONFIG='{"imports": ["pipeline.preload"]}'

docker/compose.yaml and the distributed test set exactly that. Nothing here starts a thread,
opens a file or a connection, so forking after it is safe.
"""

from __future__ import annotations

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # as pipeline.validate does, before GX reads it

import gc  # noqa: E402
import logging  # noqa: E402

from . import run, validate  # noqa: E402,F401  (and through run: every stage)


def _quiet_gx() -> None:
    """GX's loggers at WARNING, as pipeline.validate sets them when it loads GX itself."""
    for name in ["great_expectations", *logging.root.manager.loggerDict]:
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)


_quiet_gx()
import great_expectations  # noqa: E402,F401
import great_expectations.expectations  # noqa: E402,F401

from .phases import warm  # noqa: E402,F401  (trafilatura, htmldate, the language model)

_quiet_gx()
# What is loaded stays shared with the forked tasks: collected once, then out of every later
# collection (a collection would otherwise touch, and so copy, the shared pages).
gc.collect()
gc.freeze()
