"""API v1 mailbox: `GET /mailbox/mailThreads?folder=` and `GET /mailbox/mailThreads/{id}`
(`tests/data/openapi-v1.yaml`).

`folder` is required (inbox, drafts, sent or archive); threads come most recent message first, paged with
`start`/`limit`. The spec's response schema declares no `additional_data`, yet the operation takes `start`
and `limit`: the simulator adds the v1 `pagination` block every other paged v1 list has, so that a client
knows when to stop. A deleted thread ("Marks a mail thread as deleted") leaves every folder.
"""

from __future__ import annotations

from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.generate_mail import MAIL_FOLDERS
from pipedrive_source.testing.pagination import offset_page
from pipedrive_source.testing.routes import Request, Response, Router, ok


def list_mail_threads(req: Request) -> Response:
    folder = req.required_arg("folder")
    if folder not in MAIL_FOLDERS:
        raise ApiError(400, f"Validation failed: folder: Must be one of {', '.join(MAIL_FOLDERS)}")
    table = req.account.table("mailThreads")
    wanted, folders, deleted = MAIL_FOLDERS.index(folder), table.attrs["folder"], table.deleted
    ids = (
        i
        for i in table.ordered_ids("update_time", descending=True)
        if folders[i - 1] == wanted and not deleted[i - 1]
    )
    page, pagination = offset_page(req, ids)
    return ok(req.account.records("mailThreads", page), {"pagination": pagination})


def get_mail_thread(req: Request) -> Response:
    table = req.account.table("mailThreads")
    number = req.param_int()
    record = table.get(number)
    if record is None or table.is_deleted(number):
        raise ApiError(404, "Mail thread not found")
    return ok(record)


def register(router: Router, prefixes: tuple[str, ...]) -> None:
    for path, handler in (
        ("/mailbox/mailThreads", list_mail_threads),
        ("/mailbox/mailThreads/{id}", get_mail_thread),
    ):
        for prefix in prefixes:
            router.add("GET", prefix + path, handler, cost_key=f"GET /v1{path}")
