"""One pace per account: the requests/second limit, the slow-down read from Pipedrive's headers, zero 429s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive_source import pipedrive_source
from pipedrive_source.client import PipedriveClient
from pipedrive_source.config import resolve_connection
from pipedrive_source.rate_limit import (
    BURST_WINDOW_SECONDS,
    ROOM_BEFORE_THE_FIRST_ANSWER,
    SAFETY_MARGIN,
    AccountLimiter,
    Pace,
    SentTimes,
    account_limiter,
    burst_room,
    retry_pause,
    spacing,
)
from pipedrive_source.testing import simulator
from pipedrive_source.turns import giving_way
from tests.source.fake_api import BASE_URL, KEY, FakePipedrive, example


@pytest.mark.parametrize(
    ("status", "headers", "pause"),
    [
        (200, {"x-ratelimit-remaining": "0", "retry-after": "2"}, 0.0),
        (429, {"retry-after": "2"}, 2.0),
        (429, {}, BURST_WINDOW_SECONDS),
        # the daily budget: the run stops instead of waiting an hour
        (429, {"retry-after": "3939"}, 0.0),
    ],
)
def test_pause_after_a_429(status: int, headers: dict[str, str], pause: float) -> None:
    assert retry_pause(status, headers) == pause


@pytest.mark.parametrize(
    ("headers", "in_flight", "room"),
    [
        ({"x-ratelimit-remaining": "39", "x-ratelimit-reset": "2"}, 0, (38, 2.0)),
        # each request on its way takes a slot, and one is left for other tools
        ({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "1"}, 2, (0, 1.0)),
        ({"x-ratelimit-remaining": "0"}, 0, (-1, BURST_WINDOW_SECONDS)),
        ({}, 5, None),
        ({"x-ratelimit-remaining": "soon"}, 0, None),
    ],
)
def test_room_left_in_the_burst_window(
    headers: dict[str, str], in_flight: int, room: tuple[int, float] | None
) -> None:
    assert burst_room(headers, in_flight) == room


def _acquire_in_thread(limiter: AccountLimiter) -> tuple[threading.Thread, list[float]]:
    acquired: list[float] = []
    # a daemon: a thread left waiting by a failing test must not keep the test run from ending
    thread = threading.Thread(
        target=lambda: (limiter.acquire(), acquired.append(time.monotonic())), daemon=True
    )
    thread.start()
    return thread, acquired


def test_two_requests_go_before_the_first_answer_says_how_many_may_follow() -> None:
    limiter = AccountLimiter(None)
    before_the_answer = [_acquire_in_thread(limiter) for _ in range(1 + ROOM_BEFORE_THE_FIRST_ANSWER)]
    for thread, _ in before_the_answer:
        thread.join(1)
    assert all(went for _, went in before_the_answer)

    third, acquired = _acquire_in_thread(limiter)
    time.sleep(0.2)
    assert acquired == []  # still waiting for the first answer

    limiter.release(200, {"x-ratelimit-remaining": "10", "x-ratelimit-reset": "2"})
    third.join(1)

    assert acquired


def test_a_used_up_burst_window_holds_every_request_until_it_resets() -> None:
    limiter = AccountLimiter(None)
    limiter.acquire()
    limiter.release(200, {"x-ratelimit-remaining": "1", "x-ratelimit-reset": "0.5"})  # room for none
    released = time.monotonic()

    limiter.acquire()

    assert time.monotonic() - released >= 0.45


def test_room_in_the_burst_window_does_not_slow_down() -> None:
    limiter = AccountLimiter(None)
    started = time.monotonic()
    for _ in range(50):
        limiter.acquire()
        limiter.release(200, {"x-ratelimit-remaining": "30", "x-ratelimit-reset": "2"})

    assert time.monotonic() - started < 0.2


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_short_429_pauses_everyone_and_widens_the_margin() -> None:
    fake = FakeTime()
    limiter = AccountLimiter(10.0, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire()

    limiter.release(429, {"retry-after": "1"})

    assert limiter.paused_for == 1.0
    assert limiter.margin == pytest.approx(2 * SAFETY_MARGIN)


def test_a_widened_margin_narrows_back_after_calm_requests() -> None:
    fake = FakeTime()
    calm = 50
    limiter = AccountLimiter(
        1000.0, clock=fake.clock, sleep=fake.sleep, pace=Pace(1000.0, sleep=fake.sleep, calm_requests=calm)
    )
    limiter.acquire()
    limiter.release(429, {"retry-after": "1"})
    limiter.acquire()
    limiter.release(429, {"retry-after": "1"})
    assert limiter.margin == pytest.approx(3 * SAFETY_MARGIN)

    for _ in range(calm):
        limiter.acquire()
        limiter.release(200, {})
    assert limiter.margin == pytest.approx(2 * SAFETY_MARGIN)

    for _ in range(3 * calm):
        limiter.acquire()
        limiter.release(200, {})
    assert limiter.margin == pytest.approx(SAFETY_MARGIN)  # never below the base margin


def test_no_more_than_the_rate_in_any_second_whatever_the_threads() -> None:
    limiter = AccountLimiter(20.0)
    sent: list[float] = []
    lock = threading.Lock()

    def send() -> None:
        for _ in range(8):
            limiter.acquire()
            with lock:
                sent.append(time.monotonic())
            limiter.release(200, {})

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent.sort()
    assert len(sent) == 48
    assert max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent) <= 20
    assert sent[-1] - sent[0] >= (48 - 20) / 20


def test_a_late_slot_does_not_slow_the_pace_down() -> None:
    """A thread that wakes a few ms after its slot (busy machine) does not push back every slot after it."""
    pace = Pace(10.0, sleep=lambda seconds: time.sleep(seconds + 0.02))
    started = time.monotonic()
    for _ in range(31):
        pace.sent(pace.take())
    # three windows of ten at 10 requests/second less the margin (3.15 s); 20 ms late each would be 3.7 s
    assert 3.1 < time.monotonic() - started < 3.45


def test_slots_are_timed_below_the_millisecond() -> None:
    """A clock of whole milliseconds rounded every wait up; each late slot held back the tenth after it."""
    window = spacing(10.0, SAFETY_MARGIN)[-1]
    bucket = SentTimes([window])
    before = bucket.now()
    time.sleep(0.0003)
    after = bucket.now()

    assert window.interval == 1_050_000  # ten requests span a second and the margin, in microseconds
    assert after - before >= 300


def test_a_request_held_up_after_its_slot_counts_from_when_it_left() -> None:
    pace = Pace(10.0)
    first = pace.take()
    taken = time.monotonic()
    time.sleep(0.3)  # held up between its slot and the socket (the GIL, a garbage collection)
    pace.sent(first)
    for _ in range(10):
        pace.sent(pace.take())
    # the tenth after it waits for a second and the margin after it left, not after its slot
    assert time.monotonic() - taken >= 0.3 + 1.0 + SAFETY_MARGIN - 0.01


def test_a_slot_left_unused_while_waiting_for_burst_room_does_not_count() -> None:
    """At the start of a run the others wait for the first answer's burst room: their slots go back."""
    limiter = AccountLimiter(10.0)
    limiter.sent(limiter.acquire())
    first_sent = time.monotonic()
    for _ in range(ROOM_BEFORE_THE_FIRST_ANSWER):
        limiter.sent(limiter.acquire())
    waiting, acquired = _acquire_in_thread(limiter)  # takes a slot, then waits for the first answer
    time.sleep(0.1)
    limiter.release(200, {"x-ratelimit-remaining": "50", "x-ratelimit-reset": "2"})
    waiting.join(1)
    assert acquired

    for _ in range(8 - ROOM_BEFORE_THE_FIRST_ANSWER):
        limiter.sent(limiter.acquire())
        limiter.release(200, {"x-ratelimit-remaining": "50", "x-ratelimit-reset": "2"})

    # ten requests in all, 80 ms apart: about 0.75 s. Were the unused slot counted, the tenth would be the
    # eleventh of the window and wait for the first to be 1.05 s old.
    assert time.monotonic() - first_sent < 0.95


