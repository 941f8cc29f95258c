"""Faults: kill points for the fault-injection tests, free when unused.

In:  ``NEWS_ETL_FAULT_AT`` (read once, at import), ``<phase>:<point>`` or ``<phase>:<point>#<n>``
     (the n-th time the point is reached), e.g. ``publish:after_swap`` or ``shard:task#3``.
Out: ``fault_point(name)`` kills this process with SIGKILL at that point: no cleanup handler,
     ``finally`` or atexit runs, as when a machine dies. Unset, it is one comparison.

``POINTS`` lists every point the code has, phase by phase (``tests/test_faults.py`` kills a run at
each of them and checks that the rerun loses nothing).
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "plan:after_list",
    "plan:after_write",
    "shard:task",
    "shard:before_summary",
    "shard:after_summary",
    "dedup:after_find",
    "dedup:redo",
    "validate:after_batches",
    "publish:before",
    "publish:after_build",
    "publish:after_swap",
    "publish:after_prune",
    "finalize:before_drop_staging",
    "report:before_write",
    "report:after_write",
)

# The points of ``news-etl migrate`` (``pipeline.migrate``; tests/test_migrate.py), apart: a run
# never reaches them.
MIGRATE_POINTS = ("migrate:before_publish", "migrate:after_date")

_AT = os.environ.get("NEWS_ETL_FAULT_AT") or None
_NAME, _, _NTH = (_AT or "").partition("#")
_COUNT = int(_NTH) if _NTH.isdigit() else 1
_seen = 0


def fault_point(name: str) -> None:
    if _AT is None:
        return
    if name == _NAME:
        global _seen
        _seen += 1
        if _seen >= _COUNT:
            os.kill(os.getpid(), signal.SIGKILL)
