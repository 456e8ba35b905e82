"""One pace per Pipedrive account: a client-side requests/second limit and a slow-down read from the headers.

Every request of a run, from every resource and thread, retries included, goes through the `AccountLimiter` of
its account (base URL + credential + Maton connection). It takes a slot of its key's `Pace`, which enforces
the Maton gateway's 10 requests/second with a `pyrate-limiter` bucket (Maton counts them per API key, so every
connection of a key shares one pace; each slot counts from when its request left, `sent_at`), and pauses
every thread when Pipedrive's burst window
(`x-ratelimit-*`, rolling 2 s, per company) is about to run out, so the connector slows down before a 429
rather than after.
Limits: https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting and the Maton gateway's docs.
"""

# No `from __future__ import annotations`: dlt reads the configspec's annotations at run time.
import bisect
import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.specs import BaseConfiguration
from pyrate_limiter import InMemoryBucket, Rate, RateItem
from pyrate_limiter.clocks import AbstractClock
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from pipedrive_source.errors import ConfigurationError, Layer, parse_retry_after
from pipedrive_source.sent_at import STAMPED_POOLS, sending
from pipedrive_source.turns import Turns

MATON_REQUESTS_PER_SECOND = 10.0
"""The Maton gateway's limit per account; it answers 429 above it."""

BURST_WINDOW_SECONDS = 2.0
"""Pipedrive's burst limit window, used when `x-ratelimit-reset` is missing."""

LONGEST_PAUSE_SECONDS = 60.0
"""A 429 asking to wait longer is the daily budget: the run stops instead of pausing."""

SAFETY_MARGIN = 0.05
"""Requests are spaced 5% wider than the limit (any ten in a row span 1.05 s): the gateway counts them when
they arrive, and the network delays some more than others. Slots count from when their request left
(`sent_at`), so what the margin covers is the way to the gateway, not the client's own delays. 5% gave no
429 in the rate-limited benchmark (`benchmarks/`); every 429 that still gets through widens it (below)."""

MAX_SAFETY_MARGIN = 0.5
"""Each 429 that still gets through widens the margin by `SAFETY_MARGIN`, up to this."""

CALM_REQUESTS = 6000
"""After this many requests without a 429 (10 minutes at 10/s) a widened margin narrows back by one step, so
that a long-lived process (an Airflow or Dagster worker loading night after night) does not keep one busy
night's margin forever. Not sooner: narrowing back after 600 requests, the rate-limited 1,000,000-deal
benchmark drew four 429s (one without narrowing back) and took about as long (1.23 x the bound, against
1.24)."""


@configspec
class ReadSettings(BaseConfiguration):
    """How fast and how much a run reads (`sources.pipedrive.*`, env `SOURCES__PIPEDRIVE__*`).

    Attributes:
        requests_per_second: the client-side limit per account; default 10 through Maton (its limit) and
            none directly (Pipedrive's burst headers still pace the run); 0 turns it off.
        max_tokens_per_run: stop the run cleanly once it has spent this many API tokens (none by default).
        parallel_windows: on a full load, read a large v2 list as up to this many `update_time` windows in
            parallel; 1 reads every list as one sequential chain.
    """

    requests_per_second: float | None = None
    max_tokens_per_run: int | None = None
    parallel_windows: int = 8

    def on_resolved(self) -> None:
        for setting, value, lowest in (
            ("requests_per_second", self.requests_per_second, 0),
            ("max_tokens_per_run", self.max_tokens_per_run, 1),
            ("parallel_windows", self.parallel_windows, 1),
        ):
            if value is not None and value < lowest:
                raise ConfigurationError(_SETTING_FIXES[setting].format(value=value))

    def rate_for(self, layer: Layer) -> float | None:
        """The requests/second limit that applies to `layer`, or None for no limit."""
        if self.requests_per_second is None:
            return MATON_REQUESTS_PER_SECOND if layer == "maton" else None
        return self.requests_per_second if self.requests_per_second > 0 else None


_SETTING_FIXES = {
    "requests_per_second": (
        "sources.pipedrive.requests_per_second is {value!r}: set a number of requests per second (10 is the "
        "Maton gateway's limit; 0 turns the client-side limit off), or leave it unset for the default."
    ),
    "max_tokens_per_run": (
        "sources.pipedrive.max_tokens_per_run is {value!r}: set a whole number of API tokens of at least 1, "
        "or leave it unset for no cap."
    ),
    "parallel_windows": (
        "sources.pipedrive.parallel_windows is {value!r}: set a whole number of at least 1 (1 reads every "
        "list as one chain), or leave it unset for the default of 8."
    ),
}


