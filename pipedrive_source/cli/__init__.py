"""The `pipedrive-source` command line.

Each sub-command lives in its own module and registers itself on `cli` here.
"""

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Load Pipedrive CRM data with dlt, through the Maton gateway or directly."""


def main() -> None:
    # Importing the package imports neither dlt nor the source (`pipedrive_source.__getattr__`): the
    # process-wide policies come first.
    from pipedrive_source.cli.gc_policy import collect_rarely, pause_collections, skip_collections_at_exit
    from pipedrive_source.memory import limit_malloc_arenas

    # before any thread starts: a thread's first allocation picks its heap
    limit_malloc_arenas()
    pause_collections()
    from pipedrive_source.config import without_airflow_secrets

    without_airflow_secrets()
    from pipedrive_source.cli import (  # noqa: F401
        check,
        connections,
        run,
        simulate,  # noqa: F401
    )

    collect_rarely()
    try:
        cli()
    finally:
        skip_collections_at_exit()
