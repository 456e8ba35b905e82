"""The moment each request actually leaves, for the rate limiter.

A thread that took a slot of the pace can still be held up before its request is written to the socket: by
the GIL while other threads parse pages, or by a garbage collection. Up to 230 ms was measured in the
rate-limited 200,000-deal benchmark. If the slot kept the time it was taken, that request would reach the
gateway late, closer to the ten that follow it than the pace allows, and the gateway would refuse the last
of them. Here the connections of the paced session call back once a request's bytes are written, so that the
slot moves to the time the request really left.

urllib3 writes a request in `HTTPConnection.request()` and reads the answer in `getresponse()`, both in the
thread that sends; the callback is that thread's, set by the adapter around each attempt (`sending`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


@contextmanager
def sending(on_sent: Callable[[], None]) -> Iterator[None]:
    """Call `on_sent` when the request this thread sends in the block has been written."""
    _current.on_sent = on_sent
    try:
        yield
    finally:
        _current.on_sent = None


def _written() -> None:
    on_sent = getattr(_current, "on_sent", None)
    if on_sent is not None:
        _current.on_sent = None  # once per attempt: a retry takes a slot of its own
        on_sent()


def _stamped(connection: Any) -> Any:
    """`connection`, calling back once its `request()` has written a request.

    The connection object is wrapped rather than its class subclassed: the connection class is whatever the
    pool's is at the time, which tools that record or replay traffic (vcrpy) replace.
    """
    write = connection.request

    def request(*args: Any, **kwargs: Any) -> Any:
        written = write(*args, **kwargs)
        _written()
        return written

    # not `connection.request = ...`: vcrpy's connection forwards attribute writes to the real connection it
    # records through, whose own `request()` would then loop back here and never send (vcrpy 9)
    object.__setattr__(connection, "request", request)
    return connection


class _StampedHTTPConnectionPool(HTTPConnectionPool):
    def _new_conn(self) -> Any:
        return _stamped(super()._new_conn())


class _StampedHTTPSConnectionPool(HTTPSConnectionPool):
    def _new_conn(self) -> Any:
        return _stamped(super()._new_conn())


STAMPED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _StampedHTTPConnectionPool,
    "https": _StampedHTTPSConnectionPool,
}
"""urllib3 pool classes by scheme (`PoolManager.pool_classes_by_scheme`) whose connections call back."""
