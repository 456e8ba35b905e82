"""`pipedrive-source connections list|create|show|delete`: the Maton connections of the configured key.

Uses the same Maton key and gateway as `run` (MATON_API_KEY, `sources.pipedrive.*`). Exit codes: 0 done, 1
failed (the message says how to fix it) or deletion not confirmed, 2 wrong usage.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime

import click

from pipedrive_source.cli import cli
from pipedrive_source.cli.failures import exit_on_failure
from pipedrive_source.connections import (
    METHODS,
    STATUSES,
    MatonConnection,
    MatonConnections,
    checked_connection_id,
)
from pipedrive_source.errors import ConfigurationError

LISTED_BY_DEFAULT = ("ACTIVE", "PENDING")
DEFAULT_MARK = "*"
COLUMNS = ("id", "status", "method", "created (UTC)", "last updated (UTC)")


class ConnectionId(click.ParamType):
    """A Maton connection id (a UUID): anything else is wrong usage (exit 2) before any request."""

    name = "connection id"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return checked_connection_id(value)
        except ConfigurationError as exc:
            self.fail(str(exc), param, ctx)


def _when(text: str | None) -> str:
    """Maton's ISO time as `2025-12-08 07:20:53` (UTC), or as sent when it does not parse."""
    if not text:
        return "-"
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return text


def table(connections: Sequence[MatonConnection]) -> list[str]:
    """The lines of the connections table; the oldest ACTIVE one, the gateway's default, is marked."""
    default = next((c.connection_id for c in connections if c.status == "ACTIVE"), None)
    rows = [COLUMNS] + [
        (
            c.connection_id + (f" {DEFAULT_MARK}" if c.connection_id == default else ""),
            c.status,
            c.method or "-",
            _when(c.creation_time),
            _when(c.last_updated_time),
        )
        for c in connections
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    if default:
        lines.append(
            f"{DEFAULT_MARK} the default: the oldest ACTIVE connection, used when no connection_id is set."
        )
    return lines


def _describe(connection: MatonConnection) -> list[str]:
    lines = [
        f"id:            {connection.connection_id}",
        f"status:        {connection.status}",
        f"app:           {connection.app}",
        f"method:        {connection.method or '-'}",
        f"created:       {_when(connection.creation_time)} UTC",
        f"last updated:  {_when(connection.last_updated_time)} UTC",
    ]
    if connection.url:
        lines.append(f"authorize at:  {connection.url}")
    return lines


@cli.group()
def connections() -> None:
    """List, create, show and delete the Maton connections to Pipedrive of your Maton API key.

    Each connection links one Pipedrive company; load one with SOURCES__PIPEDRIVE__CONNECTION_ID=<id>.
    """


@connections.command("list")
@click.option(
    "--status",
    "statuses",
    type=click.Choice(STATUSES, case_sensitive=False),
    multiple=True,
    help="Only connections with this status (repeatable). Default: ACTIVE and PENDING.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def list_connections(statuses: tuple[str, ...], as_json: bool) -> None:
    """The Pipedrive connections of the Maton key, oldest first."""
    wanted = tuple(dict.fromkeys(s.upper() for s in statuses)) or LISTED_BY_DEFAULT
    with exit_on_failure():
        maton = MatonConnections.from_config()
        # One request either way: the API filters by a single status only.
        found = maton.list(wanted[0]) if len(wanted) == 1 else maton.list()
    found = [c for c in found if c.status in wanted]
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(c) for c in found], indent=2))
        return
    if not found:
        hint = ": create one with `pipedrive-source connections create`" if "ACTIVE" in wanted else ""
        click.echo(f"No {' or '.join(wanted)} Pipedrive connections for this Maton API key{hint}.")
        return
    for line in table(found):
        click.echo(line)


@connections.command()
@click.option(
    "--method",
    type=click.Choice(METHODS, case_sensitive=False),
    default="OAUTH2",
    show_default=True,
    help="How Maton authorizes Pipedrive.",
)
@click.option("--wait", is_flag=True, help="Wait until the connection is authorized (ACTIVE).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="With --wait: seconds to wait for the authorization.",
)
@click.option(
    "--poll-every",
    type=click.FloatRange(min=0),
    default=2,
    show_default=True,
    help="With --wait: seconds between checks.",
)
def create(method: str, wait: bool, timeout: float, poll_every: float) -> None:
    """Create a Pipedrive connection and print the URL to open in a browser to authorize it.

    The last line printed is the connection's id.
    """
    with exit_on_failure():
        maton = MatonConnections.from_config()
        created = maton.create(method)
    click.echo(f"Created Maton connection {created.connection_id} ({created.status}).")
    click.echo("Open this URL in a browser and authorize Pipedrive:")
    click.echo(f"\n    {created.url or 'see your maton.ai dashboard'}\n")
    if wait:
        click.echo(f"Waiting up to {timeout:.0f} s for the authorization...", err=True)
        with exit_on_failure():
            maton.wait_until_active(created.connection_id, timeout=timeout, poll_every=poll_every)
        click.echo(
            f"Connection {created.connection_id} is ACTIVE: load it with "
            f"SOURCES__PIPEDRIVE__CONNECTION_ID={created.connection_id}."
        )
    else:
        click.echo(
            f"Then check it with `pipedrive-source connections show {created.connection_id}` "
            "(status ACTIVE once authorized)."
        )
    click.echo(created.connection_id)


@connections.command()
@click.argument("connection_id", type=ConnectionId())
def show(connection_id: str) -> None:
    """Show one connection: status, method, times and its authorization URL."""
    with exit_on_failure():
        connection = MatonConnections.from_config().get(connection_id)
    for line in _describe(connection):
        click.echo(line)


@connections.command()
@click.argument("connection_id", type=ConnectionId())
@click.option("--yes", "-y", is_flag=True, help="Delete without asking for confirmation.")
def delete(connection_id: str, yes: bool) -> None:
    """Delete a connection: loads naming it fail from then on."""
    with exit_on_failure():
        maton = MatonConnections.from_config()
        connection = maton.get(connection_id)
    if not yes:
        question = (
            f"Delete Maton connection {connection.connection_id} ({connection.status}, created "
            f"{_when(connection.creation_time)} UTC)? Loads using it will fail"
        )
        if not click.confirm(question, default=False, err=True):
            click.echo("Nothing deleted.", err=True)
            raise SystemExit(1)
    with exit_on_failure():
        maton.delete(connection.connection_id)
    click.echo(f"Deleted Maton connection {connection.connection_id}.")
