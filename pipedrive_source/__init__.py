"""pipedrive-source: a dlt source for the Pipedrive CRM, through the Maton gateway or directly.

import dlt
from pipedrive_source import pipedrive_source

dlt.pipeline("pipedrive", destination="duckdb", dataset_name="pipedrive").run(pipedrive_source())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipedrive_source.errors import ConfigurationError, PipedriveError
    from pipedrive_source.source import pipedrive_source

__all__ = ["ConfigurationError", "PipedriveError", "pipedrive_source"]

_MODULE_OF = {"ConfigurationError": "errors", "PipedriveError": "errors", "pipedrive_source": "source"}


def __getattr__(name: str) -> Any:
    # Imported when first asked for, not with the package: the command line (`pipedrive_source.cli`) sets
    # its process-wide policies (allocator, garbage collector) before dlt and the source are imported.
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value
