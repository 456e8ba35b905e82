"""Per-request views of v2 records: `custom_fields` selection, option labels, optional `include_fields`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import deal_items, related
from pipedrive_source.testing.custom_values import with_option_labels
from pipedrive_source.testing.dice import Dice, salt
from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.fields import custom_fields_of
from pipedrive_source.testing.routes import Request
from pipedrive_source.testing.table import Record

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

MAX_CUSTOM_FIELD_KEYS = 15

INCLUDE_FIELDS: dict[str, tuple[str, ...]] = {
    "deals": (
        "next_activity_id",
        "last_activity_id",
        "first_won_time",
        "products_count",
        "files_count",
        "notes_count",
        "followers_count",
        "email_messages_count",
        "activities_count",
        "done_activities_count",
        "undone_activities_count",
        "participants_count",
        "last_incoming_mail_time",
        "last_outgoing_mail_time",
        "smart_bcc_email",
        "source_lead_id",
    ),
    "persons": (
        "next_activity_id",
        "last_activity_id",
        "open_deals_count",
        "related_open_deals_count",
        "closed_deals_count",
        "related_closed_deals_count",
        "participant_open_deals_count",
        "participant_closed_deals_count",
        "email_messages_count",
        "activities_count",
        "done_activities_count",
        "undone_activities_count",
        "files_count",
        "notes_count",
        "followers_count",
        "won_deals_count",
        "related_won_deals_count",
        "lost_deals_count",
        "related_lost_deals_count",
        "last_incoming_mail_time",
        "last_outgoing_mail_time",
        "marketing_status",
        "doi_status",
        "smart_bcc_email",
    ),
    "organizations": (
        "next_activity_id",
        "last_activity_id",
        "open_deals_count",
        "related_open_deals_count",
        "closed_deals_count",
        "related_closed_deals_count",
        "email_messages_count",
        "people_count",
        "activities_count",
        "done_activities_count",
        "undone_activities_count",
        "files_count",
        "notes_count",
        "followers_count",
        "won_deals_count",
        "related_won_deals_count",
        "lost_deals_count",
        "related_lost_deals_count",
        "smart_bcc_email",
    ),
    "activities": ("attendees",),
}


def _followers(acct: Account, entity: str, record: Record) -> int:
    return related.follower_count(acct, entity, record)


CHILD_COUNTS: dict[str, Callable[[Account, str, Record], int]] = {
    "followers_count": _followers,
    "participants_count": lambda acct, entity, record: related.participant_count(acct, record),
    "products_count": lambda acct, entity, record: deal_items.deal_product_count(acct, record),
}
"""Counts that agree with the lists they count (a connector skips a record's child list when its count says
there is nothing): followers of deals, persons and organizations, deal participants and deal products. The
other counts are drawn at random."""


def _extra_value(acct: Account, entity: str, record: Record, name: str) -> Any:
    counted = CHILD_COUNTS.get(name)
    if counted is not None:
        return counted(acct, entity, record)
    if name.endswith("_count"):
        return Dice.keyed(salt(acct.seed, f"{entity}.{name}"), record["id"]).between(0, 6)
    if name == "smart_bcc_email":
        return f"{acct.company['company_domain']}+{entity[:-1]}{record['id']}@pipedrivemail.com"
    if name == "first_won_time":
        return record.get("won_time")
    if name == "marketing_status":
        return "no_consent"
    if name == "attendees":
        return []
    return record.get(name)


@dataclass(frozen=True)
class ViewOptions:
    custom_keys: frozenset[str] | None = None
    option_labels: bool = False
    include: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        return self.custom_keys is None and not self.option_labels and not self.include


def view_options(req: Request, entity: str) -> ViewOptions:
    """Read `custom_fields`, `include_option_labels` and `include_fields` of a v2 request."""
    keys = req.list_arg("custom_fields")
    if len(keys) > MAX_CUSTOM_FIELD_KEYS:
        raise ApiError(
            400, f"Validation failed: custom_fields: A maximum of {MAX_CUSTOM_FIELD_KEYS} keys is allowed"
        )
    include = tuple(req.list_arg("include_fields"))
    allowed = INCLUDE_FIELDS.get(entity, ())
    unknown = [name for name in include if name not in allowed]
    if unknown:
        raise ApiError(400, f"Validation failed: include_fields: Unknown field(s) {', '.join(unknown)}")
    return ViewOptions(
        frozenset(keys) if keys else None, bool(req.bool_arg("include_option_labels")), include
    )


def record_viewer(acct: Account, entity: str, options: ViewOptions) -> Callable[[Record], Record]:
    """A function giving the API view of a record for these options (the record itself when plain)."""
    if options.plain:
        return lambda record: record
    fields = custom_fields_of(acct.fields, entity)

    def view(record: Record) -> Record:
        shaped = dict(record)
        custom = record.get("custom_fields")
        if custom is not None:
            if options.custom_keys is not None:
                custom = {k: v for k, v in custom.items() if k in options.custom_keys}
            if options.option_labels:
                custom = with_option_labels(fields, custom)
            shaped["custom_fields"] = custom
        for name in options.include:
            shaped[name] = _extra_value(acct, entity, record, name)
        return shaped

    return view
