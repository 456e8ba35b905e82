"""Turning failures into the one-paragraph message on stderr and exit code 1, without a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from pipedrive_source.errors import message_for


@contextlib.contextmanager
def exit_on_failure() -> Iterator[None]:
    """Print the message of any failure to stderr and exit 1; click's usage errors keep their exit 2."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:
        click.echo(f"Error: {message_for(exc)}", err=True)
        raise SystemExit(1) from None
