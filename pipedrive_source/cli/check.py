"""`pipedrive-source check`: verify the credentials and connection with one cheap request (`users/me`)."""

from __future__ import annotations

import click

from pipedrive_source.cli import cli
from pipedrive_source.cli.failures import exit_on_failure
from pipedrive_source.client import PipedriveClient
from pipedrive_source.config import ConnectionSettings, settings_from_config


def _route(settings: ConnectionSettings) -> str:
    if settings.layer == "maton":
        connection = settings.connection_id or "the oldest active connection"
        return f"through the Maton gateway ({settings.base_url}, {connection})"
    return f"directly ({settings.base_url}, {settings.auth_mode})"


@cli.command()
def check() -> None:
    """Check the credentials and connection: prints who is connected to which Pipedrive company."""
    with exit_on_failure():
        settings = settings_from_config()
        me = PipedriveClient(settings).users_me()
    company = me.get("company_name") or "?"
    domain = me.get("company_domain")
    click.echo(f"Connected {_route(settings)}")
    click.echo(f"User:    {me.get('name') or '?'} <{me.get('email') or '?'}>")
    click.echo(f"Company: {company}" + (f" ({domain}.pipedrive.com)" if domain else ""))