def test_requests_outside_the_window_chains_go_first() -> None:
    """A sequential chain (notes) gets the next slot while the window chains of a large list wait."""
    pace = Pace(20.0)
    waits: list[float] = []
    stop = threading.Event()

    def window_chain() -> None:
        with giving_way():
            while not stop.is_set():
                pace.sent(pace.take())

    windows = [threading.Thread(target=window_chain) for _ in range(6)]
    for thread in windows:
        thread.start()
    time.sleep(0.3)
    for _ in range(5):
        asked = time.monotonic()
        pace.sent(pace.take())
        waits.append(time.monotonic() - asked)
    stop.set()
    for thread in windows:
        thread.join()

    # at most the slot already promised to a window, and its own: 2 x 50 ms (6 windows ahead: 300 ms)
    assert max(waits) < 0.2


def test_one_limiter_per_account() -> None:
    first = account_limiter("https://api.maton.ai/pipedrive", "key-1", None, 10.0)

    assert account_limiter("https://api.maton.ai/pipedrive", "key-1", None, 10.0) is first
    assert account_limiter("https://api.maton.ai/pipedrive", "key-2", None, 10.0) is not first
    assert account_limiter("https://api.maton.ai/pipedrive", "key-1", "conn", 10.0) is not first


def test_connections_of_one_maton_key_share_its_pace_but_not_their_burst_windows() -> None:
    # Maton counts requests per API key; Pipedrive's burst window and its 429 pauses are per company
    one = account_limiter("https://api.maton.ai/pipedrive", "shared-key", "connection-a", 10.0)
    other = account_limiter("https://api.maton.ai/pipedrive", "shared-key", "connection-b", 10.0)
    elsewhere = account_limiter("https://api.maton.ai/pipedrive", "another-key", "connection-a", 10.0)

    assert one is not other
    assert one.pace is other.pace
    assert elsewhere.pace is not one.pace

    one.acquire()
    one.release(429, {"retry-after": "1"})
    assert one.paused_for > 0 and other.paused_for == 0
    assert other.margin == pytest.approx(2 * SAFETY_MARGIN)  # the key's pace widened for both


