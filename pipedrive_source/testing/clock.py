"""Simulated time: a fixed reference instant for generated data, the wall clock for mutations.

Generated records get add/update times spread over the ~4 years before `REFERENCE_INSTANT`, so the data are
identical on every run. Mutations (create, update, delete) use the current wall-clock second, which is never
earlier than the reference instant, so a mutated record always sorts after every generated one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache

REFERENCE_INSTANT = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp())
"""2026-11-01T00:00:00Z: every generated time is strictly before it."""

HISTORY_SECONDS = 4 * 365 * 24 * 3600
"""Generated records were added during the 4 years before the reference instant."""

HISTORY_START = REFERENCE_INSTANT - HISTORY_SECONDS

DAY = 24 * 3600


_mutation = threading.local()


def now_second() -> int:
    """The current UTC second, never before the reference instant (inside `one_instant()`: its second)."""
    frozen: int | None = getattr(_mutation, "second", None)
    return frozen if frozen is not None else max(int(time.time()), REFERENCE_INSTANT)


@contextmanager
def one_instant() -> Iterator[int]:
    """Hold the current second for this thread: everything one mutation writes (update time, stage change
    time, its flow entries) carries the same second."""
    if getattr(_mutation, "second", None) is not None:
        yield _mutation.second
        return
    _mutation.second = now_second()
    try:
        yield _mutation.second
    finally:
        _mutation.second = None


@lru_cache(maxsize=16384)
def _day(day_number: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day_number * DAY))


_HOURS_MINUTES = tuple(f"T{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
_SECONDS = tuple(f"{second:02d}Z" for second in range(60))


def rfc3339(ts: int | None) -> str | None:
    """API v2 time format, e.g. `2024-01-01T10:20:00Z`."""
    if ts is None:
        return None
    day_number, second = divmod(ts, DAY)
    minute, second = divmod(second, 60)
    return _day(day_number) + _HOURS_MINUTES[minute] + _SECONDS[second]


def rfc3339_millis(ts: int | None) -> str | None:
    """The leads API time format, e.g. `2024-01-01T10:20:00.000Z`."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def v1_time(ts: int | None) -> str | None:
    """API v1 time format (UTC), e.g. `2024-01-01 10:20:00`."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def iso_date(ts: int | None) -> str | None:
    """A calendar date, e.g. `2024-01-01`."""
    if ts is None:
        return None
    return _day(ts // DAY)


def parse_time(text: str) -> int:
    """Parse an RFC3339 time (`Z` or offset, optional fraction) or a v1 `YYYY-MM-DD HH:MM:SS` (UTC).

    Raises:
        ValueError: when the text is neither.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if len(value) == 10:
        value += "T00:00:00+00:00"
    parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    # A fraction of a second still counts from its whole second: bounds compare against whole seconds.
    return int(parsed.timestamp() // 1)


def parse_date(text: str) -> int:
    """Parse `YYYY-MM-DD` to the epoch second of its midnight UTC.

    Raises:
        ValueError: when the text is not a date.
    """
    return int(datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())
