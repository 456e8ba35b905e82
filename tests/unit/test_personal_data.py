"""Personal data: hashed with a key after normalization, or dropped, where the specs put it."""

from __future__ import annotations

import copy
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from pipedrive_source import pipedrive_source
from pipedrive_source.custom_fields import CustomFieldMap
from pipedrive_source.errors import ConfigurationError
from pipedrive_source.personal_data import PersonalData, check_settings, keyed_hash

KEY = "a-long-random-personal-data-key"

PERSON: dict[str, Any] = {
    "id": 7,
    "org_id": 3,
    "name": "  Jane   Doe ",
    "first_name": "Jane",
    "last_name": "Doe",
    "emails": [{"value": " Jane.Doe@Example.COM ", "label": "work", "primary": True}],
    "phones": [{"value": "+351 937-3957", "label": "mobile", "primary": True}],
    "im": [{"value": "JaneDoe", "label": "skype", "primary": True}],
    "postal_address": {"value": "1 Main St", "country": "PT"},
    "birthday": "1990-01-31",
    "notes": "met at the fair",
    "label_ids": [1],
}


def _hmac(text: str) -> str:
    return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def _rewritten(table: str, mode: str, record: dict[str, Any], field_map: Any = None) -> dict[str, Any]:
    personal = PersonalData.for_table(table, mode, KEY, field_map)  # type: ignore[arg-type]
    assert personal is not None
    (rewritten,) = personal([copy.deepcopy(record)])
    return rewritten


def test_hash_is_hmac_sha256_of_the_normalized_value():
    assert keyed_hash(KEY.encode(), "email", " Jane.Doe@Example.COM ") == _hmac("jane.doe@example.com")
    assert keyed_hash(KEY.encode(), "phone", "+351 (93) 737-3957") == _hmac("351937373957")
    assert keyed_hash(KEY.encode(), "name", "  Jane \t Doe ") == _hmac("jane doe")
    assert keyed_hash(b"another key", "email", "jane.doe@example.com") != _hmac("jane.doe@example.com")


def test_hash_mode_hashes_a_persons_names_emails_phones_and_removes_contact_sync_details():
    person = _rewritten("persons", "hash", PERSON)

    assert person == {
        "id": 7,
        "org_id": 3,
        "name": _hmac("jane doe"),
        "first_name": _hmac("jane"),
        "last_name": _hmac("doe"),
        "emails": [{"value": _hmac("jane.doe@example.com"), "label": "work", "primary": True}],
        "phones": [{"value": _hmac("3519373957"), "label": "mobile", "primary": True}],
        "im": [{"value": _hmac("janedoe"), "label": "skype", "primary": True}],
        "label_ids": [1],
    }


def test_drop_mode_leaves_the_personal_columns_out():
    personal = PersonalData.for_table("persons", "drop", None)
    assert personal is not None

    (person,) = personal([copy.deepcopy(PERSON)])

    assert person == {"id": 7, "org_id": 3, "label_ids": [1]}
    assert personal.removed_columns == {
        "name",
        "first_name",
        "last_name",
        "emails",
        "phones",
        "im",
        "postal_address",
        "birthday",
        "notes",
    }


def test_an_activity_attendee_hashes_like_the_person_with_the_same_email():
    activity = {
        "id": 1,
        "attendees": [
            {"email": "jane.doe@example.com", "name": "Jane Doe", "status": "accepted", "person_id": 7},
            {"email": None, "name": "", "status": "none", "user_id": 2},
        ],
        "participants": [{"person_id": 7, "primary": True}],
    }

    hashed = _rewritten("activities", "hash", activity)
    dropped = _rewritten("activities", "drop", activity)

    person = _rewritten("persons", "hash", PERSON)
    assert hashed["attendees"][0]["email"] == person["emails"][0]["value"]
    assert hashed["attendees"][0]["name"] == person["name"]
    # absent and blank values stay as they are: there is nothing to hide
    assert hashed["attendees"][1] == activity["attendees"][1]
    assert hashed["participants"] == activity["participants"]
    # dropping keeps what is not personal about the attendee
    assert dropped["attendees"] == [
        {"status": "accepted", "person_id": 7},
        {"status": "none", "user_id": 2},
    ]


