"""Where a pipeline's data lives, in the words of messages and summaries.

DuckDB's file is named by its absolute path; another destination by its displayable location (dlt's own
rendering, passwords hidden) and dataset.
"""

from __future__ import annotations

import os

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials


def duckdb_credentials_of(pipeline: dlt.Pipeline) -> DuckDbCredentials | None:
    """The resolved credentials of the pipeline's DuckDB destination; None for another destination."""
    destination = pipeline.destination
    if destination is None or destination.destination_type != "dlt.destinations.duckdb":
        return None
    credentials = pipeline.destination_client().config.credentials
    return credentials if isinstance(credentials, DuckDbCredentials) else None


def duckdb_file_of(credentials: DuckDbCredentials | None) -> str | None:
    """The absolute path of the file of DuckDB `credentials`; None for another destination, an in-memory
    database or an external connection (held open by its owner)."""
    if credentials is None or getattr(credentials, "_external_conn", None) is not None:
        return None
    database = credentials.database
    if not isinstance(database, str) or not database or database.startswith(":"):
        return None
    return os.path.abspath(database)


def duckdb_file(pipeline: dlt.Pipeline) -> str | None:
    """The absolute path of the pipeline's DuckDB file (see `duckdb_file_of`)."""
    return duckdb_file_of(duckdb_credentials_of(pipeline))


def data_location(pipeline: dlt.Pipeline) -> str:
    """`DuckDB file /data/pipedrive.duckdb, dataset 'pipedrive_data'`, or the destination's location."""
    dataset = f"dataset {pipeline.dataset_name!r}"
    database = duckdb_file(pipeline)
    if database is not None:
        return f"DuckDB file {database}, {dataset}"
    destination = pipeline.destination
    if destination is None:
        return f"no destination yet, {dataset}"
    try:
        shown = str(pipeline.destination_client().config)
    except Exception:  # a destination whose configuration does not resolve here: its name says enough
        shown = ""
    name = destination.destination_name
    return f"{name} {shown}, {dataset}" if shown else f"{name}, {dataset}"
