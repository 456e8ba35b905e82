"""The parents whose children are still to be read, kept in the child resource's dlt state, and the parents
already read in the current run.

A run that stops on its token budget has read some parents without their children: their ids wait in the
state (`unread_parent_ids`) and the next run reads them first. A parent read twice in one run (it changed
while the run read its list, or it was waiting and changed again) is read once: its rows would otherwise
be loaded twice. The second sighting waits for the next run instead, so that a change made during the run
is not missed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, MutableMapping
from typing import Any

import dlt

UNREAD_KEY = "unread_parent_ids"
"""The resource state key holding the parents whose children are still to be read."""

_WAITING_LOCK = threading.Lock()
"""One lock for every child's waiting list: the delete reconciliation adds to them too."""


def wait_for_next_run(state: MutableMapping[str, Any], parent_ids: Iterable[Any]) -> None:
    """Keep `parent_ids` in a child resource's `state`: the next run reads their children first."""
    with _WAITING_LOCK:
        waiting = state.setdefault(UNREAD_KEY, [])
        known = set(waiting)
        waiting.extend(parent_id for parent_id in dict.fromkeys(parent_ids) if parent_id not in known)


class Backlog:
    """The unread parents of one child table and the parents it read in the current run.

    Thread-safe: the child's transformer and its backlog resource use it from dlt's worker threads.

    Args:
        child: the child table (and transformer resource) name: the state is that resource's.
    """

    def __init__(self, child: str) -> None:
        self.child = child
        self._lock = threading.Lock()
        self._run: str | None = None
        self._read: set[Any] = set()

    def state(self) -> MutableMapping[str, Any]:
        """The child resource's state (call it from a resource of the source, in dlt's extract)."""
        state: MutableMapping[str, Any] = dlt.current.resource_state(self.child)
        return state

    def claim(
        self, parent_ids: Iterable[Any], state: MutableMapping[str, Any], changed: bool = True
    ) -> list[Any]:
        """The parents of `parent_ids` not read yet in this run, now marked read.

        Args:
            parent_ids: the parents to read.
            state: the child resource's state.
            changed: the parents were just read changed: those already read in this run wait for the next
                (their change may have come after); otherwise those are done.
        """
        with self._lock:
            self._start_run()
            fresh: list[Any] = []
            again: list[Any] = []
            for parent_id in dict.fromkeys(parent_ids):
                (again if parent_id in self._read else fresh).append(parent_id)
            self._read.update(fresh)
        if again and changed:
            wait_for_next_run(state, again)
        return fresh

    def take(self, state: MutableMapping[str, Any]) -> list[Any]:
        """The parents waiting from earlier runs, now out of the state (`wait_for_next_run()` puts back those
        not read).

        Taking them out is safe: a run that fails does not save its state, so they wait for the next."""
        with _WAITING_LOCK:
            waiting: list[Any] = state.pop(UNREAD_KEY, None) or []
            return waiting

    def _start_run(self) -> None:
        # the source's resources live as long as the source object; a second `pipeline.run()` of the same
        # source is another run, with another load package
        run = dlt.current.load_package_state()["load_id"]
        if run != self._run:
            self._run, self._read = run, set()
