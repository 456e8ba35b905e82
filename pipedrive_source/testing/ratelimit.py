"""Rate limits: Pipedrive's per-token burst windows (rolling 2 s) and per-company daily token budget, and the
Maton gateway's requests-per-second limit per API key (rolling 1 s).

Numbers from Pipedrive's rate-limiting docs (`tests/data/examples/rate_limits.json`): burst limits per plan
for API tokens and for OAuth tokens, 10 per 2 s for the search API, a daily budget of 30,000 tokens x plan
multiplier x seats.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass

BURST_WINDOW_SECONDS = 2.0
SEARCH_BURST_LIMIT = 10
BURST_LIMITS = {"Lite": (20, 80), "Growth": (40, 160), "Premium": (100, 400), "Ultimate": (120, 480)}
"""(API token, OAuth token) requests per rolling 2 seconds."""
PLAN_MULTIPLIERS = {"Lite": 1, "Growth": 2, "Premium": 5, "Ultimate": 7}
BASE_DAILY_TOKENS = 30_000


class LimitClock:
    """The clock the rolling windows read: the monotonic clock, unless a test freezes it.

    A frozen clock makes window arithmetic independent of how fast requests happen to be served (a slow
    machine or a garbage-collection pause must not move a request out of a 2-second window mid-test).
    """

    def __init__(self) -> None:
        self._frozen: float | None = None

    def __call__(self) -> float:
        frozen = self._frozen
        return time.monotonic() if frozen is None else frozen

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self) -> None:
        """Stop the clock at the current instant."""
        self._frozen = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Move a frozen clock forward.

        Raises:
            RuntimeError: when the clock is not frozen.
        """
        if self._frozen is None:
            raise RuntimeError("advance() needs a frozen clock: call freeze() first")
        self._frozen += seconds

    def resume(self) -> None:
        """Follow the monotonic clock again."""
        self._frozen = None


class SlidingWindow:
    """At most `limit` accepted events in any `window` seconds.

    Events may come slightly out of order (a request that arrived first can be handled second): they are
    kept sorted, and an event counts against the events of the `window` seconds up to its own time.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: list[float] = []

    def _in_window(self, now: float) -> tuple[int, int]:
        """The index range of the events in `(now - window, now]`, after dropping the long-expired ones."""
        # one window more is kept, for an event handled after a later one
        del self._events[: bisect.bisect_right(self._events, now - 2 * self.window)]
        return bisect.bisect_right(self._events, now - self.window), bisect.bisect_right(self._events, now)

    def try_hit(self, now: float) -> bool:
        low, high = self._in_window(now)
        if high - low >= self.limit:
            return False
        self._events.insert(high, now)
        return True

    def remaining(self, now: float) -> int:
        low, high = self._in_window(now)
        return max(0, self.limit - (high - low))

    def reset_in(self, now: float) -> int:
        """Whole seconds until the oldest event leaves the window (the window length when empty)."""
        low, high = self._in_window(now)
        if low == high:
            return math.ceil(self.window)
        return max(1, math.ceil(self._events[low] + self.window - now))


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]
    reason: str = ""
    retry_after: int = 0


class PipedriveLimits:
    """Burst windows per token and a daily token budget per company (account).

    Args:
        plan: the Pipedrive plan, which sets the burst limits and the budget.
        seats: paid seats (the budget scales with them).
        clock: the clock of the burst windows.
        enforce: False to count (the `x-ratelimit-*` headers go on counting down, to 0) but never refuse:
            for test suites that send more requests than a real account would accept.
    """

    def __init__(self, plan: str, seats: int, clock: LimitClock | None = None, enforce: bool = True) -> None:
        if plan not in BURST_LIMITS:
            raise ValueError(f"plan must be one of {', '.join(BURST_LIMITS)}")
        self.clock = clock or LimitClock()
        self.enforce = enforce
        self.api_token_limit, self.oauth_limit = BURST_LIMITS[plan]
        self.daily_budget = BASE_DAILY_TOKENS * PLAN_MULTIPLIERS[plan] * seats
        self._windows: dict[tuple[str, str], SlidingWindow] = {}
        self._spent: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def check(self, company: str, token: str, oauth: bool, cost: int, search: bool) -> Verdict:
        now = self.clock()
        day = int(time.time() // 86400)
        with self._lock:
            limit = self.oauth_limit if oauth else self.api_token_limit
            window = self._windows.setdefault((token, "all"), SlidingWindow(limit, BURST_WINDOW_SECONDS))
            spent_day, spent = self._spent.get(company, (day, 0))
            if spent_day != day:
                spent = 0
            headers = {
                "x-ratelimit-limit": str(limit),
                "x-daily-ratelimit-token-limit": str(self.daily_budget),
            }
            if spent + cost > self.daily_budget and self.enforce:
                headers.update(self._window_headers(window, now))
                headers["x-daily-ratelimit-token-remaining"] = str(max(0, self.daily_budget - spent))
                seconds_to_midnight = 86400 - int(time.time() % 86400)
                return Verdict(False, headers, "daily", seconds_to_midnight)
            allowed = window.try_hit(now)
            if allowed and search:
                search_window = self._windows.setdefault(
                    (token, "search"), SlidingWindow(SEARCH_BURST_LIMIT, BURST_WINDOW_SECONDS)
                )
                allowed = search_window.try_hit(now)
            headers.update(self._window_headers(window, now))
            if not allowed and self.enforce:
                headers["x-daily-ratelimit-token-remaining"] = str(self.daily_budget - spent)
                return Verdict(False, headers, "burst", window.reset_in(now))
            spent += cost
            self._spent[company] = (day, spent)
            headers["x-daily-ratelimit-token-remaining"] = str(max(0, self.daily_budget - spent))
            return Verdict(True, headers)

    @staticmethod
    def _window_headers(window: SlidingWindow, now: float) -> dict[str, str]:
        return {
            "x-ratelimit-remaining": str(window.remaining(now)),
            "x-ratelimit-reset": str(window.reset_in(now)),
        }


class KeyRateLimiter:
    """The Maton gateway limit: `rate` requests per rolling second per API key (None disables it)."""

    def __init__(self, rate: float | None, clock: LimitClock | None = None) -> None:
        self.rate = rate
        self.clock = clock or LimitClock()
        self._windows: dict[str, SlidingWindow] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, arrived: float | None = None) -> bool:
        """Whether a request of `key` arriving at `arrived` (None: now) is within the limit; counts it if so.

        A frozen clock (tests) is used rather than arrival times.
        """
        if not self.rate:
            return True
        now = self.clock() if arrived is None or self.clock.frozen else arrived
        with self._lock:
            window = self._windows.setdefault(key, SlidingWindow(max(1, int(self.rate)), 1.0))
            return window.try_hit(now)
