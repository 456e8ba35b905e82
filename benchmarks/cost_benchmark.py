"""Requests and Pipedrive API tokens per table of a full and an incremental run of a realistic account.

The account is the simulator's with 20,000 deals, 10,000 persons, 3,000 organizations and 40,000 activities
(notes, leads, files, call logs, followers, participants, products of deals ... follow its proportions). The
script loads every table (`--resources all`; the ones a default run leaves out are marked) into a temporary
DuckDB file (full run), changes a day's worth of records in the simulator (`DAILY_CHANGES`), runs again
(incremental run), and a third time with the delete reconciliation forced (what the periodic id scan adds).
Requests and tokens per table are the connector's own count (`progress.track_usage`), checked against what
the simulator served. Prints a Markdown table and writes it to `benchmarks/costs.md`.

    python benchmarks/cost_benchmark.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "costs.md"
API_KEY = "cost-benchmark-key"
ACCOUNT = {"deals": 20_000, "persons": 10_000, "organizations": 3_000, "activities": 40_000}

DAILY_CHANGES: Mapping[str, tuple[float, float]] = {
    "deals": (0.02, 0.002),
    "persons": (0.01, 0.001),
    "organizations": (0.01, 0.001),
    "activities": (0.02, 0.002),
    "notes": (0.01, 0.001),
}
"""Share of each entity's records updated and deleted between the full and the incremental run: a busy
sales team's day (a fifth of them also move a deal to another stage)."""


@dataclass(frozen=True)
class Usage:
    requests: int
    tokens: int


RunCosts = dict[str, Usage]


