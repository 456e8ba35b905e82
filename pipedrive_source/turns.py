"""Whose request takes the account's next slot: one thread at a time, and the run's critical requests first.

A full load reads a few large lists as many parallel window chains (`windows`) and everything else one
request at a time: field definitions, the first and newest pages a list's windows are planned from, lists
that cannot be split (v1 notes, products, ...). The parallel chains can fill any slot; a sequential chain
that queues behind them for each page gets one slot in ten and is the last to finish. Measured at 20,000
deals (150 ms latency, 10 requests/second): the notes, read last and alone, left 0.7 s of slots unused at
the end of the run.

So requests made inside `giving_way()` (the window chains) wait until no other request waits. Within each of
the two kinds, turns go in the order they were asked for.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

_THREAD = threading.local()


@contextmanager
def giving_way() -> Iterator[None]:
    """The requests this thread makes inside the block take their turn after every other request waiting."""
    before = getattr(_THREAD, "gives_way", False)
    _THREAD.gives_way = True
    try:
        yield
    finally:
        _THREAD.gives_way = before


def _gives_way() -> bool:
    """Whether this thread is inside `giving_way()`."""
    return bool(getattr(_THREAD, "gives_way", False))


class Turns:
    """A lock handed from thread to thread: to the longest waiting thread that does not give way, else to
    the longest waiting one that does.

    The waiting threads sleep on their own event and only the next one is woken: woken all at once, they
    would compete for the CPU with the thread whose request is about to leave, and delay it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._first: deque[threading.Event] = deque()
        self._then: deque[threading.Event] = deque()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn (see `giving_way`) and hold it while the block runs."""
        with self._lock:
            if self._held:
                event = threading.Event()
                (self._then if _gives_way() else self._first).append(event)
            else:
                self._held = True
                event = None
        if event is not None:
            # the turn is handed over held: no other thread can take it in between
            event.wait()
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        with self._lock:
            queue = self._first or self._then
            if queue:
                queue.popleft().set()
            else:
                self._held = False
