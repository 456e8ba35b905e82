"""Child tables: records attached to a parent record (deal products, followers, the deal flow, ...).

Each child table is a dlt transformer fed by its parent resource's pages, so it reads the children of the
parents read in the run only: all of them on a full load, the changed ones on an incremental run. See
`tables.py` for the endpoints (as data), `resources.py` for the resources and `reading.py` for the requests.

This package's `__init__` imports nothing: `client.py` imports `children.paths` to count requests.
"""
