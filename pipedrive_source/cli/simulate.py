"""`pipedrive-source simulate`: run the local Pipedrive + Maton simulator until interrupted."""

from __future__ import annotations

import time

import click

from pipedrive_source.cli import cli

DEMO_PIPELINE = "pipedrive_demo"
"""The pipeline (and DuckDB file) the simulator suggests loading into, apart from real loads."""


@cli.command()
@click.option(
    "--port", type=int, default=8765, show_default=True, help="Port on 127.0.0.1 (0: any free port)."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option(
    "--api-key",
    default="sim-key",
    show_default=True,
    help="The Maton API key (and Pipedrive API token) accepted.",
)
@click.option("--deals", type=int, default=10_000, show_default=True, help="Deals per account.")
@click.option("--persons", type=int, default=None, help="Persons per account [default: deals/2].")
@click.option("--organizations", type=int, default=None, help="Organizations per account [default: deals/7].")
@click.option("--activities", type=int, default=None, help="Activities per account [default: 2 x deals].")
@click.option("--products", type=int, default=None, help="Products per account [default: 50].")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the generated data.")
@click.option(
    "--connections", type=int, default=1, show_default=True, help="ACTIVE Maton connections (accounts)."
)
@click.option("--latency", type=float, default=0.0, show_default=True, help="Seconds added to every request.")
@click.option(
    "--rate-limit",
    type=float,
    default=10.0,
    show_default=True,
    help="Maton requests/second per key (0: none).",
)
@click.option(
    "--plan",
    type=click.Choice(["Lite", "Growth", "Premium", "Ultimate"]),
    default="Ultimate",
    show_default=True,
    help="Pipedrive plan: burst limits and daily token budget.",
)
@click.option("--error-every", type=int, default=None, help="Every N-th request answers --error-status.")
@click.option("--error-status", type=int, default=500, show_default=True, help="Status of --error-every.")
@click.option(
    "--drop-every", type=int, default=None, help="Every N-th request drops the connection mid-body."
)
@click.option(
    "--success-false-every", type=int, default=None, help="Every N-th request: 200 with success false."
)
@click.option("--burst-429", type=int, default=None, help="The first N requests answer a burst 429.")
@click.option("--daily-budget-exhausted", is_flag=True, help="Every request answers the daily-budget 429.")
@click.option("--html-403", is_flag=True, help="Every request answers the HTML 403 of a blocked client.")
@click.option(
    "--activate-after",
    type=float,
    default=None,
    help="Connections created through /connections become ACTIVE after this many seconds.",
)
@click.option(
    "--activate-after-polls",
    type=int,
    default=None,
    help="... or after this many GET /connections/{id} polls.",
)
@click.option(
    "--warm/--lazy",
    default=True,
    show_default=True,
    help="Generate the data before serving, or on the first request that needs it.",
)
def simulate(
    port: int,
    host: str,
    api_key: str,
    deals: int,
    persons: int | None,
    organizations: int | None,
    activities: int | None,
    products: int | None,
    seed: int,
    connections: int,
    latency: float,
    rate_limit: float,
    plan: str,
    error_every: int | None,
    error_status: int,
    drop_every: int | None,
    success_false_every: int | None,
    burst_429: int | None,
    daily_budget_exhausted: bool,
    html_403: bool,
    activate_after: float | None,
    activate_after_polls: int | None,
    warm: bool,
) -> None:
    """Serve a simulated Pipedrive behind a simulated Maton gateway on a loopback port, until Ctrl-C.

    The data are generated from Pipedrive's published API specs, deterministically from --seed. Point the
    connector at the printed base URL with the API key as its Maton key, or at the direct URL with the key as
    API token.
    """
    from pipedrive_source.testing import Simulator
    from pipedrive_source.testing.store import Sizes

    sizes = Sizes.derive(
        deals, persons=persons, organizations=organizations, activities=activities, products=products
    )
    try:
        sim = Simulator(
            seed=seed,
            sizes=sizes,
            connections=connections,
            api_key=api_key,
            host=host,
            port=port,
            rate_limit=rate_limit or None,
            plan=plan,
            activate_after_seconds=activate_after,
            activate_after_polls=activate_after_polls,
        )
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    faults = sim.faults
    faults.latency = latency
    if error_every:
        faults.error_every(error_every, error_status)
    if drop_every:
        faults.drop_every(drop_every)
    if success_false_every:
        faults.success_false_every(success_false_every)
    if burst_429:
        faults.burst_429(burst_429)
    if daily_budget_exhausted:
        faults.daily_budget_exhausted()
    if html_403:
        faults.html_403()
    if warm:
        started = time.perf_counter()
        sim.warm()
        click.echo(f"Generated {deals:,} deals per account in {time.perf_counter() - started:.1f} s")
    click.echo(f"Maton base URL:  {sim.base_url}   (Authorization: Bearer <api key>)")
    click.echo(f"Connections URL: {sim.connections_url}")
    click.echo(f"Direct URL:      {sim.direct_url}   (/api/v1, /api/v2; x-api-token: <api key>)")
    click.echo(f"Stats URL:       {sim.root_url}/_simulator/stats   (simulator only: requests, 429s, tokens)")
    click.echo("Connection ids (oldest first, the first is the default):")
    for connection_id in sim.connection_ids:
        click.echo(f"  {connection_id}")
    # the demo's own pipeline and DuckDB file: a real load later never continues the simulated company's
    click.echo("Load it, in another terminal:")
    click.echo(
        f"  SOURCES__PIPEDRIVE__BASE_URL={sim.base_url} MATON_API_KEY=<api key> "
        f"pipedrive-source run --pipeline-name {DEMO_PIPELINE}   (into {DEMO_PIPELINE}.duckdb)"
    )
    click.echo("Serving until Ctrl-C.")
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
