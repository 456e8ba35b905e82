"""Maton's limit counts requests when they arrive, not when a busy simulator thread gets to them."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest
import requests

from pipedrive_source.testing.arrival import next_arrival, stamp_arrivals
from pipedrive_source.testing.ratelimit import KeyRateLimiter, SlidingWindow
from tests.simulator.clients import API_KEY, Api

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="kernel receive stamps are Linux's"
)


@linux_only
def test_a_request_read_late_keeps_the_time_it_arrived():
    listener = socket.create_server(("127.0.0.1", 0))
    # set on the listening socket, the option holds from a connection's first packet on
    assert stamp_arrivals(listener)
    sent_at: list[float] = []

    def send() -> None:
        with socket.create_connection(listener.getsockname()) as client:
            sent_at.append(time.monotonic())
            client.sendall(b"GET /pipedrive/api/v2/deals HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(1.0)

    with listener:
        thread = threading.Thread(target=send)
        thread.start()
        connection, _ = listener.accept()
        with connection:
            time.sleep(0.3)  # a handler thread that waited for the GIL
            arrived = next_arrival(connection)
            # peeked, not consumed: the handler still reads the whole request
            assert connection.recv(100).startswith(b"GET /pipedrive/api/v2/deals ")
        thread.join()
    assert arrived is not None
    assert -0.005 <= arrived - sent_at[0] < 0.05


def test_a_request_counts_against_the_second_before_its_arrival():
    limiter = KeyRateLimiter(10.0)
    start = time.monotonic() - 10
    assert all(limiter.allow("key", start + 0.09 * index) for index in range(10))
    # handled now, but it arrived 0.95 s after the first: the eleventh within a second
    assert not limiter.allow("key", start + 0.95)
    assert limiter.allow("key", start + 1.0)


def test_a_request_handled_after_a_later_one_is_counted_at_its_own_time():
    window = SlidingWindow(2, 1.0)
    assert window.try_hit(10.0)
    assert window.try_hit(10.8)
    # arrived at 10.7, handled after the one of 10.8: two in (9.7, 10.7] would be 10.0 and itself
    assert window.try_hit(10.7)
    assert window.remaining(10.75) == 0
    # 10.0 has left the window of 11.05; 10.7 and 10.8 have not
    assert not window.try_hit(11.05)
    assert window.try_hit(11.75)
    assert window.reset_in(11.75) == 1


def test_the_gateway_refuses_the_eleventh_request_of_a_second(make_sim):
    sim = make_sim(deals=20, rate_limit=10.0)
    api = Api(sim, "maton")
    statuses = [api.get("v2", "/deals", {"limit": 1}).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    time.sleep(1.0)
    answer = requests.get(
        f"{sim.base_url}/api/v2/deals", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )
    assert answer.status_code == 200
