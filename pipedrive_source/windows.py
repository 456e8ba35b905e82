"""Reading one large list as `update_time` windows in parallel, handing the pages on in `update_time` order.

A v2 list is a chain of cursor pages: each page needs the previous page's `next_cursor`, so one list is read
one request at a time. On a full load the largest list (activities) would then bound the run's wall time. Here
the list is cut into time windows (`updated_since` inclusive, `updated_until` exclusive, the last one
open-ended), each read as its own chain in a thread, all under the account's shared rate limiter.

The pages still leave in `update_time` order: the first window's pages as they come, later windows' pages
spilled to temporary files (raw response bytes, so memory stays flat) until their turn. The windows advance
together, so the files can grow to most of the list's JSON (about 1 KB a record) in the temporary folder
(`TMPDIR`); each window's file is removed as soon as its pages are handed on. dlt's incremental
saves the largest `update_time` it was given, so when the run stops early (daily budget, token cap) only a
gap-free prefix may have been handed on: the complete windows before the first incomplete one, plus that
window's pages so far; the rest is discarded and read again by the next run.

Window bounds come from the data (the first page and the newest page), never from the clock, so that a run
sends the same requests every time and replays from recorded traffic.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

MIN_PAGES_PER_WINDOW = 10
"""A window costs about one extra request (its last page is partly empty), so each gets ten pages of work:
only the long lists are split, and meanwhile the other resources keep the rate limit busy."""

UNTIL_FILTER_PATHS = frozenset(
    {"api/v2/deals", "api/v2/persons", "api/v2/organizations", "api/v2/activities"}
)
"""The v2 lists that take `updated_until` (openapi-v2.yaml); products, pipelines and stages do not."""


class ReadStopped(Exception):
    """A window's chain ended before the end of its window because the run is stopping."""


@dataclass(frozen=True)
class Window:
    """Records with `since <= update_time < until`, in UNIX seconds; `until` None is open-ended."""

    since: int
    until: int | None = None


def _log_mean(a: float, b: float) -> float:
    return a if math.isclose(a, b) else (b - a) / math.log(b / a)


def plan_windows(
    oldest_page: Sequence[int],
    newest_page: Sequence[int],
    page_size: int,
    max_windows: int,
    min_pages_per_window: int = MIN_PAGES_PER_WINDOW,
) -> list[Window]:
    """Cut what follows the first page into windows holding about the same number of records.

    Args:
        oldest_page: `update_time`s of the first page, oldest first (a full page: the list goes on).
        newest_page: `update_time`s of the newest records (a page sorted newest first).
        page_size: records per page.
        max_windows: at most this many windows.
        min_pages_per_window: fewer windows when the list is too short to give each this many pages.

    Returns:
        Windows from the first page's last `update_time` on, the last one open-ended; one window when the
        list is too short to be worth splitting.

    CRM data is usually denser in recent times. The density of records (per second) is measured at both
    ends, assumed to change exponentially in between, and the windows are cut at its quantiles.
    """
    start = oldest_page[-1]
    if not newest_page or min(newest_page) <= start:
        return [Window(start)]
    newest, newest_low = max(newest_page), min(newest_page)
    span = newest - start
    old_density = len(oldest_page) / max(1, start - oldest_page[0])
    new_density = len(newest_page) / max(1, newest - newest_low)
    expected_pages = span * _log_mean(old_density, new_density) / page_size
    count = min(max_windows, int(expected_pages // min_pages_per_window), span)
    if count <= 1:
        return [Window(start)]
    growth = new_density / old_density
    bounds = [start]
    for index in range(1, count):
        share = index / count
        offset = share if math.isclose(growth, 1.0) else math.log1p(share * (growth - 1)) / math.log(growth)
        bound = start + round(span * offset)
        if bounds[-1] < bound < newest:
            bounds.append(bound)
    return [Window(since, until) for since, until in zip(bounds, [*bounds[1:], None], strict=True)]


State = Literal["reading", "complete", "stopped"]


class _SpilledPages:
    """The pages of one window on disk, appended by its reader thread and taken in order by the consumer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: BinaryIO = path.open("wb")
        self._reader: BinaryIO = path.open("rb")
        self.written = 0
        self.taken = 0
        self.state: State = "reading"

    def write(self, page: bytes) -> None:
        self._writer.write(len(page).to_bytes(8, "little"))
        self._writer.write(page)
        self._writer.flush()

    def take(self) -> bytes:
        size = int.from_bytes(self._reader.read(8), "little")
        self.taken += 1
        return self._reader.read(size)

    def discard(self) -> None:
        self._writer.close()
        self._reader.close()
        self.path.unlink(missing_ok=True)


Chain = Callable[[], Iterator[bytes]]
"""Reads one window: yields each page's raw body; raises `ReadStopped` when the run stops before its end."""


def read_in_order(chains: Sequence[Chain], directory: str | None = None) -> Iterator[tuple[int, bytes]]:
    """Run every chain in its own thread and yield `(chain index, page)` in chain order.

    Every chain's pages pass through a temporary file under `directory` (the system's temporary folder by
    default), so memory stays flat however far ahead the readers get: chain 0's are taken as they arrive,
    later chains' wait for their turn. Each file is removed once handed on, and in any case at the end.
    When a chain is stopped, its pages so far are the last ones yielded: the later chains' pages are dropped.
    A chain's failure is raised here as soon as it happens, and the other chains are abandoned.
    """
    folder = Path(tempfile.mkdtemp(prefix="pipedrive-windows-", dir=directory))
    changed = threading.Condition()
    abandoned = threading.Event()
    failures: list[BaseException] = []
    spills = [_SpilledPages(folder / f"window-{index}.pages") for index in range(len(chains))]

    def finish(spill: _SpilledPages, state: State) -> None:
        with changed:
            spill.state = state
            changed.notify_all()

    def read(index: int) -> None:
        spill = spills[index]
        pages: Iterator[bytes] | None = None
        try:
            pages = chains[index]()
            for page in pages:
                spill.write(page)
                with changed:
                    spill.written += 1
                    changed.notify_all()
                if abandoned.is_set():
                    finish(spill, "stopped")
                    return
            finish(spill, "complete")
        except ReadStopped:
            finish(spill, "stopped")
        except BaseException as exc:
            with changed:
                failures.append(exc)
                spill.state = "stopped"
                changed.notify_all()
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def news_of(spill: _SpilledPages) -> Callable[[], bool]:
        return lambda: bool(failures) or spill.written > spill.taken or spill.state != "reading"

    workers = ThreadPoolExecutor(max_workers=max(1, len(chains)), thread_name_prefix="pipedrive-window")
    try:
        for index in range(len(chains)):
            workers.submit(read, index)
        for index, spill in enumerate(spills):
            while True:
                with changed:
                    changed.wait_for(news_of(spill))
                    if failures:
                        raise failures[0]
                    if spill.written == spill.taken:
                        break
                yield index, spill.take()
            spill.discard()
            if spill.state == "stopped":
                return
    finally:
        abandoned.set()
        workers.shutdown(wait=True)
        for spill in spills:
            spill.discard()
        shutil.rmtree(folder, ignore_errors=True)
