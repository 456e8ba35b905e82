"""What a run has read and spent: requests, API tokens and records per resource, and why it stopped early.

The client counts into a `RunUsage`; a `Progress` display (a log line every few seconds, or tqdm bars) shows
it while the run goes on. Wrap a run in `track_usage()` to get its usage back:

    with track_usage() as usage:
        pipeline.run(pipedrive_source())
    usage.stop_reason, usage.by_resource()
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO


@dataclass(frozen=True)
class ResourceUsage:
    """The counts of one resource (or of the whole run)."""

    requests: int = 0
    tokens: int = 0
    records: int = 0

    def __add__(self, other: ResourceUsage) -> ResourceUsage:
        return ResourceUsage(
            self.requests + other.requests, self.tokens + other.tokens, self.records + other.records
        )


class Progress(Protocol):
    """Shows a run's usage while it goes on; called from any thread, under the usage's lock."""

    def update(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None: ...

    def close(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None: ...


class RunUsage:
    """Requests, tokens and records per resource of one run, and the reason it stopped early if it did.

    Thread-safe: every resource and window thread of a run counts into the same object.
    """

    def __init__(
        self,
        progress: Progress | None = None,
        token_cap: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.progress = progress
        self.token_cap = token_cap
        """A cap on the run's API tokens that overrides `sources.pipedrive.max_tokens_per_run`."""
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._resources: dict[str, ResourceUsage] = {}
        self._stop_reason: str | None = None
        self.daily_tokens_left: int | None = None
        """Pipedrive's `x-daily-ratelimit-token-remaining` of the latest answer, when it sends one."""

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped before reading everything (one paragraph), or None."""
        return self._stop_reason

    def stop(self, reason: str) -> bool:
        """Record that the run stops early; the first reason wins. True if this call stopped it."""
        with self._lock:
            if self._stop_reason is not None:
                return False
            self._stop_reason = reason
            return True

    def count_request(self, resource: str, tokens: int) -> None:
        self._add(resource, ResourceUsage(requests=1, tokens=tokens))

    def count_records(self, resource: str, records: int) -> None:
        self._add(resource, ResourceUsage(records=records))

    @property
    def tokens(self) -> int:
        with self._lock:
            return sum(usage.tokens for usage in self._resources.values())

    def by_resource(self) -> dict[str, ResourceUsage]:
        """A snapshot of the counts per resource, sorted by name."""
        with self._lock:
            return dict(sorted(self._resources.items()))

    def total(self) -> ResourceUsage:
        return sum(self.by_resource().values(), ResourceUsage())

    def close(self) -> None:
        """Show the final counts."""
        if self.progress is not None:
            with self._lock:
                self.progress.close(dict(sorted(self._resources.items())), self.elapsed)

    def _add(self, resource: str, counts: ResourceUsage) -> None:
        with self._lock:
            self._resources[resource] = self._resources.get(resource, ResourceUsage()) + counts
            if self.progress is not None:
                self.progress.update(self._resources, self.elapsed)


class LogProgress:
    """One line every `period` seconds: records, requests and tokens of each resource."""

    def __init__(self, period: float = 5.0, stream: TextIO | None = None) -> None:
        self.period = period
        self.stream = stream
        self._last_shown: float | None = None

    def update(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        if self._last_shown is None or elapsed - self._last_shown >= self.period:
            self._last_shown = elapsed
            self._write(usage, elapsed)

    def close(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        self._write(usage, elapsed)

    def _write(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        parts = [
            f"{name} {counts.records:,} records/{counts.requests:,} requests"
            for name, counts in sorted(usage.items())
        ]
        stream = self.stream or sys.stderr
        stream.write(f"[{elapsed:6.1f} s] {' | '.join(parts)}\n")
        stream.flush()


class TqdmProgress:
    """A tqdm bar per resource counting records, with its requests and tokens beside it."""

    def __init__(self, **tqdm_options: Any) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._options = {"unit": " records", "leave": True, **tqdm_options}
        self._bars: dict[str, Any] = {}

    def update(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        for name, counts in usage.items():
            bar = self._bars.get(name)
            if bar is None:
                bar = self._bars[name] = self._tqdm(desc=name, **self._options)
            if bar.n != counts.records:
                bar.update(counts.records - bar.n)
            bar.set_postfix_str(f"{counts.requests} requests, {counts.tokens} tokens", refresh=False)

    def close(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        self.update(usage, elapsed)
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


PROGRESS: Mapping[str, Callable[[], Progress | None]] = {
    "log": LogProgress,
    "tqdm": TqdmProgress,
    "none": lambda: None,
}
"""The `--progress` choices."""


_tracked: list[RunUsage] = []
_tracked_lock = threading.Lock()


def current_usage() -> RunUsage | None:
    """The usage of the innermost `track_usage()` block, if any."""
    with _tracked_lock:
        return _tracked[-1] if _tracked else None


@contextlib.contextmanager
def track_usage(progress: Progress | None = None, token_cap: int | None = None) -> Iterator[RunUsage]:
    """Count into one `RunUsage` everything the clients created inside the block read and spend.

    Args:
        progress: shows the counts while the run goes on.
        token_cap: stop the run cleanly once it has spent this many API tokens (overrides
            `sources.pipedrive.max_tokens_per_run`).
    """
    usage = RunUsage(progress, token_cap)
    with _tracked_lock:
        _tracked.append(usage)
    try:
        yield usage
    finally:
        with _tracked_lock:
            _tracked.remove(usage)
        usage.close()


__all__ = [
    "PROGRESS",
    "LogProgress",
    "Progress",
    "ResourceUsage",
    "RunUsage",
    "TqdmProgress",
    "current_usage",
    "track_usage",
]