@pytest.mark.parametrize(
    ("table", "record", "hashed"),
    [
        (
            "call_logs",
            {
                "id": "c1",
                "from_phone_number": "+351 431 6870",
                "to_phone_number": "00 351 937",
                "duration": "35",
            },
            {"from_phone_number": _hmac("3514316870"), "to_phone_number": _hmac("00351937")},
        ),
        (
            "files",
            {"id": 1, "person_name": "Jane Doe", "deal_name": "Big deal"},
            {"person_name": _hmac("jane doe")},
        ),
        (
            "notes",
            {"id": 1, "person": {"name": "Jane Doe"}, "user": {"name": "Sam Seller"}},
            {"person": {"name": _hmac("jane doe")}},
        ),
        (
            "mail_threads",
            {
                "id": 1,
                "parties": {
                    "to": [
                        {"id": 2, "name": "Jane", "email_address": "JANE@x.com", "linked_person_name": "Jane"}
                    ],
                    "from": [{"id": 3, "name": "", "email_address": "me@us.com", "linked_person_id": None}],
                },
                "drafts_parties": [],
            },
            {
                "parties": {
                    "to": [
                        {
                            "id": 2,
                            "name": _hmac("jane"),
                            "email_address": _hmac("jane@x.com"),
                            "linked_person_name": _hmac("jane"),
                        }
                    ],
                    "from": [
                        {"id": 3, "name": "", "email_address": _hmac("me@us.com"), "linked_person_id": None}
                    ],
                },
            },
        ),
    ],
    ids=["call logs", "files", "notes", "mail threads"],
)
def test_personal_values_outside_persons_are_hashed(table, record, hashed):
    assert _rewritten(table, "hash", record) == {**record, **hashed}


def test_custom_phone_fields_are_personal_in_any_table():
    fields = [
        {"field_code": "a" * 40, "field_name": "Hotline", "field_type": "phone", "is_custom_field": True},
        {"field_code": "b" * 40, "field_name": "Region", "field_type": "varchar", "is_custom_field": True},
    ]
    field_map = CustomFieldMap.from_v2_fields("organizations", fields)
    organization = field_map.flatten(
        {"id": 1, "name": "Acme", "custom_fields": {"a" * 40: "+1 555 0100", "b" * 40: "EU"}}
    )

    assert _rewritten("organizations", "hash", organization, field_map) == {
        "id": 1,
        "name": "Acme",
        "hotline": _hmac("15550100"),
        "region": "EU",
    }
    personal = PersonalData.for_table("organizations", "drop", None, field_map)
    assert personal is not None and personal.removed_columns == {"hotline"}
    assert PersonalData.for_table("organizations", "drop", None) is None


def test_keep_mode_and_tables_without_personal_data_rewrite_nothing():
    assert PersonalData.for_table("persons", "keep", KEY) is None
    assert PersonalData.for_table("deals", "hash", KEY) is None
    assert PersonalData.for_table("users", "drop", None) is None


@pytest.mark.parametrize(
    ("mode", "key", "fix"),
    [
        ("hash", None, "set sources.pipedrive.personal_data_key"),
        ("hash", "", "set sources.pipedrive.personal_data_key"),
        ("mask", KEY, "one of keep, hash, drop"),
    ],
)
def test_unworkable_settings_say_what_to_set(mode, key, fix):
    with pytest.raises(ConfigurationError) as raised:
        check_settings(mode, key)

    assert fix in str(raised.value)
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("mode", ["keep", "drop"])
def test_keep_and_drop_need_no_key(mode):
    assert check_settings(mode, None) == mode


def test_the_source_refuses_hash_without_a_key_before_any_request(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATON_API_KEY", "some-maton-key")
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PERSONAL_DATA", "hash")

    with pytest.raises(ConfigurationError, match="personal_data_key"):
        pipedrive_source()

    monkeypatch.setenv("SOURCES__PIPEDRIVE__PERSONAL_DATA_KEY", KEY)
    assert "persons" in pipedrive_source().resources


def test_a_persons_email_named_text_field_and_address_field_are_personal_too():
    fields = [
        {
            "field_code": "c" * 40,
            "field_name": "Assistant E-mail",
            "field_type": "varchar",
            "is_custom_field": True,
        },
        {
            "field_code": "d" * 40,
            "field_name": "Home address",
            "field_type": "address",
            "is_custom_field": True,
        },
        {"field_code": "e" * 40, "field_name": "Bio", "field_type": "text", "is_custom_field": True},
    ]
    field_map = CustomFieldMap.from_v2_fields("persons", fields)
    person = field_map.flatten(
        {
            "id": 1,
            "custom_fields": {
                "c" * 40: "Mia@Yahoo.com",
                "d" * 40: {"value": "Rue de Rivoli 16, Paris", "locality": "Paris", "country": "France"},
                "e" * 40: "Likes sailing",
            },
        }
    )

    hashed = _rewritten("persons", "hash", person, field_map)

    assert hashed["assistant_e_mail"] == _hmac("mia@yahoo.com")
    assert [column for column in hashed if column.startswith("home_address")] == []
    assert hashed["bio"] == "Likes sailing"
    # the same field on an organization is its office, not someone's home
    organization_map = CustomFieldMap.from_v2_fields("organizations", fields[1:2])
    assert PersonalData.for_table("organizations", "hash", KEY, organization_map) is None
