"""One run of a pipeline at a time.

Two runs of one pipeline (a cron job overlapping the previous one) would both read every table, share the
account's rate limit and race on the state. A run holds an exclusive lock on `<pipeline_name>.lock` beside
the pipeline's folder (in dlt's pipelines folder) from before its first request to its end; a second run
finds it taken and stops at once with `RunInProgress`, naming the process that holds it. The lock is the
operating system's (`filelock`: `flock` on Unix): it goes with the process that held it, so a run that was
killed (SIGKILL, a crash) never blocks the next one. The holder's process id and start time are written
beside it (`<pipeline_name>.lock.json`) for the message only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import dlt
from filelock import FileLock, Timeout

from pipedrive_source.errors import PipedriveError


class RunInProgress(PipedriveError):
    """Another run of the same pipeline holds its lock."""

    def __init__(self, pipeline_name: str, holder: dict[str, object]) -> None:
        self.holder = holder
        who = f"process {holder['pid']}" if holder.get("pid") else "another process"
        since = f" since {holder['started_at']}" if holder.get("started_at") else ""
        super().__init__(
            f"A run of pipeline {pipeline_name!r} is in progress ({who}{since}): this run stopped without "
            "reading anything. Let that run finish (the next scheduled run continues from it), or stop it "
            "first; a run that was killed holds nothing, so the next run starts at once."
        )


def lock_path(pipeline: dlt.Pipeline) -> Path:
    """The lock file of a pipeline: beside its folder, which a reset of its state deletes."""
    return Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"


@contextlib.contextmanager
def one_run_at_a_time(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Hold the pipeline's run lock for the block.

    Raises:
        RunInProgress: another process (or thread) runs the pipeline now.
    """
    path = lock_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    holder_file = path.with_name(path.name + ".json")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunInProgress(pipeline.pipeline_name, _holder(holder_file)) from None
    try:
        holder_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
                    "command": " ".join(sys.argv),
                }
            )
        )
        yield
    finally:
        with contextlib.suppress(OSError):
            holder_file.unlink()
        lock.release()


def _holder(holder_file: Path) -> dict[str, object]:
    try:
        found = json.loads(holder_file.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
