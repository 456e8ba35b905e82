"""Choosing tables: every resource filling a table is selected, child tables bring their parents, and the
per-parent and personal tables stay out of a default run."""

from __future__ import annotations

from pathlib import Path

import pytest
from dlt.extract import DltSource

from pipedrive_source import pipedrive_source
from pipedrive_source.selection import UnknownTables, default_tables, select_tables, table_of

PER_PARENT = (
    "deal_followers",
    "deal_participants",
    "deal_changes",
    "person_followers",
    "organization_followers",
    "product_followers",
    "organization_relationships",
)


@pytest.fixture
def source(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> DltSource:
    monkeypatch.setenv("MATON_API_KEY", "selection-test-key")
    return pipedrive_source()


def _selected_tables(source: DltSource) -> set[str]:
    return {table_of(resource) for resource in source.selected_resources.values()}


def test_a_default_run_leaves_out_mail_and_the_per_parent_tables(source: DltSource) -> None:
    defaults = set(default_tables(source))

    assert "mail_threads" not in defaults
    assert defaults.isdisjoint(PER_PARENT)
    assert {"deals", "persons", "leads", "deal_products", "deal_installments", "deal_fields"} <= defaults


def test_a_table_brings_every_resource_filling_it(source: DltSource) -> None:
    chosen = select_tables(source, ["deals"])

    assert set(chosen.selected_resources) == {"deals", "archived_deals", "deals_deletes"}


def test_a_child_table_brings_its_parent_table(source: DltSource) -> None:
    chosen = select_tables(source, ["deal_changes"])

    assert _selected_tables(chosen) == {"deal_changes", "deals"}
    assert {"deal_changes", "deal_changes_of_archived_deals", "deal_changes_backlog"} <= set(
        chosen.selected_resources
    )


def test_default_plus_named_tables(source: DltSource) -> None:
    defaults = set(default_tables(source))

    chosen = select_tables(source, ["default", "deal_changes", "mail_threads"])

    assert _selected_tables(chosen) == defaults | {"deal_changes", "mail_threads"}


def test_all_is_every_table(source: DltSource) -> None:
    every = {table_of(resource) for resource in source.resources.values()}

    assert _selected_tables(select_tables(source, ["all"])) == every
    assert set(PER_PARENT) | {"mail_threads"} <= every


def test_an_unknown_name_is_refused_with_the_choices(source: DltSource) -> None:
    with pytest.raises(UnknownTables) as refused:
        select_tables(source, ["deals", "deal_flow"])

    assert refused.value.unknown == ["deal_flow"]
    assert "deal_changes" in refused.value.choices
    assert "archived_deals" not in refused.value.choices
