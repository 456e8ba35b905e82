"""The `pipedrive-source` commands: output, exit codes and messages as a user sees them."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipedrive_source.cli import check, cli, run  # noqa: F401 - registers the commands
from pipedrive_source.memory import MALLOC_ARENAS
from pipedrive_source.settings import USERS_ME_PATH
from tests.source.fake_api import KEY, FakePipedrive, example


def _summary(stdout: str) -> dict[str, list[str]]:
    """The end-of-run table: table name -> [rows, requests, tokens]."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == ["table", "rows", "requests", "tokens"])
    rows = {}
    for line in lines[start + 1 :]:
        name, *cells = line.split()
        rows[name] = cells
        if name == "total":
            return rows
    raise AssertionError(f"no total line in {stdout!r}")


def test_run_without_a_key_says_to_set_it(clean_env: Path) -> None:
    result = CliRunner().invoke(cli, ["run"])

    assert result.exit_code == 1
    assert "set MATON_API_KEY" in result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["run", "--resources", "deals,leadz"], "unknown table(s) leadz"),
        (["run", "--destination", "nowhere"], "is not a dlt destination"),
    ],
)
def test_usage_errors_exit_2(fake: FakePipedrive, arguments: list[str], complaint: str) -> None:
    result = CliRunner().invoke(cli, arguments)

    assert result.exit_code == 2
    assert complaint in result.stderr


def test_check_prints_who_and_which_company(fake: FakePipedrive) -> None:
    fake.serve_object(USERS_ME_PATH, example("v1_users_me")["data"])

    result = CliRunner().invoke(cli, ["check"])

    assert result.exit_code == 0, result.stderr
    assert "through the Maton gateway" in result.stdout
    assert "Me <me@pipedrive.com>" in result.stdout
    assert "Pipedrive (pipedrive-12g53f.pipedrive.com)" in result.stdout
    assert KEY not in result.stdout


def test_check_with_a_wrong_key(fake: FakePipedrive) -> None:
    fake.serve_object(USERS_ME_PATH, {})
    fake.fail(USERS_ME_PATH, 401, {"success": False, "error": "unauthorized access", "errorCode": 401})

    result = CliRunner().invoke(cli, ["check"])

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: The Maton gateway refused the credentials (401). Check MATON_API_KEY"
    )
    assert "Traceback" not in result.stderr and KEY not in result.stderr


def test_run_loads_the_chosen_tables_into_duckdb(fake: FakePipedrive, clean_env: Path) -> None:
    fake.serve("api/v2/pipelines", example("v2_pipelines_list")["data"])
    fake.serve("api/v2/stages", example("v2_stages_list")["data"])

    result = CliRunner().invoke(cli, ["run", "--resources", "pipelines,stages"])

    assert result.exit_code == 0, result.stderr
    # rows, requests and API tokens (5 per v2 pipelines/stages list) per table, and the account check
    assert _summary(result.stdout) == {
        "(account-check)": ["0", "1", "2"],
        "pipelines": ["1", "1", "5"],
        "stages": ["1", "1", "5"],
        "total": ["2", "3", "12"],
    }
    with duckdb.connect(str(clean_env / "pipedrive.duckdb"), read_only=True) as db:
        assert db.sql("select name from pipedrive_data.pipelines").fetchall() == [("Pipeline Name",)]


@pytest.mark.parametrize(
    ("progress", "shown"),
    [
        ("log", "pipelines 1 records/1 requests | stages 1 records/1 requests"),
        ("tqdm", "pipelines: 1 records"),
        ("none", None),
    ],
)
def test_progress_of_a_run_on_stderr(
    fake: FakePipedrive, clean_env: Path, progress: str, shown: str | None
) -> None:
    fake.serve("api/v2/pipelines", example("v2_pipelines_list")["data"])
    fake.serve("api/v2/stages", example("v2_stages_list")["data"])

    result = CliRunner().invoke(cli, ["run", "--resources", "pipelines,stages", "--progress", progress])

    assert result.exit_code == 0, result.stderr
    if shown is None:
        assert result.stderr == ""
    else:
        assert shown in result.stderr


