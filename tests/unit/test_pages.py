"""Arrow pages: records typed by the column hints, objects flattened, lists kept, pages joined."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipedrive_source.column_types import column_schema, entity_columns
from pipedrive_source.pages import TIMESTAMP, PageTables, ValueConversionError, concatenated
from pipedrive_source.source import every_column

UTC = timezone.utc
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))["example"]


def hints(**types: str) -> dict[str, Any]:
    return {name: column_schema(name, data_type) for name, data_type in types.items()}  # type: ignore[arg-type]


def test_v1_and_v2_timestamps_become_utc_timestamps_and_blanks_nulls():
    tables = PageTables("notes", hints(update_time="timestamp"))

    v1 = tables([{"update_time": "2024-01-02 09:30:15"}, {"update_time": "0000-00-00 00:00:00"}])
    v2 = tables([{"update_time": "2024-01-02T11:30:15.250+02:00"}, {"update_time": ""}])

    assert v1.schema.field("update_time").type == TIMESTAMP
    assert v1.column("update_time").to_pylist() == [datetime(2024, 1, 2, 9, 30, 15, tzinfo=UTC), None]
    assert v2.column("update_time").to_pylist() == [datetime(2024, 1, 2, 9, 30, 15, 250000, tzinfo=UTC), None]


def test_a_page_mixing_timestamp_formats_is_parsed_value_by_value():
    tables = PageTables("notes", hints(update_time="timestamp"))

    page = tables([{"update_time": "2024-01-02 09:30:15"}, {"update_time": "2024-01-03T00:00:00Z"}])

    assert page.column("update_time").to_pylist() == [
        datetime(2024, 1, 2, 9, 30, 15, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    ]


def test_money_ids_flags_dates_and_times_get_their_types_from_texts_and_numbers_alike():
    tables = PageTables(
        "deals", hints(value="decimal", owner_id="bigint", done="bool", due="date", at="time", rate="double")
    )
    records = [
        {"value": 1234.5, "owner_id": 7, "done": True, "due": "2024-05-31", "at": "09:30:00", "rate": 1},
        {"value": "12.50", "owner_id": "8", "done": 0, "due": "", "at": None, "rate": 2.5},
    ]

    page = tables(records)

    assert page.schema.field("value").type == pa.decimal128(38, 9)
    assert page.column("value").to_pylist() == [Decimal("1234.5"), Decimal("12.5")]
    assert page.column("owner_id").to_pylist() == [7, 8]
    assert page.column("done").to_pylist() == [True, False]
    assert page.column("due").to_pylist() == [date(2024, 5, 31), None]
    assert page.column("at").to_pylist() == [time(9, 30), None]
    assert page.column("rate").to_pylist() == [1.0, 2.5]


def test_a_value_no_conversion_takes_fails_with_table_column_and_record():
    tables = PageTables("deals", hints(owner_id="bigint"))

    with pytest.raises(ValueConversionError, match=r"deals\.owner_id of record id=2: 'Bob' is not a bigint"):
        tables([{"id": 1, "owner_id": 7}, {"id": 2, "owner_id": "Bob"}])


def test_objects_become_one_column_per_key_and_lists_stay_lists():
    tables = PageTables("organizations", {})
    records = [
        {"id": 1, "address": {"value": "Narva mnt 5", "country": "Estonia"}, "label_ids": [3, 4]},
        {"id": 2, "address": None, "label_ids": []},
    ]

    page = tables(records)

    assert page.column_names == ["id", "address__value", "address__country", "label_ids"]
    assert page.column("address__country").to_pylist() == ["Estonia", None]
    assert page.column("label_ids").to_pylist() == [[3, 4], []]


def test_unhinted_columns_keep_the_type_of_their_first_page():
    tables = PageTables("deals", {})

    first = tables([{"probability": 50, "address": {"value": "x"}}])
    all_null = tables([{"probability": None, "address": None}])
    floats = tables([{"probability": 20.0, "address": {"value": "y"}}])

    assert first.schema.field("probability").type == pa.int64()
    assert all_null.schema.field("probability").type == pa.int64()
    assert all_null.schema.field("address__value").type == pa.string()
    assert floats.schema.field("probability").type == pa.int64()
    assert floats.column("probability").to_pylist() == [20]


def test_values_of_mixed_types_become_texts():
    tables = PageTables("deals", {})

    page = tables([{"origin_id": 17}, {"origin_id": "web-17"}, {"origin_id": {"a": 1}}])

    assert page.column("origin_id").to_pylist() == ["17", "web-17", '{"a":1}']


def test_records_missing_keys_get_nulls_and_the_primary_key_is_not_nullable():
    tables = PageTables("deals", hints(id="bigint", title="text"), required=("id",))

    page = tables([{"id": 1, "title": "A", "interests": ["Hardware"]}, {"id": 2, "title": "B"}])

    assert page.column("interests").to_pylist() == [["Hardware"], None]
    assert page.schema.field("id").nullable is False
    assert page.schema.field("title").nullable is True


def test_every_page_has_every_typed_hinted_column_in_the_hints_order_then_the_others():
    # dlt's schema has the hinted columns from the first page on: pages that match it in columns and order
    # are loaded as extracted, without the normalize step rewriting them
    tables = PageTables(
        "deals", hints(id="bigint", title="text", value="decimal", won_time="timestamp"), required=("id",)
    )

    first = tables([{"title": "A", "id": 1, "note": "x"}])
    second = tables([{"id": 2, "won_time": "2026-01-01T00:00:00Z", "value": 3}])

    assert first.column_names == ["id", "title", "value", "won_time", "note"]
    assert second.column_names == ["id", "title", "value", "won_time"]
    assert first.schema.field("won_time").type == second.schema.field("won_time").type == TIMESTAMP
    assert first.column("value").to_pylist() == [None]
    assert second.column("title").to_pylist() == [None]
    assert second.column("value").to_pylist() == [Decimal(3)]


def test_an_official_v2_deal_converts_with_the_spec_hints():
    deal = example("v2_deal_single.json")["data"]
    deal.pop("custom_fields")

    page = PageTables("deals", entity_columns("deals"), required=("id",))([deal])

    row = page.to_pylist()[0]
    assert row["add_time"] == datetime(2021, 1, 1, tzinfo=UTC)
    assert row["expected_close_date"] == date(2021, 1, 1)
    assert isinstance(row["value"], Decimal)
    assert row["label_ids"] == deal["label_ids"]


def test_pages_are_joined_in_order_into_tables_of_at_least_the_given_rows():
    pages = [pa.table({"id": [n, n + 1]}) for n in range(0, 10, 2)]
    pages[1] = pa.table({"id": [2, 3], "title": ["B", "C"]})

    joined = list(concatenated(pages, min_rows=4))

    assert [table.num_rows for table in joined] == [4, 4, 2]
    assert sum((table.column("id").to_pylist() for table in joined), []) == list(range(10))
    assert joined[0].column("title").to_pylist() == [None, None, "B", "C"]


def test_the_dedup_key_of_a_row_ignores_nulls_so_page_layout_cannot_change_it():
    # the same deal read by two runs: once on a page where another deal had an address, once alone
    with_address = PageTables("deals", {})([{"id": 1, "address": None}, {"id": 2, "address": {"value": "x"}}])
    alone = PageTables("deals", {})([{"id": 1, "address": None}])
    with_address, alone = with_address.to_pylist()[0], alone.to_pylist()[0]

    assert with_address != alone
    assert [with_address[k] for k in every_column(with_address)] == [alone[k] for k in every_column(alone)]
    assert every_column(pa.table({"b": [1], "a": [2]})) == ["a", "b"]
