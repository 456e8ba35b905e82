"""pipedrive-source: a dlt source for the Pipedrive CRM."""
