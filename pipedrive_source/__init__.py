"""pipedrive-source: a dlt source for the Pipedrive CRM, through the Maton gateway or directly.

import dlt
from pipedrive_source import pipedrive_source

dlt.pipeline("pipedrive", destination="duckdb", dataset_name="pipedrive").run(pipedrive_source())
"""

from pipedrive_source.errors import ConfigurationError, PipedriveError
from pipedrive_source.source import pipedrive_source

__all__ = ["ConfigurationError", "PipedriveError", "pipedrive_source"]