def resolve_read_settings() -> ReadSettings:
    """`ReadSettings` from dlt config (`sources.pipedrive.*`).

    Raises:
        ConfigurationError: a setting is not a number or out of range; the message says what to set.
    """
    try:
        return resolve_configuration(ReadSettings(), sections=("sources", "pipedrive"))
    except ConfigValueCannotBeCoercedException as exc:
        raise ConfigurationError(_SETTING_FIXES[exc.field_name].format(value=exc.field_value)) from None


MICROSECONDS_PER_SECOND = 1_000_000
"""The unit of the pace's bucket (`MicrosecondClock`)."""

SHORTEST_INTERVAL = 0.8
"""Two requests are never closer than this share of the plain interval (80 ms at 10/s): no bursts."""


def spacing(requests_per_second: float, margin: float) -> list[Rate]:
    """`requests_per_second` less `margin` over a window of about a second, and never two requests closer
    than `SHORTEST_INTERVAL` of the plain interval.

    No bursts: a burst's requests compete for the CPU and reach the gateway in a different order and
    spread than they were sent. The window rather than a fixed interval sets the pace: a thread wakes a few
    ms after its slot (the operating system, the GIL), and with a fixed interval every late slot pushed
    back every slot after it, which cost 5% of the pace (110 ms between requests instead of 105 in the
    rate-limited 200,000-deal benchmark). Under the window, a slot after a late one comes a little sooner,
    and any ten requests in a row still span a second and the margin.
    """
    per_request = MICROSECONDS_PER_SECOND / requests_per_second
    window = max(2, round(requests_per_second))
    return [
        Rate(1, max(1, round(per_request * SHORTEST_INTERVAL))),
        Rate(window, max(1, round(window * per_request * (1 + margin)))),
    ]


def retry_pause(status: int | None, headers: Mapping[str, str]) -> float:
    """Seconds every request of the account should wait after a 429 (0: none; also for the daily budget)."""
    if status != 429:
        return 0.0
    wait = parse_retry_after(headers.get("retry-after"))
    if wait is None:
        return BURST_WINDOW_SECONDS
    return wait if wait <= LONGEST_PAUSE_SECONDS else 0.0


ROOM_BEFORE_THE_FIRST_ANSWER = 1
"""Requests sent before any answer has said how much room the burst window has, besides the one that finds
out: two in all. A third would wait for the first answer (0.2 s at 150 ms of latency), and under the pace's
window a slot lost at the start holds back every tenth request after it, to the end of the run (90 ms at
10 requests/second). Pipedrive's smallest burst window takes 20 requests per 2 s (`rate_limits.json`): two
go over it only where another tool of the company used it up in the last 2 s, and then the 429's pause
covers them."""


def burst_room(headers: Mapping[str, str], in_flight: int) -> tuple[int, float] | None:
    """How many more requests the burst window takes, and in how many seconds it resets; None if unsaid.

    Args:
        headers: an answer's headers (case-insensitive in `requests`).
        in_flight: requests sent but not answered yet, this one excluded: each will still take a slot.
    """
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None:
        return None
    reset = _number(headers.get("x-ratelimit-reset"))
    reset = BURST_WINDOW_SECONDS if reset is None else min(max(reset, 0.0), LONGEST_PAUSE_SECONDS)
    # one slot spare for other tools using the same token
    return int(remaining) - in_flight - 1, reset


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


class MicrosecondClock(AbstractClock):
    """The monotonic clock in microseconds, for a bucket whose rates are in microseconds.

    pyrate-limiter's own clocks count whole milliseconds. A slot then waited for up to a millisecond past its
    time (the wait rounded up, then slept at least 1 ms), and under the window every late request holds back
    the tenth after it: in the rate-limited 20,000-deal benchmark the median request left 2.3 ms after its
    time, against 1.2 ms counting microseconds. Its sliding window is unit-free arithmetic on the
    timestamps, so microseconds throughout change only the resolution.
    """

    def now(self) -> int:
        return time.monotonic_ns() // 1000


class SentTimes(InMemoryBucket):
    """pyrate-limiter's in-memory bucket, counting in microseconds, whose items can move to the time their
    request actually left."""

    _clock = MicrosecondClock()

    def restamp(self, item: RateItem, timestamp: int) -> None:
        """Move `item` to `timestamp`, if it is later (the item stays if it left the bucket already)."""
        with self._lock:
            if timestamp <= item.timestamp or not self.remove(item):
                return
            item.timestamp = timestamp
            self.items.insert(bisect.bisect_right(self.items, timestamp, key=_timestamp), item)

    def remove(self, item: RateItem) -> bool:
        """Take `item` out; False if it was not in (any more)."""
        with self._lock:
            # the newest items are the likeliest
            for index in range(len(self.items) - 1, -1, -1):
                if self.items[index] is item:
                    del self.items[index]
                    return True
            return False


