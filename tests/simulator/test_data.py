"""The simulated data: deterministic, realistic, custom fields of every type holding values of their type."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import pytest

from tests.simulator.clients import DEALS, Api, v1_time, v2_time

HEX40 = re.compile(r"^[0-9a-f]{40}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{2}:\d{2}:\d{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
PLACEHOLDER = re.compile(
    r"^(deal|title|name|person|org|organization|company|foo|bar|test|item|note)[\s_-]*\d+$", re.I
)
FIELDS_PATHS = {
    "deals": "/dealFields",
    "persons": "/personFields",
    "organizations": "/organizationFields",
    "products": "/productFields",
    "activities": "/activityFields",
}
CUSTOM_ENTITIES = list(FIELDS_PATHS)
# The field types Pipedrive lets users create (v2 `field_type` of custom fields).
CUSTOM_FIELD_TYPES = {
    "varchar",
    "varchar_auto",
    "text",
    "double",
    "monetary",
    "enum",
    "set",
    "date",
    "daterange",
    "time",
    "timerange",
    "user",
    "org",
    "people",
    "phone",
    "address",
}
DETERMINISM_PAGES = [
    ("v2", "/deals"),
    ("v2", "/persons"),
    ("v2", "/organizations"),
    ("v2", "/activities"),
    ("v2", "/dealFields"),
    ("v1", "/notes"),
    ("v1", "/users"),
    ("v1", "/leads"),
]


@pytest.fixture(scope="module")
def direct(sim) -> Api:
    return Api(sim, "direct")


@pytest.fixture(scope="module")
def records(direct) -> dict[str, list[dict]]:
    return {entity: direct.all("v2", f"/{entity}", {"limit": 500}) for entity in CUSTOM_ENTITIES}


@pytest.fixture(scope="module")
def custom_fields(direct) -> dict[str, dict[str, dict]]:
    """entity -> field_code -> v2 field definition, custom fields only."""
    fields = {}
    for entity in CUSTOM_ENTITIES:
        definitions = direct.all("v2", FIELDS_PATHS[entity])
        fields[entity] = {field["field_code"]: field for field in definitions if field["is_custom_field"]}
    return fields


def bodies(api: Api) -> list[Any]:
    return [api.ok(version, path, {"limit": 500}) for version, path in DETERMINISM_PAGES]


def test_same_seed_serves_identical_pages(make_sim):
    first = Api(make_sim(seed=7, deals=60), "direct")
    second = Api(make_sim(seed=7, deals=60), "maton")
    for (version, path), one, other in zip(DETERMINISM_PAGES, bodies(first), bodies(second), strict=True):
        assert one == other, f"{version} {path} differs between two simulators with the same seed"


def test_other_seed_serves_other_data(make_sim):
    first = Api(make_sim(seed=7, deals=60), "direct")
    other = Api(make_sim(seed=8, deals=60), "direct")
    for path in ("/deals", "/persons", "/organizations"):
        assert first.ok("v2", path)["data"] != other.ok("v2", path)["data"], path


def test_every_custom_field_type_exists(custom_fields):
    all_types = {field["field_type"] for fields in custom_fields.values() for field in fields.values()}
    assert all_types >= CUSTOM_FIELD_TYPES, f"missing: {sorted(CUSTOM_FIELD_TYPES - all_types)}"
    deal_types = {field["field_type"] for field in custom_fields["deals"].values()}
    assert deal_types >= CUSTOM_FIELD_TYPES, f"deals miss: {sorted(CUSTOM_FIELD_TYPES - deal_types)}"


@pytest.mark.parametrize("entity", CUSTOM_ENTITIES)
def test_custom_field_definitions(custom_fields, entity):
    fields = custom_fields[entity]
    assert fields, f"{entity} have no custom fields"
    for code, field in fields.items():
        assert HEX40.match(code), f"{entity} custom field code {code!r} is not a 40-hex hash"
        assert field["field_name"].strip()
        if field["field_type"] in ("enum", "set"):
            assert field["options"], code
            assert all(isinstance(option["id"], int) and option["label"] for option in field["options"])
            assert len({option["id"] for option in field["options"]}) == len(field["options"])
        if field["field_type"] in ("monetary", "daterange", "timerange", "address"):
            assert field["subfields"], f"{field['field_type']} field {code} declares no subfields"


def test_custom_field_codes_differ_from_account_to_account(make_sim):
    sim = make_sim(deals=20, connections=2)
    codes = []
    for connection_id in sim.connection_ids:
        fields = Api(sim, "maton", connection_id).all("v2", "/dealFields")
        codes.append({field["field_code"] for field in fields if field["is_custom_field"]})
    assert codes[0] and codes[1]
    assert not codes[0] & codes[1]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_option(value: Any, field: dict) -> bool:
    return value in {option["id"] for option in field["options"]}


# Value shapes from the "Custom Fields" section of Pipedrive's API v2 migration guide.
ZONE_KEYS = {"timezone_id", "timezone_name"}
ADDRESS_KEYS = {
    "value",
    "route",
    "country",
    "locality",
    "postal_code",
    "sublocality",
    "street_number",
    "subpremise",
    "admin_area_level_1",
    "admin_area_level_2",
    "formatted_address",
}


def is_zone(value: dict) -> bool:
    """`timezone_id` (a number) and `timezone_name` (an IANA zone such as Europe/London)."""
    zone_id, name = value["timezone_id"], value["timezone_name"]
    return is_number(zone_id) and isinstance(name, str) and re.fullmatch(r"[A-Z][A-Za-z_]+/[A-Za-z_]+", name)


def is_range(value: Any, pattern: re.Pattern, zoned: bool) -> bool:
    """`{"value": start, "until": end}`, plus the zone for time ranges."""
    keys = {"value", "until"} | (ZONE_KEYS if zoned else set())
    return (
        set(value) == keys
        and all(isinstance(value[part], str) and pattern.match(value[part]) for part in ("value", "until"))
        and value["value"] <= value["until"]
        and (not zoned or is_zone(value))
    )


def is_address(value: Any) -> bool:
    """`value` as entered, every component present: a string, or null when the address has none."""
    return (
        set(value) == ADDRESS_KEYS
        and isinstance(value["value"], str)
        and value["value"].strip() != ""
        and all(part is None or (isinstance(part, str) and part) for part in value.values())
    )


VALUE_CHECKS = {
    "varchar": lambda value, field: isinstance(value, str) and value.strip() != "",
    "varchar_auto": lambda value, field: isinstance(value, str) and value.strip() != "",
    "text": lambda value, field: isinstance(value, str) and value.strip() != "",
    "phone": lambda value, field: isinstance(value, str) and sum(char.isdigit() for char in value) >= 6,
    "double": lambda value, field: is_number(value),
    "monetary": lambda value, field: (
        is_number(value.get("value")) and re.fullmatch(r"[A-Z]{3}", value["currency"])
    ),
    "enum": is_option,
    "set": lambda value, field: (
        isinstance(value, list) and value and all(is_option(item, field) for item in value)
    ),
    "date": lambda value, field: isinstance(value, str) and DATE.match(value),
    "time": lambda value, field: (
        set(value) == {"value"} | ZONE_KEYS and TIME.match(value["value"]) and is_zone(value)
    ),
    "daterange": lambda value, field: is_range(value, DATE, zoned=False),
    "timerange": lambda value, field: is_range(value, TIME, zoned=True),
    "user": lambda value, field: isinstance(value, int) and value > 0,
    "org": lambda value, field: isinstance(value, int) and value > 0,
    "people": lambda value, field: isinstance(value, int) and value > 0,
    "address": lambda value, field: is_address(value),
}


@pytest.mark.parametrize("entity", CUSTOM_ENTITIES)
def test_custom_field_values_match_their_types(records, custom_fields, entity):
    fields = custom_fields[entity]
    filled: Counter = Counter()
    problems = []
    for record in records[entity]:
        assert isinstance(record["custom_fields"], dict)
        for code, value in record["custom_fields"].items():
            assert code in fields, (
                f"{entity} {record['id']} has custom field {code} not defined in its fields"
            )
            if value is None:
                continue
            filled[code] += 1
            field = fields[code]
            if field["subfields"]:
                declared = {subfield["field_code"] for subfield in field["subfields"]}
                if not isinstance(value, dict) or not set(value) <= declared:
                    problems.append(
                        f"{field['field_type']} {code}: keys {value!r} vs subfields {sorted(declared)}"
                    )
                    continue
            if not VALUE_CHECKS.get(field["field_type"], lambda *_: True)(value, field):
                problems.append(f"{entity} {record['id']} {field['field_type']} {code}: {value!r}")
    assert not problems, "\n".join(problems[:20])
    never_filled = [f"{fields[code]['field_type']} {code}" for code in fields if not filled[code]]
    assert not never_filled, f"{entity}: custom fields never filled: {never_filled}"


REFERENCED = {"user": "users", "org": "organizations", "people": "persons"}


def assert_records_exist(direct: Api, listed: dict[str, set], references: list[tuple[str, int]]) -> None:
    """Each reference names a listed record, or one that still answers its single GET (a deleted one)."""
    unlisted = {(entity, record_id) for entity, record_id in references if record_id not in listed[entity]}
    for entity, record_id in sorted(unlisted):
        version = "v1" if entity == "users" else "v2"
        assert direct.get(version, f"/{entity}/{record_id}").status_code == 200, (
            f"{entity} {record_id} is missing"
        )


def test_reference_custom_fields_point_at_existing_records(direct, records, custom_fields):
    listed = {
        "users": {user["id"] for user in direct.ok("v1", "/users")["data"]},
        "organizations": {org["id"] for org in records["organizations"]},
        "persons": {person["id"] for person in records["persons"]},
    }
    references = [
        (REFERENCED[field["field_type"]], deal["custom_fields"][code])
        for deal in records["deals"]
        for code, field in custom_fields["deals"].items()
        if field["field_type"] in REFERENCED and deal["custom_fields"].get(code) is not None
    ]
    assert references
    assert_records_exist(direct, listed, references)


@pytest.mark.parametrize(
    ("entity", "v1_path", "v2_path"),
    [
        ("deals", "/dealFields", "/dealFields"),
        ("persons", "/personFields", "/personFields"),
        ("organizations", "/organizationFields", "/organizationFields"),
        ("products", "/productFields", "/productFields"),
    ],
)
def test_v1_and_v2_fields_agree_on_custom_keys(direct, entity, v1_path, v2_path):
    v1_fields = direct.all("v1", v1_path, {"limit": 500})
    v2_custom = {field["field_code"] for field in direct.all("v2", v2_path) if field["is_custom_field"]}
    v1_custom = {field["key"] for field in v1_fields if HEX40.match(field["key"])}
    assert v1_custom == v2_custom


def test_v1_leads_carry_deal_custom_fields_as_top_level_keys(direct):
    deal_keys = {
        field["key"] for field in direct.all("v1", "/dealFields", {"limit": 500}) if HEX40.match(field["key"])
    }
    leads = direct.all("v1", "/leads", {"limit": 500})
    top_level = {key for lead in leads for key in lead if HEX40.match(key[:40])}
    assert top_level, "leads have no custom field keys"
    assert {key[:40] for key in top_level} <= deal_keys


def test_v1_leads_flatten_ranges_and_times_as_the_migration_guide_shows(direct):
    """API v1: a range is `key` (start) and `key_until`; a time is the bare `HH:MM:SS`, with no zone keys."""
    kinds = {
        field["key"]: field["field_type"]
        for field in direct.all("v1", "/dealFields", {"limit": 500})
        if HEX40.match(field["key"])
    }
    leads = direct.all("v1", "/leads", {"limit": 500})
    seen = Counter()
    for lead in leads:
        assert not [key for key in lead if HEX40.match(key[:40]) and "timezone" in key], lead
        for key, kind in kinds.items():
            value = lead.get(key)
            if value is None or kind not in ("daterange", "timerange", "time"):
                continue
            pattern = DATE if kind == "daterange" else TIME
            assert isinstance(value, str) and pattern.match(value), (kind, value)
            if kind != "time":
                assert isinstance(lead[f"{key}_until"], str) and value <= lead[f"{key}_until"]
            seen[kind] += 1
    assert set(seen) == {"daterange", "timerange", "time"}, seen


def test_persons_have_several_emails_and_phones(records):
    persons = records["persons"]
    several_emails = [person for person in persons if len(person["emails"] or []) >= 2]
    several_phones = [person for person in persons if len(person["phones"] or []) >= 2]
    assert len(several_emails) >= len(persons) * 0.1
    assert len(several_phones) >= len(persons) * 0.1
    for person in persons:
        for kind, labels in (
            ("emails", {"work", "home", "other"}),
            ("phones", {"work", "home", "mobile", "other"}),
        ):
            entries = person[kind] or []
            if not entries:
                continue
            assert sum(entry["primary"] is True for entry in entries) == 1, (person["id"], kind, entries)
            assert {entry["label"] for entry in entries} <= labels, entries
        assert all(EMAIL.match(entry["value"]) for entry in person["emails"] or []), person["emails"]


def test_values_look_real(records, direct):
    texts = {
        "deal titles": [deal["title"] for deal in records["deals"]],
        "person names": [person["name"] for person in records["persons"]],
        "organization names": [org["name"] for org in records["organizations"]],
        "product names": [product["name"] for product in records["products"]],
        "activity subjects": [activity["subject"] for activity in records["activities"]],
        "notes": [note["content"] for note in direct.all("v1", "/notes", {"limit": 500})],
    }
    for what, values in texts.items():
        assert all(isinstance(value, str) and value.strip() for value in values), what
        assert not [value for value in values if PLACEHOLDER.match(value)], f"placeholder {what}"
        assert len(set(values)) >= len(values) * 0.5, f"{what} repeat too much"
    assert sum(" " in name for name in texts["person names"]) >= len(texts["person names"]) * 0.9


def test_update_times_spread_over_past_years(records):
    now = dt.datetime.now(dt.timezone.utc)
    for entity in CUSTOM_ENTITIES:
        moments = [v2_time(record["update_time"]) for record in records[entity]]
        assert max(moments) <= now, entity
        assert max(moments) - min(moments) >= dt.timedelta(days=2 * 365), entity
        assert all(v2_time(r["add_time"]) <= v2_time(r["update_time"]) for r in records[entity]), entity


def test_v1_times_spread_over_past_years(direct):
    moments = [v1_time(note["update_time"]) for note in direct.all("v1", "/notes", {"limit": 500})]
    assert max(moments) - min(moments) >= dt.timedelta(days=2 * 365)


def test_deals_refer_to_existing_records(direct, records):
    users = {user["id"] for user in direct.ok("v1", "/users")["data"]}
    stages = {stage["id"]: stage for stage in direct.all("v2", "/stages")}
    listed = {
        "persons": {person["id"] for person in records["persons"]},
        "organizations": {org["id"] for org in records["organizations"]},
    }
    references = []
    for deal in records["deals"]:
        assert deal["owner_id"] in users
        assert stages[deal["stage_id"]]["pipeline_id"] == deal["pipeline_id"]
        references += [("persons", deal["person_id"])] if deal["person_id"] else []
        references += [("organizations", deal["org_id"])] if deal["org_id"] else []
    assert_records_exist(direct, listed, references)


def test_deal_status_times_are_consistent(records):
    for deal in records["deals"]:
        if deal["status"] == "won":
            assert deal["won_time"] and deal["close_time"], deal["id"]
        elif deal["status"] == "lost":
            assert deal["lost_time"] and deal["close_time"], deal["id"]
        else:
            assert deal["won_time"] is None and deal["lost_time"] is None, deal["id"]


def test_sizes_follow_the_deals(sim):
    account = sim.account()
    counts = {
        entity: account.count(entity)
        for entity in ("deals", "persons", "organizations", "activities", "products", "notes", "users")
    }
    assert DEALS * 0.9 <= counts["deals"] <= DEALS, counts
    assert DEALS * 0.3 <= counts["persons"] <= DEALS * 0.7, counts
    assert DEALS / 14 <= counts["organizations"] <= DEALS / 4, counts
    assert DEALS * 1.4 <= counts["activities"] <= DEALS * 2.6, counts
    assert 20 <= counts["products"] <= 100, counts
    assert DEALS * 0.3 <= counts["notes"] <= DEALS * 0.7, counts
    assert 3 <= counts["users"] <= 50, counts


def test_explicit_sizes_are_honoured(make_sim):
    account = make_sim(deals=30, persons=25, organizations=9, products=7).account()
    assert 25 * 0.8 <= account.count("persons") <= 25
    assert 9 * 0.7 <= account.count("organizations") <= 9
    assert 7 * 0.7 <= account.count("products") <= 7
