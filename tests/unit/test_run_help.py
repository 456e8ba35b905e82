"""`pipedrive-source run --help` names every table the source loads; mail threads wait to be picked."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipedrive_source import pipedrive_source
from pipedrive_source.cli import cli, run  # noqa: F401 - registers the command


def test_the_resources_help_lists_every_table_of_the_source(clean_env: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MATON_API_KEY", "help-test-key")
    source = pipedrive_source()
    tables = {resource.table_name for resource in source.resources.values()}

    help_text = " ".join(CliRunner().invoke(cli, ["run", "--help"], terminal_width=400).output.split())

    listed = help_text.split("--resources NAMES", 1)[1].split("--destination", 1)[0]
    assert [
        table for table in sorted(tables) if f" {table}," not in listed and f" {table}." not in listed
    ] == []
    assert "but mail_threads" in listed
    assert "--personal-data [keep|hash|drop]" in help_text
