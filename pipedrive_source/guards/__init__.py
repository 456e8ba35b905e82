"""What keeps a pipeline's data whole and its own, checked at the start of every run.

- `account`: whose data a pipeline holds (the Pipedrive company, from `users/me`); another company behind
  the credentials is refused before any table is read.
- `destination`: the destination still holds what the pipeline's state says was loaded; where it does not
  (a deleted DuckDB file, a dropped dataset or table, another database), what is missing is loaded again.
- `run_lock`: one run of a pipeline at a time.
- `where`: where a pipeline's data lives, in words for messages and summaries.
"""
