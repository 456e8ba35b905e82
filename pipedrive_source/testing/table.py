"""One entity's records in one account: compact arrays for the generated records, an overlay for mutations.

Generated records are never kept as dicts: per id the table holds only its add and update times, a deleted
flag and a few integer attributes used by list filters (owner, stage, person, ...); the full record is built
on demand from (seed, entity, id). Created and updated records live in `overlay` as dicts. Update-time order
is a sorted array of `(update second, id)` keys for the generated records plus a short sorted `tail` of
mutated ones: a mutation always happens at or after the reference instant, so the tail sorts after every
generated record.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Callable, Iterator
from typing import Any

from pipedrive_source.testing.clock import HISTORY_START

_EPOCH = HISTORY_START - 366 * 24 * 3600
_ID_BITS = 32
_ID_MASK = (1 << _ID_BITS) - 1

Record = dict[str, Any]


def order_key(value: int, record_id: int) -> int:
    """A sortable integer for (value, id): value-major, id-minor."""
    return ((value - _EPOCH) << _ID_BITS) | record_id


def key_value(key: int) -> int:
    return (key >> _ID_BITS) + _EPOCH


class EntityTable:
    """The records of one entity.

    Args:
        name: the entity name as in API paths (`deals`, `persons`, ...).
        attrs: integer attributes kept per id for filtering (0 stands for none).
        builder: builds the full record of a generated id.
        extra_orders: other sort keys (`due_date`, ...) as functions of an id, indexed on first use.
    """

    def __init__(
        self,
        name: str,
        attrs: tuple[str, ...],
        builder: Callable[[int], Record],
        extra_orders: dict[str, Callable[[int], int]] | None = None,
    ) -> None:
        self.name = name
        self.lock = threading.RLock()
        self.add_ts = array("q")
        self.update_ts = array("q")
        self.deleted = bytearray()
        self.attrs: dict[str, array[int]] = {a: array("q") for a in attrs}
        self.builder = builder
        self.extra_orders = extra_orders or {}
        self.base_count = 0
        self._base_index: array[int] | None = None
        self.mutated: set[int] = set()
        self.tail: list[int] = []
        self.overlay: dict[int, Record] = {}
        self.version = 0
        self.live = 0
        self._extra_index: dict[str, tuple[int, list[int]]] = {}

    # -- generation -----------------------------------------------------------------------------------------
    def append_generated(self, add_ts: int, update_ts: int, deleted: bool, **attrs: int) -> None:
        self.add_ts.append(add_ts)
        self.update_ts.append(update_ts)
        self.deleted.append(1 if deleted else 0)
        for name, values in self.attrs.items():
            values.append(attrs.get(name, 0))

    def finish_generation(self) -> None:
        """Freeze the generated records; the update-time index is built on first use."""
        self.base_count = len(self.update_ts)
        self.live = self.base_count - self.deleted.count(1)

    def index_update_times(self) -> None:
        """Sort the update-time index now rather than on the first list sorted by `update_time`."""
        self._update_index()

    def _update_index(self) -> array[int]:
        """The generated records' `(update second, id)` keys, sorted (sorting millions takes a second or
        two)."""
        if self._base_index is None:
            with self.lock:
                if self._base_index is None:
                    update_ts = self.update_ts
                    keys = sorted(
                        ((update_ts[i] - _EPOCH) << _ID_BITS) | (i + 1) for i in range(self.base_count)
                    )
                    self._base_index = array("q", keys)
        return self._base_index

    # -- reading ---------------------------------------------------------------------------------------------
    @property
    def max_id(self) -> int:
        return len(self.update_ts)

    def exists(self, record_id: int) -> bool:
        return 1 <= record_id <= len(self.update_ts)

    def is_deleted(self, record_id: int) -> bool:
        return bool(self.deleted[record_id - 1])

    def attr(self, name: str, record_id: int) -> int:
        return self.attrs[name][record_id - 1]

    def get(self, record_id: int) -> Record | None:
        """The record (shared, do not modify), or None when the id does not exist."""
        if not 1 <= record_id <= len(self.update_ts):
            return None
        record = self.overlay.get(record_id)
        if record is not None:
            return record
        return self.builder(record_id)

    def ordered_ids(
        self,
        sort_by: str = "id",
        descending: bool = False,
        after: tuple[int, int] | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> Iterator[int]:
        """Ids in (sort value, id) order, strictly after the `after` position, updated in [since, until)."""
        if sort_by in ("id", "add_time"):
            # ids are handed out in creation order, so add-time order is id order
            yield from self._by_id(descending, after[1] if after else None, since, until)
        elif sort_by == "update_time":
            yield from self._by_update(descending, after, since, until)
        else:
            yield from self._by_extra(sort_by, descending, after, since, until)

    def _by_id(
        self, descending: bool, after_id: int | None, since: int | None, until: int | None
    ) -> Iterator[int]:
        top = len(self.update_ts)
        if descending:
            ids: range = range(min(after_id - 1, top) if after_id is not None else top, 0, -1)
        else:
            ids = range((after_id or 0) + 1, top + 1)
        if since is None and until is None:
            yield from ids
            return
        update_ts = self.update_ts
        low = since if since is not None else -(1 << 62)
        high = until if until is not None else 1 << 62
        for record_id in ids:
            if low <= update_ts[record_id - 1] < high:
                yield record_id

    def _by_update(
        self, descending: bool, after: tuple[int, int] | None, since: int | None, until: int | None
    ) -> Iterator[int]:
        low_key = order_key(since, 0) if since is not None else None
        high_key = order_key(until, 0) if until is not None else None
        after_key = order_key(*after) if after is not None else None
        base = self._update_index()
        tail = list(self.tail)
        mutated = self.mutated
        if not descending:
            lo = 0
            if after_key is not None:
                lo = bisect.bisect_right(base, after_key)
            if low_key is not None:
                lo = max(lo, bisect.bisect_left(base, low_key))
            hi = bisect.bisect_left(base, high_key) if high_key is not None else len(base)
            for i in range(lo, hi):
                record_id = base[i] & _ID_MASK
                if record_id not in mutated:
                    yield record_id
            for key in tail:
                if (after_key is None or key > after_key) and (low_key is None or key >= low_key):
                    if high_key is not None and key >= high_key:
                        break
                    yield key & _ID_MASK
            return
        for key in reversed(tail):
            if (after_key is None or key < after_key) and (high_key is None or key < high_key):
                if low_key is not None and key < low_key:
                    return
                yield key & _ID_MASK
        hi = len(base)
        if after_key is not None:
            hi = bisect.bisect_left(base, after_key)
        if high_key is not None:
            hi = min(hi, bisect.bisect_left(base, high_key))
        lo = bisect.bisect_left(base, low_key) if low_key is not None else 0
        for i in range(hi - 1, lo - 1, -1):
            record_id = base[i] & _ID_MASK
            if record_id not in mutated:
                yield record_id

    def _by_extra(
        self,
        sort_by: str,
        descending: bool,
        after: tuple[int, int] | None,
        since: int | None,
        until: int | None,
    ) -> Iterator[int]:
        keys = self._extra_keys(sort_by)
        if after is None:
            start = len(keys) - 1 if descending else 0
        elif descending:
            start = bisect.bisect_left(keys, order_key(*after)) - 1
        else:
            start = bisect.bisect_right(keys, order_key(*after))
        positions = range(start, -1, -1) if descending else range(start, len(keys))
        update_ts = self.update_ts
        for i in positions:
            record_id = keys[i] & _ID_MASK
            ts = update_ts[record_id - 1]
            if (since is None or ts >= since) and (until is None or ts < until):
                yield record_id

    def _extra_keys(self, sort_by: str) -> list[int]:
        cached = self._extra_index.get(sort_by)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        value_of = self.extra_orders[sort_by]
        keys = sorted(order_key(value_of(i), i) for i in range(1, len(self.update_ts) + 1))
        self._extra_index[sort_by] = (self.version, keys)
        return keys

    def sort_value(self, sort_by: str, record_id: int) -> int:
        """The integer sort value of a record, for cursors."""
        if sort_by == "update_time":
            return self.update_ts[record_id - 1]
        if sort_by == "add_time":
            return self.add_ts[record_id - 1]
        if sort_by == "id":
            return record_id
        return self.extra_orders[sort_by](record_id)

    # -- writing ---------------------------------------------------------------------------------------------
    def put(
        self, record_id: int, record: Record, update_ts: int, deleted: bool, attrs: dict[str, int]
    ) -> None:
        """Store a created (id = max_id + 1) or changed record, moving it to its new update-time position."""
        with self.lock:
            if record_id == len(self.update_ts) + 1:
                self.append_generated(update_ts, update_ts, deleted, **attrs)
                self.live += 0 if deleted else 1
            elif self.exists(record_id):
                index = record_id - 1
                old_key = order_key(self.update_ts[index], record_id)
                if record_id > self.base_count or record_id in self.mutated:
                    position = bisect.bisect_left(self.tail, old_key)
                    if position < len(self.tail) and self.tail[position] == old_key:
                        del self.tail[position]
                else:
                    self.mutated.add(record_id)
                self.update_ts[index] = update_ts
                was_deleted = self.deleted[index]
                self.deleted[index] = 1 if deleted else 0
                self.live += int(was_deleted) - int(deleted)
                for name, value in attrs.items():
                    self.attrs[name][index] = value
            else:
                raise KeyError(record_id)
            bisect.insort(self.tail, order_key(update_ts, record_id))
            self.overlay[record_id] = record
            self.version += 1
