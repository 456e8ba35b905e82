"""The spec-validation harness itself: official examples pass, broken bodies fail with a readable message."""

import copy
import json
from pathlib import Path

import pytest

from tests.openapi_schemas import SpecLookupError, assert_matches_spec, response_schema

EXAMPLES = Path(__file__).parents[1] / "data" / "examples"

# Official example payloads of operations still in the specs (not the v1 deals, persons, ...: out of support).
EXAMPLE_OPERATIONS = {
    "v1_dealFields_list": ("v1", "get", "/dealFields", 200),
    "v1_note_single": ("v1", "get", "/notes/{id}", 200),
    "v1_notes_list": ("v1", "get", "/notes", 200),
    "v1_recents": ("v1", "get", "/recents", 200),
    "v1_user_single": ("v1", "get", "/users/{id}", 200),
    "v1_users_list": ("v1", "get", "/users", 200),
    "v1_users_me": ("v1", "get", "/users/me", 200),
    "v2_activities_list": ("v2", "get", "/activities", 200),
    "v2_activity_single": ("v2", "get", "/activities/{id}", 200),
    "v2_dealFields_list": ("v2", "get", "/dealFields", 200),
    "v2_deal_single": ("v2", "get", "/deals/{id}", 200),
    "v2_deals_list": ("v2", "get", "/deals", 200),
    "v2_deals_search": ("v2", "get", "/deals/search", 200),
    "v2_delete_deal": ("v2", "delete", "/deals/{id}", 200),
    "v2_organization_single": ("v2", "get", "/organizations/{id}", 200),
    "v2_organizations_list": ("v2", "get", "/organizations", 200),
    "v2_person_single": ("v2", "get", "/persons/{id}", 200),
    "v2_persons_list": ("v2", "get", "/persons", 200),
    "v2_pipeline_single": ("v2", "get", "/pipelines/{id}", 200),
    "v2_pipelines_list": ("v2", "get", "/pipelines", 200),
    "v2_products_list": ("v2", "get", "/products", 200),
    "v2_stage_single": ("v2", "get", "/stages/{id}", 200),
    "v2_stages_list": ("v2", "get", "/stages", 200),
}


def example(name: str) -> dict:
    return copy.deepcopy(json.loads((EXAMPLES / f"{name}.json").read_text())["example"])


def error_body(name: str) -> dict:
    return copy.deepcopy(json.loads((EXAMPLES / "errors.json").read_text())[name]["body"])


def assert_rejected(operation: tuple, body: object, *expected_fragments: str) -> str:
    with pytest.raises(AssertionError) as failure:
        assert_matches_spec(*operation, body)
    message = str(failure.value)
    for fragment in expected_fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("name", sorted(EXAMPLE_OPERATIONS))
def test_official_example_matches_its_operation(name):
    assert_matches_spec(*EXAMPLE_OPERATIONS[name], example(name))


def test_every_example_file_of_a_served_operation_is_checked():
    """A new example dropped into tests/data/examples must be added to the table (or be out of the specs)."""
    out_of_specs = {
        "v1_activities_list",
        "v1_activity_single",
        "v1_deal_single",
        "v1_deals_collection_cursor",
        "v1_deals_list",
        "v1_deals_search",
        "v1_delete_deal",
        "v1_organization_single",
        "v1_organizations_list",
        "v1_person_single",
        "v1_persons_list",
        "v1_pipelines_list",
        "v1_stages_list",
    }
    example_files = {path.stem for path in EXAMPLES.glob("v[12]_*.json")}
    assert example_files - out_of_specs == set(EXAMPLE_OPERATIONS)


def test_wrong_type_is_reported_with_its_location():
    body = example("v2_deals_list")
    body["data"][0]["id"] = "1"
    message = assert_rejected(EXAMPLE_OPERATIONS["v2_deals_list"], body, "$.data[0].id", "'1' is not of type")
    assert message.startswith("v2 GET /deals 200: body does not match the official spec (1 problem(s))")


def test_missing_required_key_is_reported():
    body = example("v2_dealFields_list")
    del body["data"][1]["field_code"]
    assert_rejected(
        EXAMPLE_OPERATIONS["v2_dealFields_list"], body, "$.data[1]: 'field_code' is a required property"
    )


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda body: body.update(data=body["data"][0]), "$.data: {"),
        (lambda body: body.update(success="true"), "$.success: 'true' is not of type 'boolean'"),
        (lambda body: body.update(additional_data={"next_cursor": 7}), "$.additional_data.next_cursor: 7"),
        (lambda body: body.update(additional_data=[]), "$.additional_data: [] is not of type 'object'"),
    ],
    ids=["single-object-instead-of-list", "success-as-string", "cursor-as-number", "additional-data-as-list"],
)
def test_envelope_problems_are_rejected(mutate, fragment):
    body = example("v2_deals_list")
    mutate(body)
    assert_rejected(EXAMPLE_OPERATIONS["v2_deals_list"], body, fragment)


