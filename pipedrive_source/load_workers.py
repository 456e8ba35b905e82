"""How many load jobs run at a time into DuckDB: two for a small load, one for a large one.

DuckDB's memory limit is per database, so the pipeline loads one job at a time by default
(`pipeline.PIPELINE_SETTINGS`): whatever the size, a merge then has the whole limit to itself. A small load
(a nightly incremental run, a full load of a small account) spends most of its load step in dlt's handling of
each job between DuckDB's statements, and two jobs at a time overlap one's handling with the other's SQL: at
20,000 deals the load step took 0.72-0.77 s instead of 1.05 s.

Two merges side by side need memory together. Measured with DuckDB's default limit here (192 MB): at
200,000 deals, the largest tables (about 27 MB of parquet each for deals and activities) merged side by side
within it; at 1,000,000 deals (about 136 MB) two merges ran out of memory, and dlt took the error as
transient and ran them again. So a load runs two jobs at a time only while no table of the packages to load
has more bytes of files than `SMALL_TABLE_SHARE` of the limit: 16 MB at the default, well under the 27 MB
that fitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import dlt

PARALLEL_JOBS = 2
"""Load jobs at a time for a small load: DuckDB already runs each statement on both cores of a small
machine; a second job fills the gaps between statements."""

SMALL_TABLE_SHARE = 1 / 12
"""The most parquet a table of a small load may have, as a share of DuckDB's memory limit."""

_BYTES_PER_UNIT = {
    "": 1,
    "b": 1,
    "bytes": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def memory_limit_bytes(setting: object) -> int | None:
    """DuckDB's `memory_limit` setting (`"192MB"`, `"2GiB"`, ...) in bytes; None if it is not a size."""
    match = _SIZE.match(str(setting))
    if match is None or match.group(2).lower() not in _BYTES_PER_UNIT:
        return None
    return int(float(match.group(1)) * _BYTES_PER_UNIT[match.group(2).lower()])


def jobs_at_a_time(table_bytes: Iterable[int], memory_limit: object) -> int:
    """`PARALLEL_JOBS` when every table's files (`table_bytes`) fit in `SMALL_TABLE_SHARE` of
    `memory_limit` (a DuckDB setting), else 1 (also when the limit is not a size)."""
    limit = memory_limit_bytes(memory_limit)
    if limit is None:
        return 1
    largest = max(table_bytes, default=0)
    return PARALLEL_JOBS if largest <= limit * SMALL_TABLE_SHARE else 1


def pending_table_bytes(pipeline: dlt.Pipeline) -> list[int]:
    """Bytes of the files of each table of each package `pipeline.load()` would load now."""
    sizes: list[int] = []
    for load_id in pipeline.list_normalized_load_packages():
        per_table: dict[str, int] = {}
        for job in pipeline.get_load_package_info(load_id).jobs["new_jobs"]:
            table = job.job_file_info.table_name
            per_table[table] = per_table.get(table, 0) + job.file_size
        sizes.extend(per_table.values())
    return sizes
