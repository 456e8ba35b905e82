"""A throwaway PostgreSQL server for the warehouse tests: Debian's `postgresql` binaries, a cluster in a
temporary folder, listening on 127.0.0.1 at a free port, stopped and removed afterwards.

PostgreSQL refuses to run as root: as root its binaries run as the `postgres` system user (`runuser`), which
owns the temporary folder. When the binaries are missing and we are root on a machine with `apt-get` (CI's
fresh machine), the `postgresql` package is installed; elsewhere the setup fails saying what to install.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BINARIES = "/usr/lib/postgresql/*/bin"
"""Where Debian's `postgresql` package puts the server's binaries, one folder per major version."""
DATABASE = "pipedrive"
USER = "loader"
SYSTEM_USER = "postgres"

MISSING = (
    "The warehouse tests need a PostgreSQL server and found none under {where}. Install Debian's PostgreSQL "
    "(`sudo apt-get install -y postgresql`, or your system's package with initdb and pg_ctl) and run the "
    "tests again: they start their own server on 127.0.0.1 in a temporary folder and stop it at the end."
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, and none could be installed."""


@dataclass(frozen=True)
class Postgres:
    """A running server: where it listens and the password user owning `database`."""

    host: str
    port: int
    database: str
    username: str
    password: str

    @property
    def credentials(self) -> str:
        """dlt's postgres credentials as a connection string (`destination.postgres.credentials`)."""
        return f"postgresql://{self.username}:{self.password}@{self.host}:{self.port}/{self.database}"


def find_binaries() -> Path | None:
    """The folder of the newest installed PostgreSQL's `initdb` and `pg_ctl`, if any."""
    found = [
        path
        for path in Path("/").glob(BINARIES.lstrip("/"))
        if (path / "initdb").exists() and path.parent.name.isdigit()
    ]
    return max(found, key=lambda path: int(path.parent.name), default=None)


def install_postgresql() -> None:
    """`apt-get install postgresql`, non-interactively (as root, where apt-get exists)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
        capture_output=True,
    )


def binaries() -> Path:
    """The binaries' folder, installing the package first where we may."""
    found = find_binaries()
    if found is None and _as_root() and shutil.which("apt-get"):
        install_postgresql()
        found = find_binaries()
    if found is None:
        raise PostgresUnavailable(MISSING.format(where=BINARIES))
    return found


def _as_root() -> bool:
    return os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A fresh server with database `pipedrive` owned by a password user; stopped and deleted on exit."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="pipedrive-postgres-"))
    data = folder / "data"
    run_as = ["runuser", "-u", SYSTEM_USER, "--"] if _as_root() else []
    if _as_root():
        shutil.chown(folder, SYSTEM_USER, SYSTEM_USER)

    def run(binary: str, *args: str, sql: str | None = None) -> None:
        command = [*run_as, str(bin_dir / binary), *args]
        done = subprocess.run(command, cwd=folder, input=sql, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{binary} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")

    server = Postgres("127.0.0.1", _free_port(), DATABASE, USER, secrets.token_hex(16))
    started = False
    try:
        # trust on the Unix socket in the private folder (to set up), passwords over TCP (as users connect)
        run(
            "initdb",
            *("-D", str(data), "-U", SYSTEM_USER, "-E", "UTF8", "--locale=C.UTF-8"),
            *("--auth-local=trust", "--auth-host=scram-sha-256"),
        )
        run(
            "pg_ctl",
            *("-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60"),
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={folder}"
            " -c fsync=off -c full_page_writes=off",
            "start",
        )
        started = True
        psql = ("-h", str(folder), "-p", str(server.port), "-U", SYSTEM_USER, "-v", "ON_ERROR_STOP=1")
        # on stdin, not in the command line that `ps` shows
        run("psql", *psql, sql=f"create role {USER} login password '{server.password}';")
        run("psql", *psql, "-c", f"create database {DATABASE} owner {USER}")
        yield server
    finally:
        if started:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
