"""Benchmark a full load of the connector against the local simulator, each in its own process.

For each size and mode: start `pipedrive-source simulate` (a separate process, so that the connector's memory
is measured alone), wait until it serves, run `pipedrive-source run` (a full load of every table the CLI loads
by default, into DuckDB, in a temporary working directory) while sampling its memory, then count what landed
in DuckDB and ask the simulator what it served (`GET /_simulator/stats`). Prints a Markdown table and writes
it, with the machine and the command, to `benchmarks/results.md`. See `benchmarks/README.md`.

    python benchmarks/run_benchmark.py --sizes 20000 --mode unlimited
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

try:
    import psutil
except ImportError:  # the `bench` extra; without it the peak of the largest process is still measured
    psutil = None

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
API_KEY = "benchmark-key"
DATASET = "pipedrive_data"
SIZES = (20_000, 200_000, 1_000_000)
SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Mode:
    """How the simulator stands in for the real services."""

    name: str
    latency: float
    """Seconds added to every request."""
    rate_limit: float
    """Maton requests per second per key (0: none)."""


MODES = {
    "unlimited": Mode("unlimited", latency=0.0, rate_limit=0.0),
    "limited": Mode("limited", latency=0.15, rate_limit=10.0),
}


@dataclass
class Result:
    mode: Mode
    deals: int
    records: int
    wall_seconds: float
    requests: int
    tokens: int
    peak_rss_mb: float
    rate_limited: dict[str, int]
    exit_code: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def lower_bound_seconds(self) -> float | None:
        """The fastest a run can be under the rate limit: `requests / rate`."""
        return self.requests / self.mode.rate_limit if self.mode.rate_limit else None

    @property
    def refused(self) -> int:
        return sum(self.rate_limited.values())


def console_script() -> list[str]:
    """The `pipedrive-source` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("pipedrive-source")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("pipedrive-source")
    if found:
        return [found]
    return [sys.executable, "-c", "from pipedrive_source.cli import main; main()"]