def test_every_attempt_waits_for_the_limiter_retries_included(fake: FakePipedrive) -> None:
    fake.serve("api/v2/pipelines", example("v2_pipelines_list")["data"])
    fake.fail("api/v2/pipelines", 503, {"success": False, "error": "unavailable"})
    fake.fail("api/v2/pipelines", 503, {"success": False, "error": "unavailable"})
    client = PipedriveClient(resolve_connection(base_url=BASE_URL, maton_api_key=KEY))
    waits: list[float] = []
    acquire = client.limiter.acquire

    def counted() -> Any:
        waits.append(time.monotonic())
        return acquire()

    client.limiter.acquire = counted  # type: ignore[method-assign]

    assert len(list(client.pages("api/v2/pipelines", "cursor"))) == 1
    assert len(waits) == 3
    assert client.usage.by_resource()["pipelines"].requests == 3


# -- against the simulator -----------------------------------------------------------------------------------
SIM_KEY = "rate-limit-test-key"


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with simulator(seed=5, deals=1500, api_key=SIM_KEY, rate_limit=10.0) as running:
        monkeypatch.setenv("MATON_API_KEY", SIM_KEY)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.base_url)
        yield running


def test_parallel_resources_and_runs_of_one_account_get_no_429(
    sim: Any, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    runs = [
        ("big", ("deals", "activities", "notes")),
        ("small", ("persons", "organizations", "products", "pipelines", "stages", "users")),
    ]
    failures: list[BaseException] = []

    def load(name: str, tables: tuple[str, ...]) -> None:
        try:
            make_pipeline(name).run(pipedrive_source().with_resources(*tables))
        except BaseException as exc:
            failures.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=load, args=run) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert failures == []
    statuses = [request.status for request in sim.requests]
    assert statuses.count(429) == 0
    assert len(statuses) > 20
    # both runs shared the 10 requests/second of the account
    assert elapsed >= (len(statuses) - 10) / 10


def test_every_request_counts_from_when_it_left(sim: Any) -> None:
    client = PipedriveClient(resolve_connection(base_url=sim.base_url, maton_api_key=SIM_KEY))
    left: list[float] = []
    sent = client.limiter.sent

    def recorded(slot: Any) -> None:
        assert slot is not None
        left.append(time.monotonic())
        sent(slot)

    client.limiter.sent = recorded  # type: ignore[method-assign]
    answered: list[float] = []
    for _page in client.pages("api/v2/deals", "cursor", {"limit": "100"}):
        answered.append(time.monotonic())

    assert len(left) == len(sim.requests) == len(answered) > 10
    # each request left before its answer came back, and after the previous answer
    assert all(a < b < c for a, b, c in zip([0.0, *answered[:-1]], left, answered, strict=True))


@pytest.fixture
def lite_direct(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Pipedrive's Lite plan allows an API token 20 requests per 2 s, and this connection has no other limit
    with simulator(seed=5, deals=3000, api_key=SIM_KEY, rate_limit=None, plan="Lite") as running:
        monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", SIM_KEY)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.direct_url)
        yield running


def test_pipedrive_burst_headers_slow_a_direct_run_down_before_a_429(
    lite_direct: Any, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    started = time.monotonic()
    make_pipeline().run(pipedrive_source().with_resources("deals", "activities", "persons", "notes"))
    elapsed = time.monotonic() - started

    statuses = [request.status for request in lite_direct.requests]
    assert statuses.count(429) == 0
    assert len(statuses) > 20  # more than one burst window takes
    assert elapsed >= 2.0  # it had to wait for a burst window to reset
