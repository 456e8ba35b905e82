"""Behaviour on demand: latency, periodic errors, dropped connections, 429s, `success: false`, the HTML 403.

Faults apply to Pipedrive's answers (direct layer and, passed through, the Maton layer), after authentication.
Periodic faults count the requests since the fault was set: `error_every(3)` fails the 3rd, 6th, 9th, ...
request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    kind: str
    """error | drop | burst_429 | daily_budget | success_false | html_403"""
    status: int = 0
    retry_after: int = 0


class _Every:
    def __init__(self, n: int, status: int = 0) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        self.n = n
        self.status = status
        self.count = 0

    def tick(self) -> bool:
        self.count += 1
        return self.count % self.n == 0


class Faults:
    """Fault switches of a running simulator (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency = 0.0
        """Seconds added to every request (all layers)."""
        self._error: _Every | None = None
        self._drop: _Every | None = None
        self._success_false: _Every | None = None
        self._burst_left = 0
        self._burst_retry_after = 2
        self._daily_retry_after: int | None = None
        self._html_403 = False

    def error_every(self, n: int, status: int = 500) -> None:
        """Every n-th request answers `status` with Pipedrive's error body."""
        with self._lock:
            self._error = _Every(n, status)

    def drop_every(self, n: int) -> None:
        """Every n-th request: the connection is closed half-way through the response body."""
        with self._lock:
            self._drop = _Every(n)

    def burst_429(self, count: int, retry_after: int = 2) -> None:
        """The next `count` requests answer a burst-limit 429 with `Retry-After`."""
        with self._lock:
            self._burst_left = count
            self._burst_retry_after = retry_after

    def daily_budget_exhausted(self, retry_after: int = 3939) -> None:
        """Every request answers the daily-budget 429 (until `clear()`)."""
        with self._lock:
            self._daily_retry_after = retry_after

    def success_false_every(self, n: int) -> None:
        """Every n-th request answers 200 with `{"success": false, ...}`."""
        with self._lock:
            self._success_false = _Every(n)

    def html_403(self) -> None:
        """Every request answers the HTML 403 page of a blocked client (until `clear()`)."""
        with self._lock:
            self._html_403 = True

    def clear(self) -> None:
        """Switch every fault off, latency included."""
        with self._lock:
            self.latency = 0.0
            self._error = self._drop = self._success_false = None
            self._burst_left = 0
            self._daily_retry_after = None
            self._html_403 = False

    def next_fault(self) -> Fault | None:
        """The fault for the next Pipedrive request, advancing the periodic counters."""
        with self._lock:
            # Every periodic counter advances on every request, so each keeps its own period.
            error = self._error.tick() if self._error else False
            success_false = self._success_false.tick() if self._success_false else False
            drop = self._drop.tick() if self._drop else False
            if self._html_403:
                return Fault("html_403", 403)
            if self._daily_retry_after is not None:
                return Fault("daily_budget", 429, self._daily_retry_after)
            if self._burst_left > 0:
                self._burst_left -= 1
                return Fault("burst_429", 429, self._burst_retry_after)
            if error and self._error is not None:
                return Fault("error", self._error.status)
            if success_false:
                return Fault("success_false", 200)
            if drop:
                return Fault("drop", 200)
            return None
