"""The test server's setup: which PostgreSQL it runs, and what it says when there is none."""

from pathlib import Path

import pytest

from tests.warehouses import postgres


def _install(root: Path, version: str) -> Path:
    bin_dir = root / version / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "initdb").touch()
    return bin_dir


def test_the_newest_installed_version_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(postgres, "BINARIES", f"{tmp_path}/*/bin")
    _install(tmp_path, "9")
    newest = _install(tmp_path, "16")
    _install(tmp_path, "15")

    assert postgres.binaries() == newest


def test_without_postgresql_the_setup_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres, "BINARIES", f"{tmp_path}/*/bin")
    monkeypatch.setattr(postgres, "_as_root", lambda: False)

    with pytest.raises(postgres.PostgresUnavailable, match=r"apt-get install -y postgresql") as raised:
        postgres.binaries()
    assert "\n" not in str(raised.value)
