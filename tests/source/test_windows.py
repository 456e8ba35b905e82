"""Parallel time windows: how a list is cut, the order pages leave in, what a stop keeps, the spill files."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive_source import pipedrive_source
from pipedrive_source.testing import simulator
from pipedrive_source.windows import ReadStopped, Window, plan_windows, read_in_order

DAY = 86_400


# -- planning ------------------------------------------------------------------------------------------------
def test_a_short_list_is_one_window_from_the_first_page_on() -> None:
    oldest = list(range(1000, 1500))  # 500 records over 500 s
    newest = list(range(6000, 5500, -1))  # the newest 500: ~10 pages in all

    assert plan_windows(oldest, newest, page_size=500, max_windows=8) == [Window(1499)]


def test_overlapping_ends_mean_the_first_page_holds_nearly_everything() -> None:
    oldest = list(range(1000, 1500))
    newest = list(range(1600, 1300, -1))

    assert plan_windows(oldest, newest, page_size=500, max_windows=8) == [Window(1499)]


def test_a_uniform_list_is_cut_into_equal_spans() -> None:
    # one record per second for 100,000 s: 200 pages
    oldest = list(range(0, 500))
    newest = list(range(100_000, 99_500, -1))

    windows = plan_windows(oldest, newest, page_size=500, max_windows=8)

    assert len(windows) == 8
    assert windows[0].since == 499 and windows[-1].until is None
    spans = [w.until - w.since for w in windows[:-1] if w.until is not None]
    assert max(spans) - min(spans) <= 1
    assert all(a.until == b.since for a, b in zip(windows, windows[1:], strict=False))


def test_a_list_denser_in_recent_times_gets_shorter_recent_windows() -> None:
    # the first 500 records span 100 days, the newest 500 one day: typical of update times
    oldest = [i * (100 * DAY) // 500 for i in range(500)]
    end = 1000 * DAY
    newest = [end - i * DAY // 500 for i in range(500)]

    windows = plan_windows(oldest, newest, page_size=500, max_windows=8)

    spans = [w.until - w.since for w in windows if w.until is not None]
    assert len(windows) == 8
    assert spans == sorted(spans, reverse=True)  # each window shorter than the one before
    assert spans[0] > 5 * spans[-1]


def test_the_number_of_windows_follows_the_expected_pages() -> None:
    oldest = list(range(0, 500))
    newest = list(range(15500, 15000, -1))  # 30 pages after the first: 3 windows of at least 10 pages

    assert len(plan_windows(oldest, newest, page_size=500, max_windows=8)) == 3
    assert len(plan_windows(oldest, newest, page_size=500, max_windows=2)) == 2


# -- reading in order ----------------------------------------------------------------------------------------
def _chain(name: str, pages: int, delay: float = 0.0, stop_after: int | None = None) -> Callable[..., Any]:
    def read() -> Iterator[bytes]:
        for page in range(pages):
            if stop_after is not None and page == stop_after:
                raise ReadStopped(name)
            time.sleep(delay)
            yield f"{name}{page}".encode()

    return read


def test_pages_leave_in_window_order_whatever_order_they_arrive_in(tmp_path: Path) -> None:
    # the later windows finish first
    chains = [_chain("a", 3, delay=0.05), _chain("b", 3, delay=0.01), _chain("c", 2)]

    pages = list(read_in_order(chains, directory=str(tmp_path)))

    assert pages == [
        (0, b"a0"),
        (0, b"a1"),
        (0, b"a2"),
        (1, b"b0"),
        (1, b"b1"),
        (1, b"b2"),
        (2, b"c0"),
        (2, b"c1"),
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_stop_keeps_the_complete_windows_and_the_prefix_of_the_first_incomplete_one(tmp_path: Path) -> None:
    # window b stops after two pages; c completes, but after a gap: it must not be handed on
    chains = [_chain("a", 2), _chain("b", 5, stop_after=2), _chain("c", 2)]

    pages = [page for _, page in read_in_order(chains, directory=str(tmp_path))]

    assert pages == [b"a0", b"a1", b"b0", b"b1"]
    assert list(tmp_path.iterdir()) == []


def test_later_windows_wait_on_disk_not_in_memory(tmp_path: Path) -> None:
    released = threading.Event()

    def slow_first() -> Iterator[bytes]:
        released.wait(5)
        yield b"first"

    chains = [slow_first, _chain("x" * 1000, 20), _chain("y" * 1000, 20)]
    pages = read_in_order(chains, directory=str(tmp_path))
    reader = threading.Thread(target=lambda: list(pages))
    reader.start()
    deadline = time.monotonic() + 5
    spilled = 0
    while time.monotonic() < deadline and spilled < 2 * 20 * 1000:
        spilled = sum(f.stat().st_size for folder in tmp_path.iterdir() for f in folder.iterdir())
        time.sleep(0.01)
    released.set()
    reader.join(5)

    assert spilled >= 2 * 20 * 1000  # both later windows' pages sat in files while the first was read
    assert list(tmp_path.iterdir()) == []


def test_a_failing_window_fails_the_read_at_once_and_cleans_up(tmp_path: Path) -> None:
    read_by_first: list[bytes] = []

    def first() -> Iterator[bytes]:
        for page in range(500):  # 5 s of pages
            time.sleep(0.01)
            read_by_first.append(b"a%d" % page)
            yield read_by_first[-1]

    def failing() -> Iterator[bytes]:
        yield b"b0"
        raise RuntimeError("connection reset")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="connection reset"):
        list(read_in_order([first, failing], directory=str(tmp_path)))

    assert time.monotonic() - started < 2
    assert len(read_by_first) < 100  # the other window was abandoned, not read to its end
    assert list(tmp_path.iterdir()) == []


def test_closing_the_reader_early_removes_the_spill_files(tmp_path: Path) -> None:
    pages = read_in_order([_chain("a", 5), _chain("b", 50), _chain("c", 50)], directory=str(tmp_path))

    assert next(pages) == (0, b"a0")
    pages.close()

    assert list(tmp_path.iterdir()) == []


# -- against the simulator -----------------------------------------------------------------------------------
KEY = "windows-test-key"
TABLES = ("deals", "activities", "persons")


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with simulator(seed=11, deals=6000, api_key=KEY, rate_limit=None) as running:
        monkeypatch.setenv("MATON_API_KEY", KEY)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.base_url)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND", "0")
        yield running


def _table(pipeline: dlt.Pipeline, table: str) -> list[tuple[Any, ...]]:
    """Every row of `table` in `id` order, without dlt's own columns."""
    with pipeline.sql_client() as client:
        columns = "columns(lambda c: not starts_with(c, '_dlt'))"
        rows = client.execute_sql(f"select {columns} from {table} order by id")
        return [tuple(row) for row in rows]


def test_a_windowed_full_load_equals_a_sequential_one(
    sim: Any, clean_env: Path, make_pipeline: Callable[..., dlt.Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PARALLEL_WINDOWS", "1")
    sequential = make_pipeline("sequential")
    sequential.run(pipedrive_source().with_resources(*TABLES))
    assert not any("updated_until" in request.query for request in sim.requests)
    sim.requests.clear()

    monkeypatch.setenv("SOURCES__PIPEDRIVE__PARALLEL_WINDOWS", "8")
    spill_root = clean_env / "spill"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    windowed = make_pipeline("windowed")
    windowed.run(pipedrive_source().with_resources(*TABLES))

    # activities (24 pages) is long enough to split; deals and persons go on with their first chain
    windows_read = {r.path for r in sim.requests if "updated_until" in r.query}
    assert windows_read == {"/pipedrive/api/v2/activities"}
    for table in TABLES:
        rows = _table(windowed, table)
        assert rows == _table(sequential, table), table
        assert len({row[0] for row in rows}) == len(rows)
    assert not list(spill_root.glob("pipedrive-windows-*"))
