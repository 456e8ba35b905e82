"""Recently served generated records, so that a page read again is not built again.

Generated records are rebuilt from (seed, entity, id) on every read, which is most of the cost of a list page.
The cache keeps the most recently used ones, up to a number of records, so memory stays bounded whatever the
account's size. A generated record also shows data of other records (a deal title carries its organization's
name), so every mutation of the account empties the cache; a generation number keeps a record built before a
mutation from being stored after it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from pipedrive_source.testing.table import Record

DEFAULT_CAPACITY = 10_000
"""Records kept per account: about 35 MB of deals."""


class RecordCache:
    """A least-recently-used map of (entity, id) to a generated record (shared: never modify one)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, int], Record] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def records(self, entity: str, ids: Sequence[int], build: Callable[[int], Record]) -> list[Record]:
        """The generated record of each id, from the cache or built with `build(id)` (and then cached)."""
        entries = self._entries
        with self._lock:
            generation = self._generation
            found: list[Record | None] = []
            for record_id in ids:
                key = (entity, record_id)
                record = entries.get(key)
                if record is not None:
                    entries.move_to_end(key)
                found.append(record)
        missing = [index for index, record in enumerate(found) if record is None]
        if not missing:
            return found  # type: ignore[return-value]
        for index in missing:
            found[index] = build(ids[index])
        with self._lock:
            if generation == self._generation:
                for index in missing:
                    entries[(entity, ids[index])] = found[index]  # type: ignore[assignment]
                for _ in range(len(entries) - self.capacity):
                    entries.popitem(last=False)
        return found  # type: ignore[return-value]
