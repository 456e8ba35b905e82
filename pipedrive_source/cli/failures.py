"""Turning failures into the one-paragraph message on stderr and exit code 1, without a traceback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import click
from requests import RequestException

from pipedrive_source.errors import PipedriveError, connection_failed, find_cause, redact

SECRET_ENV = (
    "MATON_API_KEY",
    "SOURCES__PIPEDRIVE__MATON_API_KEY",
    "SOURCES__PIPEDRIVE__API_TOKEN",
    "SOURCES__PIPEDRIVE__ACCESS_TOKEN",
)


def message_for(exc: BaseException) -> str:
    """The message to show for a failed command: ours when we know the cause, else dlt's own words."""
    cause = find_cause(exc)
    if isinstance(cause, PipedriveError):
        return str(cause)
    if isinstance(cause, RequestException) and getattr(cause, "response", None) is None:
        return str(connection_failed(cause, attempts=1))
    # dlt masks the secrets it knows; the environment's are masked here as a last guard.
    return redact(f"{type(cause).__name__}: {cause}", (os.environ.get(name) for name in SECRET_ENV))


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
