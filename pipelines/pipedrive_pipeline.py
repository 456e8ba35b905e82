"""Load your Pipedrive CRM into DuckDB; run it again to load only what changed.

    export MATON_API_KEY=...            # or put it in .dlt/secrets.toml under [sources.pipedrive]
    python pipelines/pipedrive_pipeline.py

Then query it: duckdb pipedrive.duckdb "select title, value, currency from pipedrive_data.deals limit 5"
"""

from pipedrive_source import pipedrive_source
from pipedrive_source.pipeline import make_pipeline, run


def load_pipedrive() -> None:
    # dlt.pipeline() with settings for this source: DuckDB's memory limit, parquet files, `_dlt_load_id`
    pipeline = make_pipeline(
        pipeline_name="pipedrive",  # keeps the incremental state between runs
        destination="duckdb",  # the database file is pipedrive.duckdb; any dlt destination works
        dataset_name="pipedrive_data",
    )
    # All tables; pick some with pipedrive_source().with_resources("deals", "persons").
    # run() is pipeline.run() step by step, releasing memory in between, one run at a time, from what the
    # destination holds (docs/where-data-lives.md); pipeline.run() works too.
    _, load_info = run(pipeline, pipedrive_source())
    print(load_info)


if __name__ == "__main__":
    load_pipedrive()
