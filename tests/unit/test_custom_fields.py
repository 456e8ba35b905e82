"""Custom fields as named columns: every field type in v2 and v1, collisions, renames, deleted options, keys.

Field descriptions follow the official examples in `tests/data/examples/` (`v2_dealFields_list.json`,
`v1_dealFields_list.json`); values follow the per-type shapes of Pipedrive's v2 migration guide.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipedrive_source.custom_fields import CustomFieldMap, is_field_code

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
HEX40 = re.compile(r"[0-9a-f]{40}")


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))["example"]


def code(name: str) -> str:
    """A stable 40-hex field code, as Pipedrive gives custom fields."""
    return hashlib.sha1(name.encode()).hexdigest()


def v2_field(
    name: str, field_type: str, options: list[dict[str, Any]] | None = None, field_code: str | None = None
) -> dict[str, Any]:
    return {
        "field_name": name,
        "field_code": field_code or code(name),
        "field_type": field_type,
        "options": options,
        "subfields": None,
        "is_custom_field": True,
        "is_optional_response_field": False,
    }


def v1_field(name: str, field_type: str, field_id: int, options: list[dict[str, Any]] | None = None) -> dict:
    return {"id": field_id, "key": code(name), "name": name, "field_type": field_type, "options": options}


def assert_no_hash_columns(record: dict[str, Any]) -> None:
    assert "custom_fields" not in record
    assert not [key for key in record if HEX40.search(key)]


ADDRESS_V2 = {
    "route": "5th Avenue",
    "value": "530 Fifth Avenue, New York, NY, USA",
    "country": "United States",
    "locality": "New York",
    "postal_code": "10036",
    "sublocality": "Manhattan",
    "street_number": "530",
    "subpremise": "11",
    "admin_area_level_1": "New York",
    "admin_area_level_2": "New York County",
    "formatted_address": "530 5th Ave, New York, NY 10036, USA",
}
ADDRESS_COLUMNS = {
    "billing_address": "530 Fifth Avenue, New York, NY, USA",
    "billing_address_street_number": "530",
    "billing_address_route": "5th Avenue",
    "billing_address_subpremise": "11",
    "billing_address_sublocality": "Manhattan",
    "billing_address_locality": "New York",
    "billing_address_admin_area_level_1": "New York",
    "billing_address_admin_area_level_2": "New York County",
    "billing_address_country": "United States",
    "billing_address_postal_code": "10036",
    "billing_address_formatted_address": "530 5th Ave, New York, NY 10036, USA",
}
INTERESTS = [{"id": 31, "label": "Hardware"}, {"id": 32, "label": "Software"}, {"id": 33, "label": "Support"}]
CUSTOMER_TYPES = [{"id": 190, "label": "Private person"}, {"id": 191, "label": "Company"}]

# (field name, field type, options, v2 value, v1 keys as {suffix: value}, expected columns)
TYPE_CASES: list[tuple[str, str, list[dict[str, Any]] | None, Any, dict[str, Any], dict[str, Any]]] = [
    ("Lead Source", "varchar", None, "Webinar", {"": "Webinar"}, {"lead_source": "Webinar"}),
    ("Referrer", "varchar_auto", None, "Jane", {"": "Jane"}, {"referrer": "Jane"}),
    ("Deal Summary", "text", None, "Long text", {"": "Long text"}, {"deal_summary": "Long text"}),
    (
        "Switchboard",
        "phone",
        None,
        "+372 5555 1234",
        {"": "+372 5555 1234"},
        {"switchboard": "+372 5555 1234"},
    ),
    ("Discount Rate", "double", None, 12.5, {"": 12.5}, {"discount_rate": 12.5}),
    (
        "Budget",
        "monetary",
        None,
        {"value": 2300, "currency": "EUR"},
        {"": 2300, "_currency": "EUR"},
        {"budget": 2300, "budget_currency": "EUR"},
    ),
    ("Customer Type", "enum", CUSTOMER_TYPES, 191, {"": "191"}, {"customer_type": "Company"}),
    ("Interests", "set", INTERESTS, [31, 33], {"": "31,33"}, {"interests": ["Hardware", "Support"]}),
    ("Renewal Date", "date", None, "2024-01-01", {"": "2024-01-01"}, {"renewal_date": "2024-01-01"}),
    (
        "Contract Period",
        "daterange",
        None,
        {"value": "2024-01-01", "until": "2024-02-01"},
        {"": "2024-01-01", "_until": "2024-02-01"},
        {"contract_period": "2024-01-01", "contract_period_until": "2024-02-01"},
    ),
    (
        "Call Time",
        "time",
        None,
        {"value": "09:00:00", "timezone_id": 318, "timezone_name": "Europe/London"},
        {"": "09:00:00", "_timezone_id": 318, "_timezone_name": "Europe/London"},
        {"call_time": "09:00:00", "call_time_timezone_id": 318, "call_time_timezone_name": "Europe/London"},
    ),
    (
        "Office Hours",
        "timerange",
        None,
        {"value": "09:00:00", "until": "11:00:00", "timezone_id": 318, "timezone_name": "Europe/London"},
        {"": "09:00:00", "_until": "11:00:00", "_timezone_id": 318, "_timezone_name": "Europe/London"},
        {
            "office_hours": "09:00:00",
            "office_hours_until": "11:00:00",
            "office_hours_timezone_id": 318,
            "office_hours_timezone_name": "Europe/London",
        },
    ),
    (
        "Account Manager",
        "user",
        None,
        1234,
        {"": {"id": 1234, "name": "Manager", "email": "m@example.com", "value": 1234}},
        {"account_manager": 1234},
    ),
    ("Partner Org", "org", None, 5, {"": {"name": "Organization", "value": 5}}, {"partner_org": 5}),
    ("Champion", "people", None, 1101, {"": {"name": "Person", "value": 1101}}, {"champion": 1101}),
    (
        "Billing Address",
        "address",
        None,
        ADDRESS_V2,
        {("" if key == "value" else f"_{key}"): value for key, value in ADDRESS_V2.items()},
        ADDRESS_COLUMNS,
    ),
]
TYPE_IDS = [case[1] for case in TYPE_CASES]


@pytest.mark.parametrize(
    ("name", "field_type", "options", "v2_value", "v1_keys", "expected"), TYPE_CASES, ids=TYPE_IDS
)
def test_v2_value_of_every_field_type_lands_in_named_columns(
    name, field_type, options, v2_value, v1_keys, expected
):
    fields = [v2_field(name, field_type, options)]
    mapping = CustomFieldMap.from_v2_fields("deals", fields)
    record = copy.deepcopy(example("v2_deal_single.json")["data"])
    record["custom_fields"] = {code(name): copy.deepcopy(v2_value)}

    flat = mapping.flatten(record)

    assert {key: flat[key] for key in expected} == expected
    assert flat["title"] == "Deal Title" and flat["value"] == 200, "built-in columns stay as they were"
    assert_no_hash_columns(flat)
    assert set(mapping.column_names) == set(expected)


@pytest.mark.parametrize(
    ("name", "field_type", "options", "v2_value", "v1_keys", "expected"), TYPE_CASES, ids=TYPE_IDS
)
def test_v1_top_level_keys_of_every_field_type_land_in_the_same_columns(
    name, field_type, options, v2_value, v1_keys, expected
):
    fields = [v1_field(name, field_type, 12, options)]
    mapping = CustomFieldMap.from_v1_fields("deals", fields)
    record = copy.deepcopy(example("v1_deal_single.json")["data"])
    record.update({code(name) + suffix: copy.deepcopy(value) for suffix, value in v1_keys.items()})

    flat = mapping.flatten(record)

    assert {key: flat[key] for key in expected} == expected
    assert flat["title"] == "Deal One"
    assert_no_hash_columns(flat)


@pytest.mark.parametrize(
    ("name", "field_type", "options", "v2_value", "v1_keys", "expected"), TYPE_CASES, ids=TYPE_IDS
)
def test_an_empty_value_empties_every_column_of_the_field(
    name, field_type, options, v2_value, v1_keys, expected
):
    v2 = CustomFieldMap.from_v2_fields("deals", [v2_field(name, field_type, options)])
    v1 = CustomFieldMap.from_v1_fields("deals", [v1_field(name, field_type, 1, options)])
    # An empty set writes nothing: the record reads as if the field had never been set.
    emptied = {} if field_type == "set" else dict.fromkeys(expected)

    assert v2.flatten({"id": 1, "custom_fields": {code(name): None}}) == {"id": 1, **emptied}
    assert v1.flatten({"id": 1, **{code(name) + suffix: None for suffix in v1_keys}}) == {"id": 1, **emptied}


def test_official_v2_deal_fields_example_maps_priority_by_label():
    fields = example("v2_dealFields_list.json")["data"]
    mapping = CustomFieldMap.from_v2_fields("deals", fields)
    record = copy.deepcopy(example("v2_deal_single.json")["data"])
    record["custom_fields"] = {"40characterhashforcustomfieldidentifier": 3}

    flat = mapping.flatten(record)

    assert flat["priority"] == "High"
    assert "custom_fields" not in flat
    assert mapping.column_names == ("priority",)


def test_official_v1_deal_fields_example_maps_customer_type_by_label():
    fields = example("v1_dealFields_list.json")["data"]
    mapping = CustomFieldMap.from_v1_fields("deals", fields)
    record = copy.deepcopy(example("v1_deal_single.json")["data"])
    record["9dc80c50d78a15643bfc4ca79d76156a73a1ca0e"] = "192"

    flat = mapping.flatten(record)

    assert flat["customer_type"] == "Government"
    assert_no_hash_columns(flat)


@pytest.mark.parametrize(
    ("field_name", "column"),
    [
        ("Lead Source", "lead_source"),
        ("Lead  Source", "lead_source"),
        ("  Lead Source  ", "lead_source"),
        ("leadSource", "lead_source"),
        ("NPS Score", "nps_score"),
        ("Deal Value (€)", "deal_valuex"),
        ("1st contact", "_1st_contact"),
        ("Sign-up channel", "sign_up_channel"),
        ("Region / Area", "region_area"),
    ],
)
def test_column_names_are_the_field_names_as_dlt_normalizes_them(field_name, column):
    mapping = CustomFieldMap.from_v2_fields("deals", [v2_field(field_name, "varchar", field_code=code("x"))])

    assert mapping.flatten({"custom_fields": {code("x"): "v"}}) == {column: "v"}


@pytest.mark.parametrize(
    ("entity", "name", "field_type", "expected_columns"),
    [
        ("deals", "Title", "varchar", ("title_custom",)),
        ("deals", "Value", "monetary", ("value_custom", "value_custom_currency")),
        ("deals", "Currency", "varchar", ("currency_custom",)),
        ("deals", "Expected close date", "date", ("expected_close_date_custom",)),
        ("persons", "Job Title", "varchar", ("job_title_custom",)),
        ("persons", "Emails", "varchar", ("emails_custom",)),
        ("organizations", "Address", "address", ("address_custom", "address_custom_street_number")),
        ("products", "Category", "enum", ("category_custom",)),
        ("activities", "Location", "address", ("location_custom", "location_custom_street_number")),
    ],
)
def test_a_name_taken_by_a_built_in_column_gets_the_custom_suffix(entity, name, field_type, expected_columns):
    mapping = CustomFieldMap.from_v2_fields(entity, [v2_field(name, field_type)])

    (field,) = mapping.fields
    assert field.column_names[: len(expected_columns)] == expected_columns
    assert field.collision == "built-in column"


def test_a_built_in_hit_by_a_subfield_column_moves_the_whole_field():
    mapping = CustomFieldMap.from_v2_fields(
        "leads", [v2_field("Budget", "monetary")], builtin_columns=["id", "budget_currency"]
    )

    assert mapping.column_names == ("budget_custom", "budget_custom_currency")


def test_built_in_fields_of_the_fields_endpoint_are_reserved():
    fields = [
        {
            "field_code": "lead_score",
            "field_name": "Lead score",
            "field_type": "double",
            "is_custom_field": False,
        },
        v2_field("Lead Score", "double"),
    ]
    mapping = CustomFieldMap.from_v2_fields("leads", fields)

    assert mapping.column_names == ("lead_score_custom",)


def test_the_first_created_of_two_same_named_fields_keeps_the_name():
    first, second = v2_field("Region", "enum", [{"id": 1, "label": "EMEA"}]), v2_field("Region ", "varchar")
    second["field_code"] = "0a1b2c" + "d" * 34
    mapping = CustomFieldMap.from_v2_fields("deals", [first, second])

    flat = mapping.flatten({"custom_fields": {first["field_code"]: 1, second["field_code"]: "Baltics"}})

    assert flat == {"region": "EMEA", "region_0a1b2c": "Baltics"}
    assert [field.collision for field in mapping.fields] == [None, "another custom field"]


def test_a_subfield_column_colliding_with_another_field_moves_the_later_field():
    budget, budget_currency = v2_field("Budget", "monetary"), v2_field("Budget Currency", "varchar")

    budget_first = CustomFieldMap.from_v2_fields("deals", [budget, budget_currency])
    currency_first = CustomFieldMap.from_v2_fields("deals", [budget_currency, budget])

    suffix = budget_currency["field_code"][:6]
    assert budget_first.column_names == ("budget", "budget_currency", f"budget_currency_{suffix}")
    suffix = budget["field_code"][:6]
    assert currency_first.column_names == ("budget_currency", f"budget_{suffix}", f"budget_{suffix}_currency")


def test_names_of_existing_fields_do_not_change_when_a_field_is_added():
    fields = [
        v2_field("Region", "varchar"),
        v2_field("Budget", "monetary"),
        v2_field("Region", "enum", field_code=code("second region")),
        v2_field("Title", "varchar"),
    ]
    before = CustomFieldMap.from_v2_fields("deals", fields)
    added = [
        v2_field("Budget", "monetary", field_code=code("new budget")),
        v2_field("Region", "varchar", field_code=code("third region")),
        v2_field("Budget Currency", "varchar"),
    ]
    after = CustomFieldMap.from_v2_fields("deals", fields + added)

    assert after.fields[: len(fields)] == before.fields
    assert len(set(after.column_names)) == len(after.column_names), "every column has one field"


def test_v1_fields_are_ordered_by_creation_whatever_the_listed_order():
    older, newer = v1_field("Region", "varchar", 7), v1_field("Region ", "varchar", 42)

    listed_oldest_first = CustomFieldMap.from_v1_fields("leads", [older, newer])
    listed_newest_first = CustomFieldMap.from_v1_fields("leads", [newer, older])

    assert listed_oldest_first.fields == listed_newest_first.fields
    assert listed_newest_first.fields[0].code == older["key"]
    assert listed_newest_first.fields[0].column_name == "region"


def test_a_taken_six_character_suffix_grows_to_eight():
    region = v2_field("Region", "varchar")
    late_region = v2_field("Region", "varchar", field_code="abcdef12" + "0" * 32)
    squatter = v2_field("Region abcdef", "varchar")
    mapping = CustomFieldMap.from_v2_fields("deals", [region, squatter, late_region])

    assert mapping.column_names == ("region", "region_abcdef", "region_abcdef12")


def test_a_field_without_a_name_gets_a_name_from_its_code():
    mapping = CustomFieldMap.from_v2_fields(
        "deals", [v2_field("   ", "varchar", field_code="f00baa" + "1" * 34)]
    )

    assert mapping.column_names == ("custom_field_f00baa",)
    assert mapping.fields[0].collision == "unnamed"


def test_a_renamed_field_loads_under_its_new_name_from_the_next_run():
    field_code = code("lead source field")
    record = {"id": 1, "custom_fields": {field_code: "Webinar"}}
    first_run = CustomFieldMap.from_v2_fields(
        "deals", [v2_field("Lead Source", "varchar", field_code=field_code)]
    )
    next_run = CustomFieldMap.from_v2_fields(
        "deals", [v2_field("Acquisition Channel", "varchar", field_code=field_code)]
    )

    assert first_run.flatten(copy.deepcopy(record)) == {"id": 1, "lead_source": "Webinar"}
    assert next_run.flatten(copy.deepcopy(record)) == {"id": 1, "acquisition_channel": "Webinar"}
    assert next_run.column_rows()[0]["field_name"] == "Acquisition Channel"


@pytest.mark.parametrize(
    ("field_type", "v2_value", "v1_value", "expected"),
    [
        ("enum", 193, "193", "193"),
        ("set", [31, 193], "31,193", ["Hardware", "193"]),
    ],
)
def test_a_value_whose_option_was_deleted_keeps_its_id_as_text(field_type, v2_value, v1_value, expected):
    v2 = CustomFieldMap.from_v2_fields("deals", [v2_field("Choice", field_type, INTERESTS)])
    v1 = CustomFieldMap.from_v1_fields("deals", [v1_field("Choice", field_type, 3, INTERESTS)])

    assert v2.flatten({"custom_fields": {code("Choice"): v2_value}}) == {"choice": expected}
    assert v1.flatten({code("Choice"): v1_value}) == {"choice": expected}


@pytest.mark.parametrize(
    ("field_type", "value", "expected"),
    [
        ("enum", {"id": 32, "label": "Software"}, "Software"),
        ("set", [{"id": 31, "label": "Hardware"}, {"id": 99, "label": "Retired"}], ["Hardware", "Retired"]),
    ],
)
def test_option_objects_of_include_option_labels_are_read_too(field_type, value, expected):
    mapping = CustomFieldMap.from_v2_fields("deals", [v2_field("Choice", field_type, INTERESTS)])

    assert mapping.flatten({"custom_fields": {code("Choice"): value}}) == {"choice": expected}


def test_a_range_given_as_start_and_until_is_read_as_well():
    mapping = CustomFieldMap.from_v2_fields("deals", [v2_field("Contract Period", "daterange")])

    flat = mapping.flatten(
        {"custom_fields": {code("Contract Period"): {"start": "2024-01-01", "until": "2024-03-31"}}}
    )

    assert flat == {"contract_period": "2024-01-01", "contract_period_until": "2024-03-31"}


def test_a_key_no_field_describes_is_dropped_and_reported_in_v2():
    mapping = CustomFieldMap.from_v2_fields("deals", [v2_field("Lead Source", "varchar")])
    deleted = code("deleted field")

    flat = mapping.flatten({"id": 1, "custom_fields": {code("Lead Source"): "Ads", deleted: {"value": 1}}})

    assert flat == {"id": 1, "lead_source": "Ads"}
    assert mapping.unmapped_codes == {deleted}


def test_unknown_hash_keys_are_dropped_and_reported_in_v1():
    mapping = CustomFieldMap.from_v1_fields("deals", [v1_field("Lead Source", "varchar", 1)])
    deleted = code("deleted monetary field")
    long_builtin = "a_built_in_key_that_happens_to_be_longer_than_forty_characters"
    record = {
        "id": 1,
        code("Lead Source"): "Ads",
        deleted: 10,
        f"{deleted}_currency": "EUR",
        long_builtin: True,
    }

    flat = mapping.flatten(record)

    assert flat == {"id": 1, "lead_source": "Ads", long_builtin: True}
    assert mapping.unmapped_codes == {deleted}


@pytest.mark.parametrize(
    ("field_type", "v1_value", "expected"),
    [
        ("double", "", None),
        ("date", "", None),
        ("user", "", None),
        ("varchar", "", ""),
        ("double", "7.5", "7.5"),
    ],
)
def test_v1_empty_texts_of_typed_fields_become_null(field_type, v1_value, expected):
    mapping = CustomFieldMap.from_v1_fields("leads", [v1_field("Score", field_type, 1)])

    assert mapping.flatten({code("Score"): v1_value}) == {"score": expected}


def test_a_field_listed_twice_is_mapped_once():
    field = v2_field("Lead Source", "varchar")

    mapping = CustomFieldMap.from_v2_fields("deals", [field, dict(field)])

    assert mapping.column_names == ("lead_source",)


def test_column_rows_tell_which_column_holds_which_field():
    fields = [
        *example("v2_dealFields_list.json")["data"],
        v2_field("Budget", "monetary"),
        v2_field("Interests", "set", INTERESTS),
        v2_field("Value", "double"),
    ]
    listed = CustomFieldMap.from_v2_fields("deals", fields).column_rows()
    rows = {row["field_code"]: row for row in listed}

    assert [row["field_name"] for row in listed] == [
        "Deal Title",
        "Value",
        "Priority",
        "Budget",
        "Interests",
        "Value",
    ]
    assert rows[code("Budget")] == {
        "entity": "deals",
        "field_code": code("Budget"),
        "field_name": "Budget",
        "field_type": "monetary",
        "is_custom_field": True,
        "column_name": "budget",
        "column_names": ["budget", "budget_currency"],
        "collision": None,
        "options": [],
    }
    assert [option["label"] for option in rows[code("Interests")]["options"]] == [
        "Hardware",
        "Software",
        "Support",
    ]
    assert rows["40characterhashforcustomfieldidentifier"]["options"][2] == {"id": 3, "label": "High"}
    assert (rows[code("Value")]["column_name"], rows[code("Value")]["collision"]) == (
        "value_custom",
        "built-in column",
    )
    assert (rows["title"]["is_custom_field"], rows["title"]["column_name"]) == (False, "title")
    assert (rows["value"]["is_custom_field"], rows["value"]["column_name"]) == (False, "value")


@pytest.mark.parametrize(
    ("name", "field_type", "column", "data_type"),
    [
        ("Budget", "monetary", "budget", "decimal"),
        ("Budget", "monetary", "budget_currency", "text"),
        ("Discount Rate", "double", "discount_rate", "double"),
        ("Renewal Date", "date", "renewal_date", "date"),
        ("Contract Period", "daterange", "contract_period_until", "date"),
        ("Call Time", "time", "call_time", "time"),
        ("Call Time", "time", "call_time_timezone_id", "bigint"),
        ("Office Hours", "timerange", "office_hours_until", "time"),
        ("Customer Type", "enum", "customer_type", "text"),
        ("Account Manager", "user", "account_manager", "bigint"),
        ("Billing Address", "address", "billing_address_postal_code", "text"),
    ],
)
def test_custom_columns_carry_type_hints(name, field_type, column, data_type):
    hints = CustomFieldMap.from_v2_fields("deals", [v2_field(name, field_type)]).columns

    assert hints[column]["data_type"] == data_type
    assert hints[column]["name"] == column


def test_set_fields_are_json_lists_of_labels():
    mapping = CustomFieldMap.from_v2_fields("deals", [v2_field("Interests", "set", INTERESTS)])

    assert mapping.column_names == ("interests",)
    assert mapping.columns == {"interests": {"name": "interests", "data_type": "json"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (code("a"), True),
        ("9dc80c50d78a15643bfc4ca79d76156a73a1ca0e", True),
        ("title", False),
        ("A" * 40, False),
    ],
)
def test_field_codes_are_40_lowercase_hex_characters(text, expected):
    assert is_field_code(text) is expected