def test_all_problems_are_listed():
    body = example("v2_deals_list")
    body["data"][0]["value"] = "200"
    body["data"][0]["is_deleted"] = "no"
    message = assert_rejected(EXAMPLE_OPERATIONS["v2_deals_list"], body, "(2 problem(s))")
    assert "$.data[0].value" in message
    assert "$.data[0].is_deleted" in message


def test_tolerance_null_on_non_nullable_properties():
    body = example("v2_deals_list")
    body["additional_data"]["next_cursor"] = None
    body["data"][0]["won_time"] = None
    body["data"][0]["title"] = None
    assert_matches_spec(*EXAMPLE_OPERATIONS["v2_deals_list"], body)


def test_null_is_not_tolerated_where_no_property_is():
    body = example("v2_deals_list")
    body["data"] = [None]
    assert_rejected(EXAMPLE_OPERATIONS["v2_deals_list"], body, "$.data[0]: None is not of type 'object'")


def test_tolerance_v1_date_time_with_a_space():
    body = example("v1_dealFields_list")
    body["data"][0]["add_time"] = "2019-02-04 13:58:03"
    assert_matches_spec(*EXAMPLE_OPERATIONS["v1_dealFields_list"], body)
    body["data"][0]["add_time"] = "2019-02-04T13:58:03Z"
    assert_matches_spec(*EXAMPLE_OPERATIONS["v1_dealFields_list"], body)


@pytest.mark.parametrize("bad_time", ["04/02/2019 13:58", "2019-02-30 13:58:03", "2019-02-04", "yesterday"])
def test_v1_date_time_must_still_be_a_time(bad_time):
    body = example("v1_dealFields_list")
    body["data"][0]["update_time"] = bad_time
    assert_rejected(
        EXAMPLE_OPERATIONS["v1_dealFields_list"], body, "$.data[0].update_time", "is not a 'date-time'"
    )


def test_v2_date_time_must_be_rfc3339():
    body = example("v2_dealFields_list")
    option = next(field for field in body["data"] if field["options"])["options"][0]
    option["add_time"] = "2019-02-04T13:58:03Z"
    assert_matches_spec(*EXAMPLE_OPERATIONS["v2_dealFields_list"], body)
    option["add_time"] = "2019-02-04 13:58:03"
    assert_rejected(EXAMPLE_OPERATIONS["v2_dealFields_list"], body, "is not a 'date-time'")


def test_date_format_is_checked():
    body = example("v2_deals_list")
    body["data"][0]["expected_close_date"] = "2021-13-45"
    assert_rejected(
        EXAMPLE_OPERATIONS["v2_deals_list"], body, "$.data[0].expected_close_date", "is not a 'date'"
    )


def test_uuid_format_is_checked():
    body = example("v1_notes_list")
    body["data"][0]["lead_id"] = "lead-17"
    assert_rejected(EXAMPLE_OPERATIONS["v1_notes_list"], body, "$.data[0].lead_id", "is not a 'uuid'")


def test_enum_is_checked():
    body = example("v2_dealFields_list")
    body["data"][0]["field_type"] = "string"
    assert_rejected(EXAMPLE_OPERATIONS["v2_dealFields_list"], body, "$.data[0].field_type", "is not one of")


@pytest.mark.parametrize(
    "name",
    [
        "401_unauthorized_observed",
        "403_forbidden_spec",
        "400_bad_request_spec",
        "404_not_found_spec",
        "500_spec",
        "429_daily_budget_observed",
    ],
)
def test_pipedrive_error_bodies_match_the_error_envelope(name):
    assert_matches_spec("v2", "get", "/deals/{id}", int(name[:3]), error_body(name))


def test_documented_error_response_is_used_when_present():
    schema = response_schema("v2", "post", "/deals/{id}/convert/lead", 404)
    assert "success" in schema["properties"]
    assert schema.get("required") is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"success": True, "error": "Not found"}, "$.success: False was expected"),
        ({"success": False}, "'error' is a required property"),
        ({"success": False, "error": 404}, "$.error: 404 is not of type 'string'"),
        ("<html>Forbidden</html>", "is not of type 'object'"),
    ],
)
def test_broken_error_bodies_are_rejected(body, fragment):
    assert_rejected(("v2", "get", "/deals/{id}", 404), body, fragment)


def test_out_of_support_v1_path_has_no_success_schema():
    with pytest.raises(SpecLookupError, match="v1 spec has no path '/deals'"):
        response_schema("v1", "get", "/deals", 200)


def test_out_of_support_v1_path_errors_use_the_envelope():
    assert_matches_spec(
        "v1", "get", "/deals", 410, {"success": False, "error": "Gone", "error_info": "Use v2"}
    )


def test_undocumented_success_status_is_a_lookup_error():
    with pytest.raises(SpecLookupError, match="documents no 201 response for GET /deals"):
        response_schema("v2", "get", "/deals", 201)


def test_unknown_method_is_a_lookup_error():
    with pytest.raises(SpecLookupError, match="no PUT /deals"):
        response_schema("v2", "put", "/deals", 200)
