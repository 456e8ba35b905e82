"""The cache of served records stays within its size and never serves a record built before a mutation."""

from __future__ import annotations

from pipedrive_source.testing.record_cache import RecordCache


def numbered(record_id: int) -> dict:
    return {"id": record_id}


def test_the_least_recently_used_records_leave_first():
    cache = RecordCache(capacity=3)
    built = []

    def build(record_id: int) -> dict:
        built.append(record_id)
        return numbered(record_id)

    assert cache.records("deals", [1, 2, 3], build) == [numbered(1), numbered(2), numbered(3)]
    cache.records("deals", [1], build)  # 1 is now the most recently used
    cache.records("deals", [4], build)  # 2 leaves
    assert len(cache) == 3
    built.clear()
    assert cache.records("deals", [1, 3, 4, 2], build) == [numbered(i) for i in (1, 3, 4, 2)]
    assert built == [2]


def test_entities_do_not_share_entries():
    cache = RecordCache(capacity=10)
    cache.records("deals", [1], lambda i: {"id": i, "kind": "deal"})
    assert cache.records("persons", [1], lambda i: {"id": i, "kind": "person"}) == [
        {"id": 1, "kind": "person"}
    ]


def test_a_record_built_while_the_cache_was_cleared_is_not_kept():
    cache = RecordCache(capacity=10)

    def build_during_a_mutation(record_id: int) -> dict:
        cache.clear()
        return {"id": record_id, "version": "old"}

    cache.records("deals", [1], build_during_a_mutation)
    assert cache.records("deals", [1], lambda i: {"id": i, "version": "new"}) == [{"id": 1, "version": "new"}]
