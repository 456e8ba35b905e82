"""Token costs: the package's own table (`pipedrive_source.token_costs`)."""

from pipedrive_source.token_costs import DEFAULT_COST, TOKEN_COSTS  # noqa: F401
