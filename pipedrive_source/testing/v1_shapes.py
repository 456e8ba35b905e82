"""API v1 shapes of the entities the simulator keeps in their v2 shape (deals, persons, organizations,
activities, products, pipelines, stages), for the v1 endpoints that still return them: `recents`, deal flow
and participants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing.fields import ADDRESS_PARTS
from pipedrive_source.testing.table import Record

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account


def v1_from_v2_time(value: str | None) -> str | None:
    """`2024-01-01T10:20:00Z` -> `2024-01-01 10:20:00`."""
    return f"{value[:10]} {value[11:19]}" if value else None


def _hhmm(value: str | None) -> str | None:
    return value[:5] if value else None


def _counts(*names: str) -> dict[str, int]:
    return dict.fromkeys(names, 0)


def _custom(acct: Account, entity: str, record: Record) -> dict[str, Any]:
    return acct.v1_custom(entity, record.get("custom_fields") or {})


def deal_v1(acct: Account, deal: Record) -> Record:
    owner = acct.user_summary(deal["owner_id"]) or {}
    status = deal["status"]
    value = deal["value"] or 0
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(deal["currency"], deal["currency"] + " ")
    view: Record = {
        "id": deal["id"],
        "creator_user_id": deal["creator_user_id"],
        "user_id": deal["owner_id"],
        "person_id": deal["person_id"],
        "org_id": deal["org_id"],
        "stage_id": deal["stage_id"],
        "title": deal["title"],
        "value": value,
        "currency": deal["currency"],
        "add_time": v1_from_v2_time(deal["add_time"]),
        "update_time": v1_from_v2_time(deal["update_time"]),
        "stage_change_time": v1_from_v2_time(deal["stage_change_time"]),
        "active": status == "open" and not deal["is_deleted"],
        "deleted": deal["is_deleted"],
        "is_archived": deal["is_archived"],
        "status": status,
        "probability": deal["probability"],
        "next_activity_date": None,
        "next_activity_time": None,
        "next_activity_id": None,
        "last_activity_id": None,
        "last_activity_date": None,
        "lost_reason": deal["lost_reason"],
        "visible_to": str(deal["visible_to"]),
        "close_time": v1_from_v2_time(deal["close_time"]),
        "pipeline_id": deal["pipeline_id"],
        "won_time": v1_from_v2_time(deal["won_time"]),
        "first_won_time": v1_from_v2_time(deal["won_time"]),
        "lost_time": v1_from_v2_time(deal["lost_time"]),
        **_counts(
            "products_count",
            "files_count",
            "notes_count",
            "followers_count",
            "email_messages_count",
            "activities_count",
            "done_activities_count",
            "undone_activities_count",
            "participants_count",
        ),
        "expected_close_date": deal["expected_close_date"],
        "last_incoming_mail_time": None,
        "last_outgoing_mail_time": None,
        "label": ",".join(str(label) for label in deal["label_ids"]) or None,
        "stage_order_nr": (acct.table("stages").get(deal["stage_id"]) or {}).get("order_nr"),
        "person_name": acct.name_of("persons", deal["person_id"] or 0) or None,
        "org_name": acct.name_of("organizations", deal["org_id"] or 0) or None,
        "next_activity_subject": None,
        "next_activity_type": None,
        "next_activity_duration": None,
        "next_activity_note": None,
        "formatted_value": f"{symbol}{value:,}",
        "weighted_value": value,
        "formatted_weighted_value": f"{symbol}{value:,}",
        "weighted_value_currency": deal["currency"],
        "rotten_time": None,
        "owner_name": owner.get("name"),
        "cc_email": f"{acct.company['company_domain']}+deal{deal['id']}@pipedrivemail.com",
        "org_hidden": False,
        "person_hidden": False,
        "origin": deal["origin"],
        "origin_id": deal["origin_id"],
        "channel": deal["channel"],
        "channel_id": deal["channel_id"],
        "arr": deal["arr"],
        "mrr": deal["mrr"],
        "acv": deal["acv"],
        "arr_currency": deal["currency"] if deal["arr"] is not None else None,
        "mrr_currency": deal["currency"] if deal["mrr"] is not None else None,
        "acv_currency": deal["currency"] if deal["acv"] is not None else None,
    }
    view.update(_custom(acct, "deals", deal))
    return view


def person_v1(acct: Account, person: Record, expanded: bool = False) -> Record:
    """A v1 person; `expanded` gives `owner_id`/`org_id` as objects, as the participants endpoint does."""
    owner = acct.user_summary(person["owner_id"]) or {}
    org_id = person["org_id"]
    labels = person["label_ids"]
    view: Record = {
        "id": person["id"],
        "company_id": acct.company["company_id"],
        "owner_id": owner if expanded else person["owner_id"],
        "org_id": (acct.organization_summary(org_id) if org_id else None) if expanded else org_id,
        "name": person["name"],
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "active_flag": not person["is_deleted"],
        "phone": [dict(p) for p in person["phones"]],
        "email": [dict(e) for e in person["emails"]],
        "primary_email": next((e["value"] for e in person["emails"] if e["primary"]), None),
        "first_char": (person["name"] or " ")[0].lower(),
        "add_time": v1_from_v2_time(person["add_time"]),
        "update_time": v1_from_v2_time(person["update_time"]),
        "visible_to": str(person["visible_to"]),
        "picture_id": None,
        "label": labels[0] if labels else None,
        "label_ids": labels,
        "org_name": acct.name_of("organizations", org_id or 0) or None,
        "owner_name": owner.get("name"),
        "cc_email": f"{acct.company['company_domain']}@pipedrivemail.com",
        **_counts(
            "email_messages_count",
            "activities_count",
            "done_activities_count",
            "undone_activities_count",
            "files_count",
            "notes_count",
            "followers_count",
            "open_deals_count",
            "related_open_deals_count",
            "closed_deals_count",
            "related_closed_deals_count",
            "won_deals_count",
            "related_won_deals_count",
            "lost_deals_count",
            "related_lost_deals_count",
            "participant_open_deals_count",
            "participant_closed_deals_count",
        ),
        "last_incoming_mail_time": None,
        "last_outgoing_mail_time": None,
        "next_activity_date": None,
        "next_activity_time": None,
        "next_activity_id": None,
        "last_activity_id": None,
        "last_activity_date": None,
    }
    view.update(_custom(acct, "persons", person))
    return view


def organization_v1(acct: Account, org: Record) -> Record:
    owner = acct.user_summary(org["owner_id"]) or {}
    address = org.get("address") or {}
    labels = org["label_ids"]
    view: Record = {
        "id": org["id"],
        "company_id": acct.company["company_id"],
        "owner_id": owner,
        "name": org["name"],
        "active_flag": not org["is_deleted"],
        "picture_id": None,
        "country_code": None,
        "first_char": (org["name"] or " ")[0].lower(),
        "add_time": v1_from_v2_time(org["add_time"]),
        "update_time": v1_from_v2_time(org["update_time"]),
        "visible_to": str(org["visible_to"]),
        "label": labels[0] if labels else None,
        "label_ids": labels,
        "owner_name": owner.get("name"),
        "cc_email": f"{acct.company['company_domain']}@pipedrivemail.com",
        **_counts(
            "email_messages_count",
            "people_count",
            "activities_count",
            "done_activities_count",
            "undone_activities_count",
            "files_count",
            "notes_count",
            "followers_count",
            "open_deals_count",
            "related_open_deals_count",
            "closed_deals_count",
            "related_closed_deals_count",
            "won_deals_count",
            "related_won_deals_count",
            "lost_deals_count",
            "related_lost_deals_count",
        ),
        "address": address.get("value"),
        **{f"address_{part}": address.get(part) for part in ADDRESS_PARTS},
        "next_activity_date": None,
        "next_activity_time": None,
        "next_activity_id": None,
        "last_activity_id": None,
        "last_activity_date": None,
    }
    view.update(_custom(acct, "organizations", org))
    return view


def activity_v1(acct: Account, activity: Record) -> Record:
    location = activity.get("location") or {}
    deal_id, person_id, org_id = activity["deal_id"], activity["person_id"], activity["org_id"]
    owner = acct.user_summary(activity["owner_id"]) or {}
    return {
        "id": activity["id"],
        "company_id": acct.company["company_id"],
        "user_id": activity["owner_id"],
        "done": activity["done"],
        "type": activity["type"],
        "reference_type": None,
        "reference_id": None,
        "conference_meeting_client": activity["conference_meeting_client"],
        "conference_meeting_url": activity["conference_meeting_url"],
        "conference_meeting_id": activity["conference_meeting_id"],
        "due_date": activity["due_date"],
        "due_time": _hhmm(activity["due_time"]) or "",
        "duration": _hhmm(activity["duration"]) or "",
        "busy_flag": activity["busy"],
        "add_time": v1_from_v2_time(activity["add_time"]),
        "marked_as_done_time": v1_from_v2_time(activity["marked_as_done_time"]) or "",
        "last_notification_time": None,
        "last_notification_user_id": None,
        "notification_language_id": None,
        "subject": activity["subject"],
        "public_description": activity["public_description"] or "",
        "calendar_sync_include_context": None,
        "location": location.get("value"),
        "org_id": org_id,
        "person_id": person_id,
        "deal_id": deal_id,
        "lead_id": activity["lead_id"],
        "project_id": activity["project_id"],
        "active_flag": not activity["is_deleted"],
        "update_time": v1_from_v2_time(activity["update_time"]),
        "update_user_id": activity["owner_id"],
        "gcal_event_id": None,
        "google_calendar_id": None,
        "google_calendar_etag": None,
        "source_timezone": None,
        "rec_rule": None,
        "rec_rule_extension": None,
        "rec_master_activity_id": None,
        "series": [],
        "note": activity["note"],
        "created_by_user_id": activity["creator_user_id"],
        **{f"location_{part}": location.get(part) for part in ADDRESS_PARTS},
        "attendees": None,
        "participants": [
            {"person_id": p["person_id"], "primary_flag": p["primary"]} for p in activity["participants"]
        ]
        or None,
        "org_name": acct.name_of("organizations", org_id or 0) or None,
        "person_name": acct.name_of("persons", person_id or 0) or None,
        "deal_title": acct.name_of("deals", deal_id or 0) or None,
        "owner_name": owner.get("name"),
        "person_dropbox_bcc": f"{acct.company['company_domain']}@pipedrivemail.com",
        "deal_dropbox_bcc": f"{acct.company['company_domain']}+deal{deal_id}@pipedrivemail.com"
        if deal_id
        else None,
        "assigned_to_user_id": activity["owner_id"],
        "file": None,
    }


def product_v1(acct: Account, product: Record) -> Record:
    view: Record = {
        "id": product["id"],
        "name": product["name"],
        "code": product["code"],
        "description": product["description"],
        "unit": product["unit"],
        "tax": product["tax"],
        "category": product["category"],
        "active_flag": not product["is_deleted"],
        "selectable": product["is_linkable"],
        "first_char": (product["name"] or " ")[0].lower(),
        "visible_to": product["visible_to"],
        "owner_id": product["owner_id"],
        "files_count": 0,
        "add_time": v1_from_v2_time(product["add_time"]),
        "update_time": v1_from_v2_time(product["update_time"]),
        "prices": [
            {
                "id": i,
                "product_id": p["product_id"],
                "price": p["price"],
                "currency": p["currency"],
                "cost": p["cost"],
                "overhead_cost": p["direct_cost"],
            }
            for i, p in enumerate(product["prices"], start=product["id"] * 10)
        ],
    }
    view.update(_custom(acct, "products", product))
    return view


def pipeline_v1(acct: Account, pipeline: Record) -> Record:
    return {
        "id": pipeline["id"],
        "name": pipeline["name"],
        "url_title": pipeline["name"].lower().replace(" ", "-"),
        "order_nr": pipeline["order_nr"],
        "active": not pipeline["is_deleted"],
        "deal_probability": pipeline["is_deal_probability_enabled"],
        "add_time": v1_from_v2_time(pipeline["add_time"]),
        "update_time": v1_from_v2_time(pipeline["update_time"]),
    }


def stage_v1(acct: Account, stage: Record) -> Record:
    return {
        "id": stage["id"],
        "order_nr": stage["order_nr"],
        "name": stage["name"],
        "active_flag": not stage["is_deleted"],
        "deal_probability": stage["deal_probability"],
        "pipeline_id": stage["pipeline_id"],
        "rotten_flag": stage["is_deal_rot_enabled"],
        "rotten_days": stage["days_to_rotten"],
        "add_time": v1_from_v2_time(stage["add_time"]),
        "update_time": v1_from_v2_time(stage["update_time"]),
    }


def _as_is(acct: Account, record: Record) -> Record:
    return record


V1_SHAPES: dict[str, Callable[[Account, Record], Record]] = {
    "deals": deal_v1,
    "persons": person_v1,
    "organizations": organization_v1,
    "activities": activity_v1,
    "products": product_v1,
    "pipelines": pipeline_v1,
    "stages": stage_v1,
    "notes": _as_is,
    "files": _as_is,
    "filters": _as_is,
    "activityTypes": _as_is,
    "users": _as_is,
}
"""The v1 shape of a record of each entity (entities kept in v1 shape pass through)."""
