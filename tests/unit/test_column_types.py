"""Column types: hints derived from the specs, the v1 timestamp parser and coercer, and a load into DuckDB."""

from __future__ import annotations

import copy
import importlib.util
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from pipedrive_source.column_types import (
    builtin_columns,
    entity_columns,
    nested_hints,
    parse_v1_timestamp,
    v1_timestamp_coercer,
)
from pipedrive_source.custom_fields import CustomFieldMap
from pipedrive_source.pages import PageTables

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "data" / "examples"
UTC = timezone.utc


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))["example"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-02-04 13:58:03", datetime(2019, 2, 4, 13, 58, 3, tzinfo=UTC)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.000Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T12:30:00.250Z", datetime(2024, 1, 1, 12, 30, 0, 250000, tzinfo=UTC)),
        ("2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("0000-00-00 00:00:00", None),
    ],
)
def test_v1_and_rfc3339_timestamps_parse_to_the_same_utc_moment(text, expected):
    parsed = parse_v1_timestamp(text)

    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "garbage",
    [
        "yesterday",
        "2024-01-01",
        "2024-13-01 00:00:00",
        "2024-01-01 25:00:00",
        "01.02.2024 10:00:00",
        1700000000,
    ],
)
def test_garbage_timestamps_raise_a_clear_error(garbage):
    with pytest.raises(ValueError, match=r"Pipedrive timestamp.*YYYY-MM-DD HH:MM:SS"):
        parse_v1_timestamp(garbage)


@pytest.mark.parametrize(
    ("entity", "column", "data_type"),
    [
        ("deals", "id", "bigint"),
        ("deals", "add_time", "timestamp"),
        ("deals", "update_time", "timestamp"),
        ("deals", "archive_time", "timestamp"),
        ("deals", "first_won_time", "timestamp"),
        ("deals", "expected_close_date", "date"),
        ("deals", "local_won_date", "date"),
        ("deals", "value", "decimal"),
        ("deals", "acv", "decimal"),
        ("deals", "arr", "decimal"),
        ("deals", "mrr", "decimal"),
        ("deals", "is_deleted", "bool"),
        ("deals", "stage_id", "bigint"),
        ("deals", "products_count", "bigint"),
        ("persons", "birthday", "date"),
        ("persons", "org_id", "bigint"),
        ("organizations", "annual_revenue", "decimal"),
        ("activities", "due_date", "date"),
        ("activities", "done", "bool"),
        ("activities", "marked_as_done_time", "timestamp"),
        ("products", "is_linkable", "bool"),
        ("pipelines", "order_nr", "bigint"),
        ("stages", "pipeline_id", "bigint"),
        ("notes", "add_time", "timestamp"),
        ("notes", "pinned_to_deal_flag", "bool"),
        ("users", "last_login", "timestamp"),
        ("users", "modified", "timestamp"),
        # UUIDs are texts, so that a page where all are null cannot type them otherwise
        ("deals", "source_lead_id", "text"),
        ("leads", "id", "text"),
        ("leads", "add_time", "timestamp"),
        ("leads", "expected_close_date", "date"),
        ("leads", "is_archived", "bool"),
        ("files", "lead_id", "text"),
        ("files", "file_size", "bigint"),
        ("filters", "update_time", "timestamp"),
        ("activity_types", "order_nr", "bigint"),
        ("call_logs", "start_time", "timestamp"),
        ("projects", "start_date", "date"),
        ("projects", "update_time", "timestamp"),
        ("tasks", "is_done", "bool"),
        ("mail_threads", "last_message_timestamp", "timestamp"),
        ("lead_fields", "update_time", "timestamp"),
        ("deal_fields", "is_custom_field", "bool"),
        # the keys of an object column, as the Arrow pages flatten it
        ("leads", "value__amount", "decimal"),
        ("goals", "duration__start", "date"),
        ("goals", "expected_outcome__target", "decimal"),
        ("deal_fields", "ui_visibility__add_visible_flag", "bool"),
    ],
)
def test_built_in_columns_are_typed_from_the_specs(entity, column, data_type):
    hint = entity_columns(entity)[column]

    assert (hint["name"], hint["data_type"]) == (column, data_type)
    assert hint.get("timezone") is (True if data_type == "timestamp" else None)


@pytest.mark.parametrize(
    ("entity", "column"),
    [
        ("deals", "title"),
        ("deals", "channel_id"),
        ("leads", "title"),
        ("call_logs", "duration"),
        ("activities", "due_time"),
        ("activities", "duration"),
        ("activities", "lead_id"),
        ("users", "timezone_offset"),
    ],
)
def test_texts_times_of_day_and_durations_get_no_hint(entity, column):
    assert column in builtin_columns(entity)
    assert column not in entity_columns(entity)


def test_product_prices_and_label_ids_are_typed_in_their_child_tables():
    prices = nested_hints("products")["prices"]["columns"]
    labels = nested_hints("deals")["label_ids"]["columns"]

    assert {name: prices[name]["data_type"] for name in ("price", "cost", "direct_cost")} == dict.fromkeys(
        ("price", "cost", "direct_cost"), "decimal"
    )
    assert labels["value"]["data_type"] == "bigint"
    assert nested_hints("pipelines") == {}


def test_built_in_columns_include_example_only_and_optional_columns():
    deals = builtin_columns("deals")

    assert {"id", "title", "custom_fields", "archive_time", "local_won_date", "first_won_time"} <= deals
    assert builtin_columns("no_such_table") == frozenset()


