"""How the command line's process collects garbage: rarely, and never through what it imported.

Python's collector runs a full collection whenever enough objects have survived two younger ones, and a full
collection walks every object alive, holding the GIL throughout. During a run, the objects of the page being
converted survive the young collections (one runs every 700 allocations), so full collections came every
second or two and lasted 50-130 ms: measured at 20,000 deals, the thread due to send the next request
waited them out, and the rate limit's slots went by unused (a request sent late holds back the tenth
after it by as much). Freezing what the imports created takes it out of every collection; a young
generation of `YOUNG_OBJECTS` lets a page die by reference counting before it is ever collected. Garbage in
reference cycles waits for at most that many allocations.

The same walk over every object ran three times when the process exited (0.3-0.4 s): frozen at the end, the
objects are left to the operating system. Python does not promise to finalize the objects alive at exit
anyway; the command closes what it writes (DuckDB, dlt's files and state) before it returns.

This is the command line's own process; the source, imported into an Airflow or Dagster worker, leaves the
collector as it finds it.
"""

from __future__ import annotations

import gc

YOUNG_OBJECTS = 50_000
"""Allocations less deallocations of container objects between young collections (Python's default: 700)."""


def pause_collections() -> None:
    """No collections until `collect_rarely()`: the imports (dlt, the source) create some 100,000 objects
    that live as long as the process, and the collections they set off walked them again and again (about
    0.05 s of the command's start, out of 0.6 s of imports)."""
    gc.disable()


def collect_rarely() -> None:
    """Freeze the objects alive now (the imports) and let the young generation grow to `YOUNG_OBJECTS`;
    collections resume if paused."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)
    gc.enable()


def skip_collections_at_exit() -> None:
    """Freeze every object left: the interpreter's final collections then have nothing to walk."""
    gc.freeze()
