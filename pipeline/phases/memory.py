"""Memory: give what a phase freed back to the system, so that a long run's peak stays flat."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import pyarrow as pa

_libc: object = None
# A full collection costs 0.1 to 0.4 s with GX loaded (a millisecond where its import is frozen,
# see ``importing``): worth it once enough rows went through frames since the last one.
COLLECT_EVERY_ROWS = 10_000
_rows_since_collect = 0


def collection_due(rows: int) -> bool:
    """Count ``rows`` more rows through frames; whether a full ``gc.collect`` is due (then the
    count starts again)."""
    global _rows_since_collect
    _rows_since_collect += rows
    if _rows_since_collect < COLLECT_EVERY_ROWS:
        return False
    _rows_since_collect = 0
    return True


# Whether ``importing`` freezes what the process holds after the import: only in a process
# news-etl owns (the ``news-etl`` command, a pre-forking Celery host), never in a caller's own
# (a notebook's objects alive at that moment would never be collected if they became cyclic
# garbage later, and ``gc.get_referrers`` no longer sees frozen objects). ``own_process`` sets it.
_freeze_after_import = False


def own_process() -> None:
    """Declare this process news-etl's own: ``importing`` then freezes after the import."""
    global _freeze_after_import
    _freeze_after_import = True


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """Import a large package (Great Expectations) without Python's cyclic collector. It would
    otherwise run dozens of times during the import over objects that live as long as the
    process (classes, pydantic models, registries): 0.3-0.8 s of GX's 1-2 s import on this
    machine kind.

    In a process of our own (``own_process``), one full collection then frees the garbage made
    meanwhile (by the import, and by another thread: freezing it would keep it, 90 MB more at
    the peak of a 20,000-article run) and ``gc.freeze`` leaves every object alive out of all later
    collections: a full collection costs about a millisecond instead of 0.1-0.2 s, the collector's
    time over 20,000 articles 0.32 s instead of 0.76 s. Frozen objects are still freed by
    reference counting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if _freeze_after_import:  # (not after a failed import)
            gc.collect()
            gc.freeze()
    finally:
        if enabled:
            gc.enable()


def release_memory(collect: bool = False) -> None:
    """Give freed memory back to the system between chunks: Arrow's pool keeps what it freed,
    and glibc's heap keeps freed blocks below its top, so a long run's peak would creep up with
    every chunk's temporary tables and frames. A few milliseconds a call.

    ``collect``: first free the garbage held in reference cycles (a full ``gc.collect``: a
    millisecond where GX's import is frozen, 0.1 to 0.4 s elsewhere). GX's validation results
    and Data Docs rendering leave cycles that hold a date's pandas frame and its Arrow columns;
    with some 300,000 long-lived objects in the process, Python's own full collections come
    seldom, so without this the frames of several dates piled up (38 MB more Arrow memory after
    validating 6 dates than after 2)."""
    global _libc
    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    if _libc is None:
        import ctypes
        import ctypes.util

        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to trim
            _libc = False
    if _libc:
        _libc(0)