def test_the_v1_coercer_converts_only_the_timestamp_columns():
    coerce = v1_timestamp_coercer("users")
    user = copy.deepcopy(example("v1_users_list.json")["data"][0])
    untouched = {
        key: value for key, value in user.items() if key not in ("last_login", "created", "modified")
    }

    coerced = coerce(user)

    assert coerced["last_login"] == datetime(2019, 11, 21, 8, 45, 56, tzinfo=UTC)
    assert coerced["created"] == datetime(2018, 11, 13, 9, 16, 26, tzinfo=UTC)
    assert {key: value for key, value in coerced.items() if key in untouched} == untouched


def test_the_v1_coercer_names_the_table_column_and_record_of_a_bad_value():
    coerce = v1_timestamp_coercer("notes")

    with pytest.raises(
        ValueError, match=r"notes\.update_time of record id=7: not a Pipedrive timestamp: 'soon'"
    ):
        coerce({"id": 7, "add_time": "2019-12-09 13:59:21", "update_time": "soon"})


def test_the_generated_tables_match_the_specs():
    spec = importlib.util.spec_from_file_location(
        "generate_column_types", ROOT / "tools/generate_column_types.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)

    assert generator.main(["--check"]) == 0


def test_hinted_tables_load_into_duckdb_with_the_right_types(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    fields = [
        {"field_code": "b" * 40, "field_name": "Budget", "field_type": "monetary", "is_custom_field": True},
        {"field_code": "c" * 40, "field_name": "Renewal Date", "field_type": "date", "is_custom_field": True},
        {"field_code": "d" * 40, "field_name": "Call Time", "field_type": "time", "is_custom_field": True},
        {
            "field_code": "e" * 40,
            "field_name": "Interests",
            "field_type": "set",
            "is_custom_field": True,
            "options": [{"id": 1, "label": "Hardware"}, {"id": 2, "label": "Software"}],
        },
    ]
    custom = CustomFieldMap.from_v2_fields("deals", fields)
    deal = copy.deepcopy(example("v2_deal_single.json")["data"])
    # Nulls first: without hints dlt could not type these columns from the first row.
    empty = {**copy.deepcopy(deal), "id": 2, "value": None, "acv": None, "expected_close_date": None}
    deal["value"] = 200.1
    deal["custom_fields"] = {
        "b" * 40: {"value": 2300.55, "currency": "EUR"},
        "c" * 40: "2024-05-31",
        "d" * 40: {"value": "09:30:00", "timezone_id": 318, "timezone_name": "Europe/London"},
        "e" * 40: [1, 2],
    }
    empty["custom_fields"] = dict.fromkeys(deal["custom_fields"])

    deal_columns = {**entity_columns("deals"), **custom.columns}
    deal_pages = PageTables("deals", deal_columns, required=("id",))
    user_pages = PageTables("users", entity_columns("users"))

    @dlt.resource(name="deals", columns=deal_columns, primary_key="id", write_disposition="merge")
    def deals():
        yield deal_pages([custom.flatten(empty), custom.flatten(deal)])

    @dlt.resource(name="users", columns=entity_columns("users"))
    def users():
        # v1 timestamps are texts in UTC without a zone: the Arrow page casts them
        yield user_pages(example("v1_users_list.json")["data"])

    database = tmp_path / "crm.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="column_types_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="pipedrive",
    )
    pipeline.run([deals(), users()])

    with duckdb.connect(str(database)) as db:
        types = dict(
            db.execute(
                "select table_name || '.' || column_name, data_type from information_schema.columns "
                "where table_schema = 'pipedrive'"
            ).fetchall()
        )
        nullable = dict(
            db.execute(
                "select table_name || '.' || column_name, is_nullable from information_schema.columns "
                "where table_schema = 'pipedrive'"
            ).fetchall()
        )
        budget, added, interests, label_ids = db.execute(
            "select budget, add_time, from_json(interests, '[\"VARCHAR\"]'), "
            "from_json(label_ids, '[\"BIGINT\"]') from pipedrive.deals d where id = 1"
        ).fetchone()
        last_login = db.execute("select last_login from pipedrive.users where id = 1").fetchone()[0]

    assert nullable["deals.id"] == "NO", "the column hints merge with the primary key"
    assert types["deals.value"].startswith("DECIMAL")
    assert types["deals.acv"].startswith("DECIMAL")
    assert types["deals.add_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["deals.expected_close_date"] == "DATE"
    assert types["deals.is_deleted"] == "BOOLEAN"
    assert types["deals.budget"].startswith("DECIMAL")
    assert types["deals.budget_currency"] == "VARCHAR"
    assert types["deals.renewal_date"] == "DATE"
    assert types["deals.call_time"] == "TIME"
    assert types["deals.call_time_timezone_id"] == "BIGINT"
    assert types["deals.interests"] == "JSON"
    assert types["deals.label_ids"] == "JSON"
    assert types["users.last_login"] == "TIMESTAMP WITH TIME ZONE"
    assert not [column for column in types if "custom_fields" in column or len(column.split(".")[1]) >= 40]
    assert budget == Decimal("2300.55")
    assert added == datetime(2021, 1, 1, tzinfo=UTC)
    assert interests == ["Hardware", "Software"]
    assert label_ids == deal["label_ids"]
    assert last_login == datetime(2019, 11, 21, 8, 45, 56, tzinfo=UTC)