def clean_environment(base_url: str, workdir: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__")) or name == "MATON_API_KEY":
            del os.environ[name]
    os.environ.update(
        {
            "SOURCES__PIPEDRIVE__BASE_URL": base_url,
            "MATON_API_KEY": API_KEY,
            "SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND": "0",
            # the third run forces the reconciliation: the incremental run shows the cost without it
            "SOURCES__PIPEDRIVE__RECONCILE_DELETES_EVERY_DAYS": "0",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": str(workdir / "dlt"),
        }
    )


def load(workdir: Path, reconcile: bool = False) -> RunCosts:
    """One run of every table, in process, as `pipedrive-source run --resources all`; its usage per table."""
    from pipedrive_source import pipedrive_source
    from pipedrive_source.deletes import reconciling_deletes
    from pipedrive_source.pipeline import make_pipeline, run
    from pipedrive_source.progress import track_usage
    from pipedrive_source.selection import ALL, select_tables

    forced = reconciling_deletes() if reconcile else contextlib.nullcontext()
    with track_usage() as usage, forced:
        pipeline = make_pipeline(pipelines_dir=str(workdir / "pipelines"))
        run(pipeline, select_tables(pipedrive_source(), [ALL]))
    return {name: Usage(counts.requests, counts.tokens) for name, counts in usage.by_resource().items()}


def tables_off_by_default() -> set[str]:
    from pipedrive_source import pipedrive_source
    from pipedrive_source.selection import default_tables, tables

    source = pipedrive_source()
    return set(tables(source)) - set(default_tables(source))


def change_a_day(account: Any, seed: int) -> dict[str, tuple[int, int]]:
    """Update and delete `DAILY_CHANGES` of the records; returns (updated, deleted) per entity."""
    dice = random.Random(seed)
    stages = [stage["id"] for stage in account.rows("stages")]
    done: dict[str, tuple[int, int]] = {}
    for entity, (updated_share, deleted_share) in DAILY_CHANGES.items():
        size = account.count(entity)
        chosen = dice.sample(range(1, size + 1), int(size * (updated_share + deleted_share)))
        deleted = chosen[: int(size * deleted_share)]
        updated = chosen[len(deleted) :]
        for number, record_id in enumerate(updated):
            account.update(entity, record_id, change_of(entity, number, stages, dice))
        for record_id in deleted:
            account.delete(entity, record_id)
        done[entity] = (len(updated), len(deleted))
    return done


def change_of(entity: str, number: int, stages: list[int], dice: random.Random) -> dict[str, Any]:
    if entity == "deals":
        if number % 5 == 0:
            return {"stage_id": dice.choice(stages)}
        return {"value": dice.randint(100, 90_000)}
    if entity == "activities":
        return {"done": True}
    if entity == "notes":
        return {"content": f"Follow-up {number}"}
    return {"name": f"Renamed {number}"}


def table(runs: Mapping[str, RunCosts], off_by_default: set[str]) -> str:
    names = sorted({name for costs in runs.values() for name in costs})
    header = ["table", *(f"{run} requests | {run} tokens" for run in runs)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---" * (1 + 2 * len(runs)) + "|",
    ]
    for name in names:
        cells = []
        for costs in runs.values():
            usage = costs.get(name, Usage(0, 0))
            cells += [f"{usage.requests:,}", f"{usage.tokens:,}"]
        shown = f"{name} (off by default)" if name in off_by_default else name
        lines.append(f"| {shown} | " + " | ".join(cells) + " |")
    totals = []
    for costs in runs.values():
        totals += [
            f"**{sum(u.requests for u in costs.values()):,}**",
            f"**{sum(u.tokens for u in costs.values()):,}**",
        ]
    lines.append("| **total** | " + " | ".join(totals) + " |")
    defaults = []
    for costs in runs.values():
        usual = [usage for name, usage in costs.items() if name not in off_by_default]
        defaults += [f"{sum(u.requests for u in usual):,}", f"{sum(u.tokens for u in usual):,}"]
    lines.append("| total of a default run (tables not marked off) | " + " | ".join(defaults) + " |")
    return "\n".join(lines)


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=42, help="seed of the simulated data (default 42)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"Markdown file to write (default {RESULTS})"
    )
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)

    from pipedrive_source.testing import simulator

    runs: dict[str, RunCosts] = {}
    served: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pipedrive-costs-") as folder:
        workdir = Path(folder)
        with simulator(seed=args.seed, api_key=API_KEY, rate_limit=None, **ACCOUNT) as sim:  # type: ignore[arg-type]
            clean_environment(sim.base_url, workdir)
            with working_directory(workdir):
                print("full run ...", file=sys.stderr, flush=True)
                runs["full"] = load(workdir)
                served["full"] = sim.stats()
                changed = change_a_day(sim.account(), args.seed)
                print(f"changed: {changed}; incremental run ...", file=sys.stderr, flush=True)
                runs["incremental"] = load(workdir)
                served["incremental"] = sim.stats()
                print("incremental run with delete reconciliation ...", file=sys.stderr, flush=True)
                runs["reconciling"] = load(workdir, reconcile=True)
                served["reconciling"] = sim.stats()
    text = report(runs, served, changed, tables_off_by_default())
    print(text)
    if not args.no_write:
        args.results.write_text(text)
        print(f"(written to {args.results})", file=sys.stderr)
    return 0


def report(
    runs: Mapping[str, RunCosts],
    served: Mapping[str, Any],
    changed: Mapping[str, tuple[int, int]],
    off_by_default: set[str],
) -> str:
    counted = [sum(u.requests for u in costs.values()) for costs in runs.values()]
    totals = [int(stats["by_layer"].get("maton", 0)) for stats in served.values()]
    served_per_run = [
        totals[0],
        *(later - earlier for earlier, later in zip(totals, totals[1:], strict=False)),
    ]
    changes = ", ".join(f"{entity} {u:,} updated / {d:,} deleted" for entity, (u, d) in changed.items())
    return "\n".join(
        [
            "# Cost of a full and an incremental run",
            "",
            f"Account: {', '.join(f'{n:,} {e}' for e, n in ACCOUNT.items())} (simulator seed; children "
            "proportional). Between the full and the incremental run: " + changes + ".",
            "",
            table(runs, off_by_default),
            "",
            "Requests the simulator served per run (all layers' Maton requests): "
            + ", ".join(f"{run} {n:,}" for run, n in zip(runs, served_per_run, strict=True))
            + f"; the connector counted {', '.join(f'{n:,}' for n in counted)}.",
            "",
            "Command: `python benchmarks/cost_benchmark.py`",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
