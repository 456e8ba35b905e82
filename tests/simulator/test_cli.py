"""`pipedrive-source simulate` as a user runs it: prints where it serves, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import tomllib

ROOT = Path(__file__).parents[2]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The console script `pipedrive-source` runs exactly this (see test_console_script_is_declared).
RUN_CLI = "import sys; from pipedrive_source.cli import main; sys.argv[0] = 'pipedrive-source'; main()"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_until(process: subprocess.Popen, done, timeout: float) -> str:
    """Collect stdout until `done(text)` holds; the output so far on timeout or exit."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    text = ""
    deadline = time.monotonic() + timeout
    while not done(text) and time.monotonic() < deadline:
        try:
            text += lines.get(timeout=0.2)
        except queue.Empty:
            if process.poll() is not None:
                break
    return text


@pytest.fixture
def simulate():
    processes = []

    def start(*args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_CLI, "simulate", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_simulate_serves_until_interrupted(simulate):
    port = free_port()
    process = simulate("--port", str(port), "--api-key", "cli-key", "--deals", "50", "--connections", "2")
    base_url = f"http://127.0.0.1:{port}/pipedrive"
    output = read_until(process, lambda text: base_url in text and len(UUID.findall(text)) >= 2, timeout=30)
    assert base_url in output, (output, process.stderr.read() if process.poll() is not None else "")
    assert f"http://127.0.0.1:{port}/connections" in output
    assert f"http://127.0.0.1:{port}" in output.replace(base_url, "")
    connection_ids = UUID.findall(output)
    assert len(set(connection_ids)) == 2

    deals = requests.get(
        f"{base_url}/api/v2/deals",
        params={"limit": 5},
        headers={"Authorization": "Bearer cli-key"},
        timeout=30,
    )
    assert deals.status_code == 200
    assert len(deals.json()["data"]) == 5
    direct = requests.get(
        f"http://127.0.0.1:{port}/api/v1/users/me", headers={"x-api-token": "cli-key"}, timeout=30
    )
    assert direct.status_code == 200
    listed = requests.get(
        f"http://127.0.0.1:{port}/connections", headers={"Authorization": "Bearer cli-key"}, timeout=30
    ).json()["connections"]
    assert {connection["connection_id"] for connection in listed} == set(connection_ids)

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{base_url}/api/v2/deals", headers={"Authorization": "Bearer cli-key"}, timeout=5)


def test_simulate_refuses_the_wrong_key(simulate):
    port = free_port()
    process = simulate("--port", str(port), "--api-key", "cli-key", "--deals", "20")
    output = read_until(process, lambda text: f"127.0.0.1:{port}/pipedrive" in text, timeout=30)
    assert f"127.0.0.1:{port}/pipedrive" in output
    response = requests.get(
        f"http://127.0.0.1:{port}/pipedrive/api/v2/deals",
        headers={"Authorization": "Bearer other"},
        timeout=30,
    )
    assert response.status_code == 401
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def test_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pipedrive-source"] == "pipedrive_source.cli:main"


def test_simulate_help_lists_its_options():
    result = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "simulate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--port", "--api-key", "--deals", "--seed", "--connections", "--latency", "--rate-limit"):
        assert option in result.stdout
