"""One run of a pipeline at a time: a second `pipedrive-source run` of a pipeline in progress stops at once
without reading; a run killed with SIGKILL blocks nothing.

Real processes against a live simulator (the first run is slowed down by the simulator's latency so that the
second starts while it reads): what is tested is the operating system's lock between processes, which a
cassette cannot replay. The tests wait on what the first run leaves on disk (its lock's holder file), not
on a clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from click.testing import CliRunner

from pipedrive_source.cli import cli
from pipedrive_source.cli import run as _run_command  # noqa: F401  (registers `run`)
from pipedrive_source.guards.run_lock import RunInProgress, lock_path, one_run_at_a_time
from tests.source.conftest import live_simulator

KEY = "run-lock-test-key-7f3e"
RUN_CLI = "import sys; from pipedrive_source.cli import main; sys.argv[0] = 'pipedrive-source'; main()"
TABLES = "deals,persons"
WAIT_FOR_HOLDER = 120.0
"""Seconds to wait for the first run to take its lock: a bound on a slow, loaded machine, not a pace."""


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from live_simulator(monkeypatch, KEY, seed=3, deals=60)


def holder_file(pipelines_dir: Path, name: str = "pipedrive") -> Path:
    return pipelines_dir / f"{name}.lock.json"


def start_run(clean_env: Path) -> subprocess.Popen[str]:
    """`pipedrive-source run` in its own process, from the test's folder, with the test's settings."""
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "run", "--resources", TABLES],
        cwd=clean_env,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_holding(process: subprocess.Popen[str], holder: Path) -> dict[str, Any]:
    """The holder record the running process wrote once it took its lock."""
    deadline = time.monotonic() + WAIT_FOR_HOLDER
    while time.monotonic() < deadline:
        if holder.exists():
            try:
                found: dict[str, Any] = json.loads(holder.read_text())
            except ValueError:  # being written
                found = {}
            if found.get("pid") == process.pid:
                return found
        if process.poll() is not None:
            raise AssertionError(f"the first run ended before holding its lock: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError("the first run never took its lock")


def pipelines_dir(clean_env: Path) -> Path:
    """dlt's pipelines folder for the test's `DLT_DATA_DIR` (set by `clean_env`)."""
    return Path(dlt.pipeline("pipedrive").pipelines_dir)


def test_a_second_run_stops_at_once_while_the_first_reads(
    sim: Any, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.faults.latency = 0.3
    first = start_run(clean_env)
    holder = wait_until_holding(first, holder_file(pipelines_dir(clean_env)))

    second = CliRunner().invoke(cli, ["run", "--resources", TABLES])

    assert second.exit_code == 1
    assert f"A run of pipeline 'pipedrive' is in progress (process {first.pid}" in second.stderr
    assert holder["started_at"] in second.stderr
    assert "Traceback" not in second.output
    sim.faults.latency = 0.0
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert "Loaded" in out
    # the second run read nothing: a run's first request is its account check, and there was one
    assert [request.path for request in sim.requests if request.path.endswith("/users/me")] == [
        "/pipedrive/api/v1/users/me"
    ]


def test_a_killed_run_does_not_block_the_next(sim: Any, clean_env: Path) -> None:
    sim.faults.latency = 0.3
    killed = start_run(clean_env)
    wait_until_holding(killed, holder_file(pipelines_dir(clean_env)))
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    sim.faults.latency = 0.0

    after = CliRunner().invoke(cli, ["run", "--resources", TABLES])

    assert after.exit_code == 0, after.output
    account = sim.account()
    with duckdb.connect(str(clean_env / "pipedrive.duckdb"), read_only=True) as db:
        deals = db.execute("select count(*) from pipedrive_data.deals where status <> 'deleted'").fetchone()
        persons = db.execute("select count(*) from pipedrive_data.persons").fetchone()
    assert (deals[0], persons[0]) == (account.count("deals"), account.count("persons"))


def test_the_lock_is_held_across_processes_and_goes_with_its_holder(clean_env: Path) -> None:
    pipeline = dlt.pipeline("locked", pipelines_dir=str(clean_env / "pipelines"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, dlt; from pipedrive_source.guards.run_lock import one_run_at_a_time\n"
            "pipeline = dlt.pipeline('locked', pipelines_dir=sys.argv[1])\n"
            "with one_run_at_a_time(pipeline):\n    print('held', flush=True); time.sleep(600)",
            str(clean_env / "pipelines"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInProgress, match=f"process {holder.pid}"), one_run_at_a_time(pipeline):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    # the holder was killed: the lock went with it, though its file stays
    assert lock_path(pipeline).exists()
    with one_run_at_a_time(pipeline):
        assert json.loads(holder_file(clean_env / "pipelines", "locked").read_text())["pid"] == os.getpid()
    assert not holder_file(clean_env / "pipelines", "locked").exists()
