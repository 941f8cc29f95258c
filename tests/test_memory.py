"""Memory: full collections come once enough rows went through frames, not after every small date."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pipeline.phases import memory


def test_a_full_collection_is_due_every_10000_rows_not_after_each_small_date(monkeypatch):
    monkeypatch.setattr(memory, "_rows_since_collect", 0)
    assert [memory.collection_due(6) for _ in range(3)] == [False, False, False]  # small dates
    assert memory.collection_due(memory.COLLECT_EVERY_ROWS - 19) is False
    assert memory.collection_due(1) is True  # 10,000 rows since the last one
    assert memory.collection_due(1) is False  # the count starts again
    assert memory.collection_due(50_000) is True  # one large date


def test_importing_frees_the_garbage_made_meanwhile_and_freezes_what_lives_in_our_own_process():
    """The collector is off during the import and back on after it. In a caller's process nothing
    is frozen; in our own (the news-etl command), a cycle that became garbage meanwhile is freed
    (not frozen for the process's life) and what is alive is frozen, so that a later full
    collection skips it. In a child process: freezing is for the whole process."""
    code = textwrap.dedent(
        """
        import gc, weakref
        from pipeline.phases import memory

        class Node:
            pass

        kept = Node(); kept.self = kept
        with memory.importing():
            pass
        print(gc.get_freeze_count())  # a caller's process: nothing frozen
        memory.own_process()
        before = gc.get_freeze_count()
        with memory.importing():
            during = gc.isenabled()
            lost = Node(); lost.self = lost
            gone = weakref.ref(lost)
            del lost
        print(during, gc.isenabled(), gone() is None, gc.get_freeze_count() > before, any(o is kept for o in gc.get_objects()))
        gc.disable()
        with memory.importing():
            pass
        print(gc.isenabled())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    # kept is frozen: out of the generations a collection walks (and gc.get_objects lists)
    assert out == ["0", "False", "True", "True", "True", "False", "False"]
