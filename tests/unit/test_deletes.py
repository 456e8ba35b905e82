"""The delete reconciliation's parts: which tables it scans and how, when it is due, its setting, and the
rows it lands."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from pipedrive_source.deletes import (
    IS_DELETED,
    _forced,
    is_due,
    reconciled_tables,
    reconciling_deletes,
    resolve_delete_settings,
    scan_request,
    vanished_rows,
)
from pipedrive_source.errors import ConfigurationError
from pipedrive_source.settings import ENDPOINTS, ENDPOINTS_BY_NAME

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def test_every_incremental_table_is_reconciled_with_every_list_filling_it():
    tables = {table.name: [e.name for e in table.endpoints] for table in reconciled_tables()}

    assert set(tables) == {e.table for e in ENDPOINTS if e.incremental}
    assert tables["deals"] == ["deals", "archived_deals"]
    assert tables["leads"] == ["leads", "archived_leads"]
    # replaced tables capture deletes by replacement
    assert "users" not in tables and "stages" not in tables


def test_the_scan_reads_the_largest_pages_sorted_by_id_with_the_lists_filters():
    pagination, params = scan_request(ENDPOINTS_BY_NAME["deals"])
    assert pagination == "cursor"
    assert params["sort_by"] == "id" and params["sort_direction"] == "asc"
    # deleted deals still listed are not vanished; the counts find followers that changed
    assert params["status"] == "open,won,lost,deleted"
    assert params["include_fields"] == "followers_count,participants_count"
    assert "updated_since" not in params

    pagination, params = scan_request(ENDPOINTS_BY_NAME["notes"])
    assert (pagination, params["sort"]) == ("offset", "id ASC")


@pytest.mark.parametrize(
    ("last", "every_days", "due"),
    [
        (None, 7, True),
        ((NOW - timedelta(days=7)).isoformat(), 7, True),
        ((NOW - timedelta(days=6, hours=23)).isoformat(), 7, False),
        ((NOW - timedelta(hours=2)).isoformat(), 0.05, True),
        (None, 0, False),
        ((NOW - timedelta(days=365)).isoformat(), 0, False),
    ],
)
def test_a_reconciliation_is_due_every_so_many_days_and_never_at_zero(
    last: str | None, every_days: float, due: bool
):
    assert is_due(last, every_days, NOW) is due


def test_forcing_holds_for_the_block_only():
    assert _forced.get() is False
    with reconciling_deletes():
        assert _forced.get() is True
    assert _forced.get() is False


def test_the_setting_defaults_to_a_week_and_refuses_negative_days(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SOURCES__PIPEDRIVE__RECONCILE_DELETES_EVERY_DAYS", raising=False)
    assert resolve_delete_settings().reconcile_deletes_every_days == 7

    monkeypatch.setenv("SOURCES__PIPEDRIVE__RECONCILE_DELETES_EVERY_DAYS", "0")
    assert resolve_delete_settings().reconcile_deletes_every_days == 0

    for wrong in ("-1", "weekly"):
        monkeypatch.setenv("SOURCES__PIPEDRIVE__RECONCILE_DELETES_EVERY_DAYS", wrong)
        with pytest.raises(ConfigurationError, match="set a number of days of at least 0"):
            resolve_delete_settings()


def test_a_vanished_row_lands_whole_with_the_flag_set():
    stored = pa.table(
        {
            "id": [3, 4],
            "name": ["Ann", "Bob"],
            "value": pa.array([Decimal("1.5"), None], pa.decimal128(38, 9)),
            IS_DELETED: pa.array([None, False], pa.bool_()),
        }
    )

    rows = vanished_rows(stored)

    assert rows.column(IS_DELETED).to_pylist() == [True, True]
    assert rows.drop_columns([IS_DELETED]).equals(stored.drop_columns([IS_DELETED]))
    # a table that never had the flag gets it
    assert vanished_rows(stored.drop_columns([IS_DELETED])).column_names == [
        "id",
        "name",
        "value",
        IS_DELETED,
    ]
