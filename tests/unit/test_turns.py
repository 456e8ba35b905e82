"""Whose request takes the account's next slot: the run's sequential requests before the window chains."""

from __future__ import annotations

import threading
import time

from pipedrive_source.turns import Turns, giving_way


def _queue_up(turns: Turns, name: str, gives_way: bool, order: list[str]) -> threading.Thread:
    def take_turn() -> None:
        if gives_way:
            with giving_way(), turns.turn():
                order.append(name)
        else:
            with turns.turn():
                order.append(name)

    thread = threading.Thread(target=take_turn)
    thread.start()
    time.sleep(0.05)  # queued before the next one
    return thread


def _held(turns: Turns) -> tuple[threading.Thread, threading.Event]:
    """A thread holding the turn until the event is set."""
    release = threading.Event()

    def hold() -> None:
        with turns.turn():
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.05)
    return holder, release


def test_a_request_that_does_not_give_way_goes_before_the_window_chains_waiting() -> None:
    turns = Turns()
    order: list[str] = []
    holder, release = _held(turns)
    waiting = [_queue_up(turns, f"window {n}", True, order) for n in range(3)]
    waiting.append(_queue_up(turns, "notes", False, order))
    waiting.append(_queue_up(turns, "fields", False, order))

    release.set()
    for thread in [holder, *waiting]:
        thread.join(5)

    assert order == ["notes", "fields", "window 0", "window 1", "window 2"]


def test_giving_way_ends_with_its_block() -> None:
    turns = Turns()
    order: list[str] = []

    def window_then_single() -> None:
        with giving_way():
            pass
        # the same thread, outside the block: an ordinary request again
        with turns.turn():
            order.append("after the window")

    holder, release = _held(turns)
    first = _queue_up(turns, "window", True, order)
    second = threading.Thread(target=window_then_single)
    second.start()
    time.sleep(0.05)

    release.set()
    for thread in (holder, first, second):
        thread.join(5)

    assert order == ["after the window", "window"]
