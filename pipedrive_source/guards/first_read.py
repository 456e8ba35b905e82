"""The checks a source makes before its first read for data in each run: whose data (`account`) and
whether the destination holds what the state says (`destination`).

The client calls `FirstReadChecks` before every request for data; the checks run once per extraction (per
load package), in whichever resource's thread comes first, while the others wait. A failed check fails
every resource of the run with the same error, before any of them has read.
"""

from __future__ import annotations

import threading

import dlt

from pipedrive_source.guards.account import AccountGate, running_extraction
from pipedrive_source.guards.destination import refuse_disagreement


class FirstReadChecks:
    """Callable by the client before each read: runs the checks of the current extraction once."""

    def __init__(self, account: AccountGate) -> None:
        self.account = account
        self._lock = threading.Lock()
        self._load_id: str | None = None
        self._failure: Exception | None = None

    def __call__(self) -> None:
        running = running_extraction()
        if running is None:  # iterated without a pipeline: nothing to compare with or record
            return
        state, pipeline = running
        load_id = str(dlt.current.load_package_state()["load_id"])
        with self._lock:
            if load_id != self._load_id:
                self._load_id, self._failure = load_id, None
                try:
                    self.account.check(state, pipeline)
                    refuse_disagreement(pipeline, dlt.current.source())
                except Exception as exc:
                    self._failure = exc
            if self._failure is not None:
                raise self._failure
