"""End-to-end: contacts' names, e-mails and phones hashed (or dropped) before they reach the warehouse.

Replays `cassettes/test_personal_data/`, recorded from the simulator through the Maton layer (see
`conftest.py`). What counts as personal is read from the recorded answers, never from the code under test.
"""

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
import requests
from click.testing import CliRunner
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.cli import cli, run  # noqa: F401 - registers the command
from tests.e2e import oracle
from tests.e2e.conftest import RequestCounter

pytestmark = pytest.mark.vcr

PERSONAL_DATA_KEY = "e2e-personal-data-key-9f3b2c7a1d"
TABLES = ("persons", "files", "call_logs", "mail_threads")
EMAIL_FIELD = re.compile(r"e-?mail", re.IGNORECASE)
HEX = re.compile(r"[0-9a-f]+")


def _api(method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
    """A request through the same gateway and key as the source (recorded and replayed like the reads)."""
    response = requests.request(
        method,
        f"{os.environ['SOURCES__PIPEDRIVE__BASE_URL']}/{path}",
        headers={"Authorization": f"Bearer {os.environ['MATON_API_KEY']}"},
        params=params,
        json=body,
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["data"]


def _hmac(text: str) -> str:
    return hmac.new(PERSONAL_DATA_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def _texts(value: Any) -> Iterator[str]:
    """A custom field's texts; of an address, the whole address (its city or country alone is no secret)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        yield from (value[key] for key in ("value", "formatted_address") if value.get(key))


def _contacts(vcr: Cassette, start: int) -> tuple[set[str], set[str]]:
    """What the API answered about the contacts in the run: texts that must appear nowhere in the database,
    and first and last names, which must be no cell's whole value (alone they also name companies)."""
    anywhere: set[str] = set()
    whole: set[str] = set()
    persons = oracle.records(vcr, "api/v2/persons", start=start)
    fields = oracle.fields(vcr, "api/v2/personFields")
    personal_fields = {
        field["field_code"]
        for field in fields
        if field.get("is_custom_field")
        and (
            field["field_type"] in ("phone", "address")
            or (
                field["field_type"] in ("varchar", "varchar_auto", "text")
                and EMAIL_FIELD.search(field["field_name"])
            )
        )
    }
    for person in persons.values():
        anywhere.add(person["name"])
        whole.update(name for name in (person.get("first_name"), person.get("last_name")) if name)
        for key in ("emails", "phones", "im"):
            anywhere.update(item["value"] for item in person.get(key) or [])
        for code, value in (person.get("custom_fields") or {}).items():
            if code in personal_fields:
                anywhere.update(_texts(value))
    for call in oracle.records(vcr, "api/v1/callLogs", start=start).values():
        anywhere.update(number for number in (call["from_phone_number"], call["to_phone_number"]) if number)
    for thread in oracle.records(vcr, "api/v1/mailbox/mailThreads", start=start).values():
        for party in thread["parties"]["to"] + thread["parties"]["from"]:
            anywhere.update(value for value in (party["email_address"], party["name"]) if value)
    # a country, a city or a postal code alone is no secret, and a short run of digits is in many hashes
    return {text for text in anywhere if len(text) > 5 and not HEX.fullmatch(text)}, whole


def _database_texts(database: Path) -> tuple[str, set[str]]:
    """Every text in every table of the DuckDB file, joined; and the set of whole cell values."""
    cells: list[str] = []
    with duckdb.connect(str(database), read_only=True) as db:
        tables = db.sql("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            for row in db.sql(f'select * from "{schema}"."{table}"').fetchall():
                cells.extend(str(value) for value in row if value is not None)
    return "\n".join(cells), set(cells)


def _party(thread: dict[str, Any]) -> dict[str, Any]:
    return next(
        p for p in thread["parties"]["from"] + thread["parties"]["to"] if p["email_address"] and p["name"]
    )


def test_hashed_contacts_leave_no_name_email_or_phone_and_still_join_across_tables(
    gateway: Any,
    vcr: Cassette,
    sent: RequestCounter,
    make_pipeline: Callable[..., dlt.Pipeline],
    monkeypatch: pytest.MonkeyPatch,
    clean_env: Path,
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PERSONAL_DATA", "hash")
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PERSONAL_DATA_KEY", PERSONAL_DATA_KEY)
    # A contact who wrote a mail thread and was called, entered as a person written differently
    (thread,) = _api("GET", "api/v1/mailbox/mailThreads", {"folder": "inbox", "limit": 1})
    party = _party(thread)
    (call,) = _api("GET", "api/v1/callLogs", {"limit": 1})
    digits = re.sub(r"\D", "", call["to_phone_number"])
    person = _api(
        "POST",
        "api/v2/persons",
        body={
            "name": f"  {party['name'].upper()} ",
            "emails": [{"value": f" {party['email_address'].upper()}", "primary": True, "label": "work"}],
            "phones": [
                {"value": f"+{digits[:3]} ({digits[3:6]}) {digits[6:]}", "primary": True, "label": "work"}
            ],
        },
    )
    start = len(sent)
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source().with_resources(*TABLES))

    anywhere, whole = _contacts(vcr, start)
    assert len(anywhere) > 1000, "the recorded answers hold the contacts"
    text, cells = _database_texts(clean_env / f"{pipeline.pipeline_name}.duckdb")
    assert [secret for secret in anywhere if secret in text] == []
    assert whole & cells == set()

    with pipeline.sql_client() as client:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in client.execute_sql(sql)]

        ((name, emails, phones),) = query(
            f"select name, emails, phones from persons where id = {person['id']}"
        )
        ((senders, recipients),) = query(
            f"select parties__from, parties__to from mail_threads where id = {thread['id']}"
        )
        ((to_phone,),) = query(f"select to_phone_number from call_logs where id = '{call['id']}'")
        file_names = query(
            "select count(*), count(*) filter (where f.person_name = p.name) "
            "from files f join persons p on p.id = f.person_id"
        )
    hashed_party = next(
        p
        for p in json.loads(senders) + json.loads(recipients)
        if p["mail_message_party_id"] == party["mail_message_party_id"]
    )
    # the same contact, however written, hashes the same in every table: the key and the normalization
    assert (
        json.loads(emails)[0]["value"]
        == hashed_party["email_address"]
        == _hmac(party["email_address"].lower())
    )
    assert name == hashed_party["name"] == _hmac(" ".join(party["name"].lower().split()))
    assert json.loads(phones)[0]["value"] == to_phone == _hmac(digits)
    assert json.loads(emails)[0]["label"] == "work"
    ((with_person, joined),) = file_names
    assert with_person > 0 and joined == with_person


def test_dropped_contacts_leave_no_column_from_the_command_line(clean_env: Path, gateway: Any) -> None:
    result = CliRunner().invoke(cli, ["run", "--resources", "persons,call_logs", "--personal-data", "drop"])

    assert result.exit_code == 0, result.stderr
    with duckdb.connect(str(clean_env / "pipedrive.duckdb"), read_only=True) as db:
        columns = {
            (table, column)
            for table, column in db.sql(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = 'pipedrive_data'"
            ).fetchall()
        }
        persons = db.execute("select count(*) from pipedrive_data.persons").fetchone()
    personal = {("persons", c) for c in ("name", "first_name", "last_name", "emails", "phones", "im")}
    personal |= {("call_logs", "from_phone_number"), ("call_logs", "to_phone_number")}
    assert columns & personal == set()
    assert {("persons", "id"), ("persons", "org_id"), ("call_logs", "duration")} <= columns
    assert persons is not None and persons[0] > 0
    # the person's custom phone field and home address go too, their other custom fields stay
    assert not [
        column for table, column in columns if table == "persons" and column.startswith("assistant_phone")
    ]
    assert not [
        column for table, column in columns if table == "persons" and column.startswith("home_address")
    ]
    assert ("persons", "preferred_language") in columns
