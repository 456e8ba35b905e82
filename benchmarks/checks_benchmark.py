"""What the checks of a run cost (`pipedrive_source/guards/`): requests, tokens and time.

Loads an account of the simulator in full into DuckDB, then runs incremental runs with nothing changed (the
run where the checks weigh most) and times, within each, the checks against the destination
(`agree_with_destination`) and the account check before the first read (`FirstReadChecks`, one `users/me`).
Writes a Markdown table to `benchmarks/checks.md` (or `--results`).

    python benchmarks/checks_benchmark.py                 # 20,000 deals, 5 incremental runs
    python benchmarks/checks_benchmark.py --deals 2000 --runs 3 --no-write

In one process: the simulator serves from a thread, so its time is in the figures (as in the user's run, the
answer's latency is). The runs load the core tables, as the speed benchmark does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORE = [
    *("deals", "persons", "organizations", "activities", "products"),
    *("pipelines", "stages", "notes", "users"),
]


@contextmanager
def timed(owner: Any, name: str, spent: dict[str, list[float]], label: str) -> Iterator[None]:
    """Add the seconds each call of `owner.name` takes to `spent[label]` while the block runs."""
    original: Callable[..., Any] = getattr(owner, name)

    def measured(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label].append(time.perf_counter() - started)

    setattr(owner, name, measured)
    try:
        yield
    finally:
        setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "checks.md"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pipedrive-checks-"))
    os.chdir(work)
    os.environ.update(
        DLT_DATA_DIR=str(work / "dlt"),
        RUNTIME__DLTHUB_TELEMETRY="false",
        RUNTIME__LOG_LEVEL="ERROR",
        PROVIDERS__ENABLE_AIRFLOW_SECRETS="false",
        MATON_API_KEY="checks-benchmark-key",
        SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND="0",
    )
    import pipedrive_source.pipeline as pipeline_module
    from pipedrive_source import pipedrive_source
    from pipedrive_source.guards.first_read import FirstReadChecks
    from pipedrive_source.progress import track_usage
    from pipedrive_source.testing import simulator

    rows = []
    with simulator(deals=args.deals, api_key="checks-benchmark-key", rate_limit=None) as sim:
        os.environ["SOURCES__PIPEDRIVE__BASE_URL"] = sim.base_url
        sim.warm()
        pipeline = pipeline_module.make_pipeline("pipedrive")
        started = time.perf_counter()
        pipeline_module.run(pipeline, pipedrive_source().with_resources(*CORE))
        full_load = time.perf_counter() - started
        for _ in range(args.runs):
            spent: dict[str, list[float]] = defaultdict(list)
            with (
                timed(pipeline_module, "agree_with_destination", spent, "destination"),
                timed(FirstReadChecks, "__call__", spent, "first read"),
                track_usage() as usage,
            ):
                started = time.perf_counter()
                pipeline_module.run(pipeline, pipedrive_source().with_resources(*CORE))
                total = time.perf_counter() - started
            check = usage.by_resource().get("(account-check)")
            rows.append(
                (
                    total,
                    sum(spent["destination"]),
                    # the first call asks users/me; the others of the run wait for it or find it done
                    max(spent["first read"], default=0.0),
                    check.requests if check else 0,
                    check.tokens if check else 0,
                    usage.total().requests,
                )
            )
    lines = [
        f"Measured on {time.strftime('%Y-%m-%d')} with `python benchmarks/checks_benchmark.py --deals "
        f"{args.deals} --runs {args.runs}`: a full load of the core tables ({full_load:.1f} s), then "
        f"{args.runs} incremental runs with nothing changed, in one process with the simulator.",
        "",
        "| run | run s | destination checks s | account check s | check requests | check tokens "
        "| run requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, (total, destination, first_read, requests, tokens, all_requests) in enumerate(rows, 1):
        lines.append(
            f"| {number} | {total:.2f} | {destination:.3f} | {first_read:.3f} | {requests} | {tokens} "
            f"| {all_requests} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        Path(args.results).write_text("# What the checks of a run cost\n\n" + text)


if __name__ == "__main__":
    main()
