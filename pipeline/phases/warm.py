"""Warm: what a worker of the pool needs, loaded once in the process it is forked from.

In:  nothing; importing this module is the whole effect.
Out: the stages of an article (``phases.tasks`` and all it imports), trafilatura, htmldate and
     courlan, and py3langid's language model loaded, in this process.

The pool's workers are forked from a forkserver (``phases.pool``), which imports this module
first: each worker then starts with all of it in memory (copy-on-write) instead of importing the
stages (0.3 s) and loading the language model (0.8 s) itself. ``pipeline.preload`` does the same,
with Great Expectations, for a pre-forking Celery worker. Nothing here opens a file or a
connection; the threads the imports start (jemalloc's in pyarrow, OpenBLAS's in numpy) are ones
those libraries fork safely. The forkserver lives as long as the process that started it, with
about 165 MB resident (against 14 MB without this module), shared with its workers.
"""

from __future__ import annotations

import logging

import courlan  # noqa: F401  (steps: the host name of a page's URL)
import htmldate  # noqa: F401
import trafilatura  # noqa: F401

from ..metadata import detect_language
from . import tasks  # noqa: F401  (and through it: every stage of an article)

# The language model (py3langid) loads on first use: use it once, on text no fast path takes.
# A failure here must only cost speed: an exception other than ImportError would end the
# forkserver, and with it every pool of the process. Each worker then meets it on first use.
try:
    detect_language("Questo testo è scritto in italiano, per caricare il modello una volta sola.")
except Exception as exc:  # noqa: BLE001
    logging.getLogger("news_etl").warning("could not load the language model ahead of the workers: %s", exc)