def _timestamp(item: RateItem) -> int:
    return item.timestamp


class Pace:
    """The requests/second slots of one key, shared by every connection, resource and thread using it.

    No bursts (`spacing`); the margin widens with each 429 that still gets through and narrows back after
    `calm_requests` calm requests. A slot counts from when its request left (`sent`), not from when it was
    taken: a request held up in between must not reach the gateway closer to the next ten than the pace. A
    slot whose request is not sent goes back (`give_back`). Threads take their turn for a slot in the order
    of `turns`: the window chains after every other request waiting.
    """

    def __init__(
        self,
        requests_per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        calm_requests: int = CALM_REQUESTS,
    ) -> None:
        self.requests_per_second = requests_per_second
        self.calm_requests = calm_requests
        self.margin = SAFETY_MARGIN
        self._bucket = SentTimes(spacing(requests_per_second, self.margin))
        self._sleep = sleep
        # One thread at a time waits for the next slot; the others wait for their turn without waking up.
        # Without it every waiting thread wakes at each slot and competes for the CPU with the one that got
        # it, delaying its request by up to a few hundred ms. Window chains give way to the rest (`turns`).
        self._turns = Turns()
        self._margin_lock = threading.Lock()
        self._calm = 0

    def take(self) -> RateItem:
        """Wait for the next slot and take it; returns the slot, for `sent`."""
        with self._turns.turn():
            while True:
                # Not pyrate's blocking mode: after a sleep it stamps the slot with the planned time, and a
                # thread that wakes late (busy CPU) then sends later than the bucket believes.
                now = self._bucket.now()
                slot = RateItem("requests", now)
                if self._bucket.put(slot):
                    break
                wait = self._bucket.waiting(slot)
                self._sleep(max(1, wait if isinstance(wait, int) else 1) / MICROSECONDS_PER_SECOND)
            # the slots older than every window are of no more use
            self._bucket.leak(now)
        with self._margin_lock:
            self._calm += 1
            if self._calm >= self.calm_requests and self.margin > SAFETY_MARGIN:
                self._set_margin(self.margin - SAFETY_MARGIN)
        return slot

    def sent(self, slot: RateItem) -> None:
        """The slot's request has left: count the slot from now."""
        self._bucket.restamp(slot, self._bucket.now())

    def give_back(self, slot: RateItem) -> None:
        """The slot's request will not be sent: the slot no longer holds back the requests after it."""
        self._bucket.remove(slot)

    def widen(self) -> None:
        """Space the slots wider after a 429: by one more `SAFETY_MARGIN`, up to `MAX_SAFETY_MARGIN`."""
        with self._margin_lock:
            self._set_margin(min(MAX_SAFETY_MARGIN, self.margin + SAFETY_MARGIN))

    def _set_margin(self, margin: float) -> None:
        # under `_margin_lock`; a slot being taken meanwhile reads the old rates or the new ones, both whole
        self.margin = max(SAFETY_MARGIN, margin)
        self._calm = 0
        self._bucket.rates = spacing(self.requests_per_second, self.margin)