def _probe(script: str, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Run `script` in a fresh interpreter (process-wide policies cannot be undone in this one): the last
    line it printed, and its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.strip().splitlines()
    return (lines[-1] if lines else ""), done.stderr


def test_the_command_line_does_not_load_airflow_where_it_is_installed(clean_env: Path) -> None:
    # the `test` extra installs Airflow: dlt would import it on its first config lookup (seconds, 100 MB)
    probe = (
        "import sys\n"
        "sys.argv = ['pipedrive-source', 'check']\n"
        "from pipedrive_source.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('airflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROVIDERS__ENABLE_AIRFLOW_SECRETS"}

    last_line, stderr = _probe(probe, env=env)

    assert "set MATON_API_KEY" in stderr  # it did look up its settings
    assert last_line == "False"


def test_the_command_line_collects_garbage_rarely_and_not_through_its_imports(clean_env: Path) -> None:
    # full collections walking every imported object held the GIL 50-130 ms and made requests miss their
    # slots (`cli/gc_policy.py`); the source imported elsewhere leaves the collector alone
    probe = (
        "import gc, sys\n"
        "default = gc.get_threshold()[0]\n"
        "import pipedrive_source\n"
        "untouched = gc.get_threshold()[0] == default and gc.get_freeze_count() == 0\n"
        "sys.argv = ['pipedrive-source', '--help']\n"
        "from pipedrive_source.cli import main\n"
        "from pipedrive_source.cli.gc_policy import YOUNG_OBJECTS\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(untouched, gc.get_threshold()[0] == YOUNG_OBJECTS, gc.get_freeze_count() > 10_000)\n"
    )

    last_line, stderr = _probe(probe)

    assert last_line == "True True True", stderr


def test_the_command_line_imports_dlt_only_once_collections_are_paused(clean_env: Path) -> None:
    # the imports' collections cost about 0.05 s of the start; `import pipedrive_source` imports no dlt
    probe = (
        "import gc, sys\n"
        "collecting_at_dlt_import = []\n"
        "class Watch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'dlt':\n"
        "            collecting_at_dlt_import.append(gc.isenabled())\n"
        "        return None\n"
        "sys.meta_path.insert(0, Watch())\n"
        "import pipedrive_source.cli\n"
        "without_dlt = 'dlt' not in sys.modules\n"
        "sys.argv = ['pipedrive-source', '--help']\n"
        "from pipedrive_source.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "from pipedrive_source import pipedrive_source\n"
        "print(without_dlt, collecting_at_dlt_import, gc.isenabled(), callable(pipedrive_source))\n"
    )

    last_line, stderr = _probe(probe)

    assert last_line == "True [False] True True", stderr


_HEAPS_AFTER_THREADS_ALLOCATE = """
import ctypes, ctypes.util, os, re, sys, tempfile, threading
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fdopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
if sys.argv[1:] == ["command"]:
    sys.argv = ["pipedrive-source", "--help"]
    from pipedrive_source.cli import main
    try:
        main()
    except SystemExit:
        pass
def allocate():  # ctypes calls release the GIL: the threads allocate at the same time
    for _ in range(20_000):
        libc.free(libc.malloc(4096))
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
fd, path = tempfile.mkstemp()
stream = libc.fdopen(fd, b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(len(re.findall("<heap nr=", open(path).read())))
os.remove(path)
"""


def test_the_command_line_keeps_the_allocator_to_two_heaps(clean_env: Path) -> None:
    # memory freed on many per-thread heaps stayed with the process (`memory.limit_malloc_arenas`)
    def heaps(*args: str) -> int:
        return int(_probe(_HEAPS_AFTER_THREADS_ALLOCATE, *args)[0])

    assert heaps() > MALLOC_ARENAS  # eight threads allocating at once get heaps of their own
    assert heaps("command") <= MALLOC_ARENAS
