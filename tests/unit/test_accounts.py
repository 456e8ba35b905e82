"""Several accounts: names per company, the shared layout's hints, and the settings refused up front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from pipedrive_source import pipedrive_source
from pipedrive_source.accounts import (
    account_dataset,
    account_pipeline_name,
    check_accounts_settings,
    connection_ids_of,
)
from pipedrive_source.cli import cli
from pipedrive_source.cli import run as _run_command  # noqa: F401  (registers `run`)
from pipedrive_source.errors import ConfigurationError
from pipedrive_source.selection import select_tables
from pipedrive_source.shared_layout import (
    ACCOUNT_COLUMN,
    OF_ACCOUNT_SUFFIX,
    REPLACES_ACCOUNT_ROWS,
    shared_layout,
    with_company_id,
)

CONNECTION = "21fd90f9-5935-43cd-b6c8-bde9d915ca80"
COMPANY_ID = 54235233


@pytest.fixture
def maton(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATON_API_KEY", "unit-test-key")


def _table(source: Any, resource: str) -> dict[str, Any]:
    schema: dict[str, Any] = source.resources[resource].compute_table_schema()
    return schema


def _keys(table: dict[str, Any], hint: str) -> set[str]:
    return {name for name, column in table["columns"].items() if column.get(hint)}


def test_names_of_an_account_follow_its_company() -> None:
    assert account_dataset("pipedrive_data", COMPANY_ID) == "pipedrive_data_54235233"
    assert account_pipeline_name("pipedrive", COMPANY_ID) == "pipedrive_54235233"


@pytest.mark.usefixtures("maton")
def test_shared_layout_keys_every_table_by_company() -> None:
    source = shared_layout(pipedrive_source(connection_id=CONNECTION), COMPANY_ID)

    deals = _table(source, "deals")
    assert _keys(deals, "primary_key") == {ACCOUNT_COLUMN, "id"}
    assert deals["columns"][ACCOUNT_COLUMN]["nullable"] is False
    assert deals["write_disposition"] == "merge"
    # the delete reconciliation fills the same table with the same key
    assert _keys(_table(source, "deals_deletes"), "primary_key") == {ACCOUNT_COLUMN, "id"}
    # a child table replaces the children of a parent of this company only
    assert _keys(_table(source, "deal_products"), "merge_key") == {ACCOUNT_COLUMN, "deal_id"}
    assert _keys(_table(source, "deal_products_backlog"), "merge_key") == {ACCOUNT_COLUMN, "deal_id"}
    # a replaced table replaces this company's rows only
    for name in ("stages", "stages" + OF_ACCOUNT_SUFFIX):
        stages = _table(source, name)
        assert stages["write_disposition"] == "merge", name
        assert _keys(stages, "primary_key") == {ACCOUNT_COLUMN, "id"}, name
        assert _keys(stages, "merge_key") == {ACCOUNT_COLUMN}, name
        assert stages["columns"][REPLACES_ACCOUNT_ROWS]["hard_delete"] is True, name
    custom_fields = _table(source, "custom_fields")
    assert _keys(custom_fields, "primary_key") == {ACCOUNT_COLUMN, "entity", "field_code"}


@pytest.mark.usefixtures("maton")
def test_markers_follow_the_selection_of_their_table() -> None:
    source = shared_layout(select_tables(pipedrive_source(), ["deals", "stages"]), COMPANY_ID)

    selected = set(source.selected_resources)
    assert "stages" + OF_ACCOUNT_SUFFIX in selected
    assert "pipelines" + OF_ACCOUNT_SUFFIX in source.resources
    assert "pipelines" + OF_ACCOUNT_SUFFIX not in selected


def test_every_row_gets_the_company_id() -> None:
    add = with_company_id(COMPANY_ID)

    page = add(pa.table({"id": [1, 2]}))
    assert page.column(ACCOUNT_COLUMN).to_pylist() == [COMPANY_ID, COMPANY_ID]
    assert page.schema.field(ACCOUNT_COLUMN).type == pa.int64()
    assert not page.schema.field(ACCOUNT_COLUMN).nullable
    # rows read back from the destination (the delete reconciliation), and call logs, which carry
    # Pipedrive's own company_id, keep one column
    again = add(pa.table({"id": [1], ACCOUNT_COLUMN: [7]}))
    assert again.column_names == ["id", ACCOUNT_COLUMN]
    assert again.column(ACCOUNT_COLUMN).to_pylist() == [COMPANY_ID]
    assert add({"id": 1}) == {"id": 1, ACCOUNT_COLUMN: COMPANY_ID}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"layout": "tables"}, "not an accounts layout"),
        ({"layout": "shared", "refresh": "drop_resources"}, "refresh each company in the datasets layout"),
        (
            {"layout": "datasets", "api_token": "direct-token", "base_url": "https://acme.pipedrive.com"},
            "set MATON_API_KEY",
        ),
    ],
)
@pytest.mark.usefixtures("maton")
def test_settings_that_cannot_load_several_accounts(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        check_accounts_settings(**settings)


def test_connection_ids_are_checked_and_kept_once() -> None:
    assert connection_ids_of([CONNECTION.upper(), CONNECTION]) == [CONNECTION]
    with pytest.raises(ConfigurationError, match="not a Maton connection id"):
        connection_ids_of(["acme"])


def test_cli_refuses_connections_with_a_direct_token(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "direct-token")
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", "https://acme.pipedrive.com")

    outcome = CliRunner().invoke(cli, ["run", "--connections", CONNECTION])

    assert outcome.exit_code == 2
    assert "set MATON_API_KEY" in outcome.stderr
    assert "direct-token" not in outcome.output