class AccountLimiter:
    """The pace of one account, shared by every thread that calls it.

    `acquire()` blocks until a request may be sent: a slot of the key's `Pace` (if any), outside any pause
    after a 429, and within the room Pipedrive's latest `x-ratelimit-*` headers leave in the burst window
    (when it is used up, until the window resets; then one request finds out how much room there is; at the
    start, `ROOM_BEFORE_THE_FIRST_ANSWER` more go with it).
    `release()` takes the answer's status and headers.
    """

    def __init__(
        self,
        requests_per_second: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        pace: Pace | None = None,
    ) -> None:
        self.requests_per_second = requests_per_second
        if pace is None and requests_per_second:
            pace = Pace(requests_per_second, sleep)
        self.pace = pace
        self._clock = clock
        self._sleep = sleep
        self._changed = threading.Condition()
        self._paused_until = 0.0
        self._in_flight = 0
        self._room: int | None = ROOM_BEFORE_THE_FIRST_ANSWER
        """Requests the burst window still takes (None: no limit said); the first answer says."""
        self._resets_at = 0.0
        self._probing = False

    @property
    def margin(self) -> float:
        """How much wider than the limit requests are spaced now (0 without a requests/second limit)."""
        return self.pace.margin if self.pace is not None else 0.0

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause after a 429."""
        with self._changed:
            return max(0.0, self._paused_until - self._clock())

    def acquire(self) -> RateItem | None:
        """Wait until a request may be sent; returns its slot of the pace (None without one), for `sent`."""
        while True:
            self._wait_out_pause()
            slot = self.pace.take() if self.pace is not None else None
            with self._changed:
                # a pause that began while this thread waited for its slot must hold it back too
                if self._clock() >= self._paused_until and self._take_room():
                    self._in_flight += 1
                    return slot
            if slot is not None and self.pace is not None:
                # Unsent, the slot would count in the window like a request: each request that waited
                # for the first answer's burst room at the start of a run cost a tenth of a second.
                self.pace.give_back(slot)

    def sent(self, slot: RateItem | None) -> None:
        """The request of `slot` has left (see `Pace.sent`)."""
        if slot is not None and self.pace is not None:
            self.pace.sent(slot)

    def release(self, status: int | None, headers: Mapping[str, str]) -> None:
        """Count the request as answered (`status` None: no answer) and learn from the answer's headers."""
        with self._changed:
            self._in_flight = max(0, self._in_flight - 1)
            self._probing = False
            if status is not None:
                room = burst_room(headers, self._in_flight)
                self._room = None if room is None else room[0]
                if room is not None:
                    self._resets_at = self._clock() + room[1]
            pause = retry_pause(status, headers)
            if pause > 0:
                self._paused_until = max(self._paused_until, self._clock() + pause)
                if self.pace is not None:
                    self.pace.widen()
            self._changed.notify_all()

    def _take_room(self) -> bool:
        """Take a place in the burst window, or wait a while for one (then False); under `_changed`."""
        if self._room is None:
            return True
        if self._room > 0:
            self._room -= 1
            return True
        now = self._clock()
        if now >= self._resets_at and not self._probing:
            self._probing = True
            return True
        # until the window resets, or until the probe's answer says how much room there is
        self._changed.wait(max(self._resets_at - now, 0.0) or BURST_WINDOW_SECONDS)
        return False

    def _wait_out_pause(self) -> None:
        while (wait := self.paused_for) > 0:
            self._sleep(wait)


_PACES: dict[tuple[str, str, float], Pace] = {}
_ACCOUNTS: dict[tuple[str, str, str, float | None], AccountLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def account_limiter(
    base_url: str, credential: str, connection_id: str | None, requests_per_second: float | None
) -> AccountLimiter:
    """The limiter of an account, the same object for every client of the process that reads it.

    Accounts reached with the same key (Maton connections of one API key) share one `Pace`: Maton limits
    requests per key. Each keeps its own pause and burst window: Pipedrive limits each company.
    """
    # a digest, so that the registry holds no credential
    identity = hashlib.sha256(credential.encode()).hexdigest()
    key = (base_url, identity, connection_id or "", requests_per_second)
    with _REGISTRY_LOCK:
        limiter = _ACCOUNTS.get(key)
        if limiter is None:
            pace = None
            if requests_per_second:
                pace_key = (base_url, identity, requests_per_second)
                pace = _PACES.get(pace_key)
                if pace is None:
                    pace = _PACES[pace_key] = Pace(requests_per_second)
            limiter = _ACCOUNTS[key] = AccountLimiter(requests_per_second, pace=pace)
        return limiter


AnswerCallback = Callable[[PreparedRequest, "Response | None"], None]


class PacedAdapter(HTTPAdapter):
    """A transport adapter that sends each attempt only when the account's limiter allows it.

    dlt's retrying session wraps `Session.send`, which calls the adapter once per attempt: hooking here paces
    retries too, which a request hook would not.
    """

    def __init__(self, limiter: AccountLimiter, on_answer: AnswerCallback, pool_maxsize: int = 32) -> None:
        super().__init__(pool_maxsize=pool_maxsize)
        self.limiter = limiter
        self.on_answer = on_answer

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # connections that say when a request has been written (`sent_at`)
        self.poolmanager.pool_classes_by_scheme = STAMPED_POOLS

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        slot = self.limiter.acquire()
        response: Response | None = None
        try:
            with sending(lambda: self.limiter.sent(slot)):
                response = super().send(request, *args, **kwargs)
            return response
        finally:
            if response is None:
                self.limiter.release(None, {})
            else:
                self.limiter.release(response.status_code, response.headers)
            self.on_answer(request, response)
