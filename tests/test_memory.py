"""Memory: full collections come once enough rows went through frames, not after every small date."""

from __future__ import annotations

from pipeline.phases import memory


def test_a_full_collection_is_due_every_10000_rows_not_after_each_small_date(monkeypatch):
    monkeypatch.setattr(memory, "_rows_since_collect", 0)
    assert [memory.collection_due(6) for _ in range(3)] == [False, False, False]  # small dates
    assert memory.collection_due(memory.COLLECT_EVERY_ROWS - 19) is False
    assert memory.collection_due(1) is True  # 10,000 rows since the last one
    assert memory.collection_due(1) is False  # the count starts again
    assert memory.collection_due(50_000) is True  # one large date