def compile_connector() -> None:
    """Write the connector's bytecode, as an installed package has it.

    An editable install (`pip install -e .`) leaves the compiling to the first import, which caches it. Where
    `PYTHONDONTWRITEBYTECODE` is set, as on this project's development machine, nothing is cached and every
    run would compile the connector's modules from source again (0.2 s), which no installed connector pays.
    """
    spec = importlib.util.find_spec("pipedrive_source")
    for location in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(location, quiet=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str, timeout: float = 10.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


@contextlib.contextmanager
def simulator(deals: int, mode: Mode, seed: int, log_path: Path) -> Iterator[str]:
    """A `pipedrive-source simulate` process serving `deals` deals; yields its root URL once it serves."""
    port = free_port()
    command = [
        *console_script(),
        "simulate",
        "--port",
        str(port),
        "--api-key",
        API_KEY,
        "--deals",
        str(deals),
        "--seed",
        str(seed),
        "--latency",
        str(mode.latency),
        "--rate-limit",
        str(mode.rate_limit),
    ]
    root = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600 + deals / 1000
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the simulator exited with {process.returncode}: see {log_path}")
                try:
                    get_json(f"{root}/_simulator/stats", timeout=2)
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the simulator did not serve in time: see {log_path}") from None
                    time.sleep(0.2)
            yield root
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class TreeMemory:
    """Samples the summed resident memory of a process and its descendants (psutil), keeping the peak."""

    def __init__(self, pid: int) -> None:
        self.peak_bytes = 0
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        if psutil is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        try:
            root = psutil.Process(self._pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            total = 0
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(SAMPLE_SECONDS)


def connector_env(root: str, workdir: Path, requests_per_second: float) -> dict[str, str]:
    """The machine's environment without any Pipedrive settings, pointed at the simulator's Maton layer.

    The connector's own limiter is set to the simulated gateway's limit (0: off, in the unlimited mode).
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SOURCES__", "DESTINATION__")) and name not in ("MATON_API_KEY",)
    }
    env.update(
        {
            "SOURCES__PIPEDRIVE__BASE_URL": f"{root}/pipedrive",
            "MATON_API_KEY": API_KEY,
            "DLT_DATA_DIR": str(workdir / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND": str(requests_per_second),
        }
    )
    return env


def run_connector(
    root: str, workdir: Path, extra_args: list[str], requests_per_second: float
) -> tuple[int, float, float]:
    """`pipedrive-source run` in `workdir`: its exit code, wall seconds and peak memory (MB)."""
    command = [*console_script(), "run", *extra_args]
    with open(workdir / "connector.log", "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=connector_env(root, workdir, requests_per_second),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        with TreeMemory(process.pid) as sampled:
            # the process's own accounting as it is reaped: the kernel's high-water mark of its memory,
            # which a sampler could miss between two samples
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss (KB on Linux) is the largest single process; the sampler sees the sum when dlt starts workers
    peak = max(usage.ru_maxrss * 1024, sampled.peak_bytes)
    return process.returncode, wall, peak / 2**20


def count_records(workdir: Path) -> int:
    """Rows of the top-level tables (one per API record; not the child tables of nested lists) in the DuckDB
    file(s) the run wrote."""
    records = 0
    for database in sorted(workdir.rglob("*.duckdb")):
        with duckdb.connect(str(database), read_only=True) as db:
            tables = db.execute(
                "select table_name from information_schema.tables where table_schema = ?", [DATASET]
            ).fetchall()
            for (table,) in tables:
                if table.startswith("_dlt") or "__" in table:
                    continue
                (rows,) = db.execute(f'select count(*) from "{DATASET}"."{table}"').fetchone()  # type: ignore[misc]
                records += rows
    return records


def measure(deals: int, mode: Mode, seed: int, extra_args: list[str], keep: bool) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"pipedrive-bench-{mode.name}-{deals}-"))
    try:
        with simulator(deals, mode, seed, workdir / "simulator.log") as root:
            exit_code, wall, peak_mb = run_connector(root, workdir, extra_args, mode.rate_limit)
            stats = get_json(f"{root}/_simulator/stats")
        if exit_code not in (0, 3):
            tail = (workdir / "connector.log").read_text()[-3000:]
            print(f"\n--- connector exited with {exit_code}; end of its output:\n{tail}", file=sys.stderr)
            keep = True
        return Result(
            mode=mode,
            deals=deals,
            records=count_records(workdir),
            wall_seconds=wall,
            requests=int(stats["by_layer"].get("maton", 0)),
            tokens=int(stats["tokens"]),
            peak_rss_mb=peak_mb,
            rate_limited={str(k): int(v) for k, v in stats["rate_limited"].items()},
            exit_code=exit_code,
        )
    finally:
        if keep:
            print(f"(kept {workdir})", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def table(results: list[Result]) -> str:
    header = (
        "| mode | deals | records | wall s | records/s | requests | tokens | peak RSS MB "
        "| lower bound s | wall / bound | 429s |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in results:
        bound = r.lower_bound_seconds
        causes = ", ".join(f"{cause} {count}" for cause, count in r.rate_limited.items())
        refused = f"{r.refused} ({causes})" if r.refused else "0"
        lines.append(
            f"| {r.mode.name} | {r.deals:,} | {r.records:,} | {r.wall_seconds:.1f} "
            f"| {r.records_per_second:,.0f} | {r.requests:,} | {r.tokens:,} | {r.peak_rss_mb:,.0f} "
            f"| {f'{bound:.1f}' if bound is not None else '-'} "
            f"| {f'{r.wall_seconds / bound:.2f}' if bound else '-'} | {refused} |"
            + ("" if r.exit_code == 0 else f" exit {r.exit_code}")
        )
    return "\n".join(lines)


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 2**20:.1f} GiB memory, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, dlt {version_of('dlt')}, "
        f"duckdb {version_of('duckdb')}, pyarrow {version_of('pyarrow')}"
    )


def report(results: list[Result], command: str) -> str:
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"- Date: {when}",
            f"- Machine: {machine()}",
            f"- Command: `{command}`",
            "- Columns: see `benchmarks/README.md`. *limited*: 150 ms latency per request and Maton's 10",
            "  requests/second; the lower bound is `requests / 10` seconds.",
            "",
            table(results),
            "",
        ]
    )


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(SIZES),
        help="comma-separated numbers of deals (persons, organizations, activities, ... follow them); "
        "default 20000,200000,1000000",
    )
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both", help="default: both")
    parser.add_argument("--seed", type=int, default=42, help="seed of the simulated data (default 42)")
    parser.add_argument(
        "--resources", help="comma-separated tables to load (default: what `pipedrive-source run` loads)"
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"Markdown file to write (default {RESULTS})"
    )
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--keep", action="store_true", help="keep each run's working directory (logs, DuckDB)"
    )
    args = parser.parse_args(argv)

    modes = list(MODES.values()) if args.mode == "both" else [MODES[args.mode]]
    extra = ["--resources", args.resources] if args.resources else []
    command = shlex.join(["python", "benchmarks/run_benchmark.py", *(sys.argv[1:] if argv is None else argv)])
    compile_connector()
    results = []
    for mode in modes:
        for deals in args.sizes:
            print(f"{mode.name}, {deals:,} deals ...", file=sys.stderr, flush=True)
            result = measure(deals, mode, args.seed, extra, args.keep)
            results.append(result)
            print(table([result]).splitlines()[-1], file=sys.stderr, flush=True)
    text = report(results, command)
    print(text)
    if not args.no_write:
        args.results.write_text(text)
        print(f"(written to {args.results})", file=sys.stderr)
    failed = [r for r in results if r.exit_code not in (0, 3)]
    limited_429 = [r for r in results if r.mode.rate_limit and r.refused]
    if limited_429:
        print("WARNING: the simulator answered 429 in the rate-limited benchmark", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
