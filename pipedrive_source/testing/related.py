"""Records attached to other records: products and installments of deals, followers, deal participants and
flow.

They are generated from their parent (so they agree with it) and can be changed through the API; changed
lists are kept in `Account.related`.
"""

from __future__ import annotations

import struct
from array import array
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import clock
from pipedrive_source.testing.clock import DAY, rfc3339
from pipedrive_source.testing.dice import Dice, salt
from pipedrive_source.testing.table import Record
from pipedrive_source.testing.v1_shapes import activity_v1, person_v1, v1_from_v2_time

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

PRODUCT_SLOTS = 8
"""Attachment ids are `deal_id * 8 + n`: generated attachments use n < 4, API-added ones 4..7."""


def _stored(acct: Account, kind: str, parent_id: int) -> list[Record] | None:
    return acct.related.get((kind, parent_id))


def deal_products(acct: Account, deal_id: int) -> list[Record]:
    stored = _stored(acct, "deal_products", deal_id)
    if stored is not None:
        return stored
    deal = acct.table("deals").get(deal_id)
    products = acct.table("products")
    if deal is None or not deal["value"] or not products.max_id:
        return []
    dice = Dice.keyed(salt(acct.seed, "deal_products"), deal_id)
    attachments = []
    for n in range(dice.between(0, 3)):
        product = products.get(dice.between(1, products.max_id)) or {}
        quantity = dice.between(1, 20)
        item_price = (product.get("prices") or [{"price": 100}])[0]["price"]
        discount = dice.pick((0, 0, 0, 5, 10))
        attachments.append(
            {
                "id": deal_id * PRODUCT_SLOTS + n,
                "sum": round(item_price * quantity * (100 - discount) / 100, 2),
                "tax": product.get("tax", 0),
                "deal_id": deal_id,
                "name": product.get("name", ""),
                "product_id": product.get("id"),
                "product_variation_id": None,
                "order_nr": n + 1,
                "add_time": deal["add_time"],
                "update_time": deal["add_time"],
                "comments": "",
                "currency": deal["currency"],
                "discount": discount,
                "discount_type": "percentage",
                "quantity": quantity,
                "item_price": item_price,
                "tax_method": dice.pick(("exclusive", "inclusive", "none")),
                "is_enabled": True,
                "billing_frequency": product.get("billing_frequency", "one-time"),
                "billing_frequency_cycles": None,
                "billing_start_date": None,
            }
        )
    return attachments


def add_deal_product(acct: Account, deal_id: int, data: dict[str, Any]) -> Record:
    with acct.related_lock:
        current = list(deal_products(acct, deal_id))
        used = {a["id"] for a in current}
        free = [
            deal_id * PRODUCT_SLOTS + n
            for n in range(4, PRODUCT_SLOTS)
            if deal_id * PRODUCT_SLOTS + n not in used
        ]
        if not free:
            raise ValueError("A deal can have at most 4 products added through the simulator")
        product = acct.table("products").get(int(data["product_id"])) or {}
        deal = acct.table("deals").get(deal_id) or {}
        now = rfc3339(clock.now_second())
        quantity = data.get("quantity", 1)
        item_price = data["item_price"]
        discount = data.get("discount", 0)
        attachment = {
            "id": free[0],
            "sum": round(item_price * quantity * (100 - discount) / 100, 2),
            "tax": data.get("tax", 0),
            "deal_id": deal_id,
            "name": product.get("name", ""),
            "product_id": product.get("id"),
            "product_variation_id": data.get("product_variation_id"),
            "order_nr": len(current) + 1,
            "add_time": now,
            "update_time": now,
            "comments": data.get("comments", ""),
            "currency": deal.get("currency", "EUR"),
            "discount": discount,
            "discount_type": data.get("discount_type", "percentage"),
            "quantity": quantity,
            "item_price": item_price,
            "tax_method": data.get("tax_method", "inclusive"),
            "is_enabled": data.get("is_enabled", True),
            "billing_frequency": data.get("billing_frequency", "one-time"),
            "billing_frequency_cycles": data.get("billing_frequency_cycles"),
            "billing_start_date": data.get("billing_start_date"),
        }
        acct.related[("deal_products", deal_id)] = [*current, attachment]
        return attachment


def remove_deal_product(acct: Account, deal_id: int, attachment_id: int) -> bool:
    with acct.related_lock:
        current = deal_products(acct, deal_id)
        kept = [a for a in current if a["id"] != attachment_id]
        acct.related[("deal_products", deal_id)] = kept
        return len(kept) != len(current)


def installments(acct: Account, deal_id: int) -> list[Record]:
    deal = acct.table("deals").get(deal_id)
    if deal is None or deal["arr"] is None:
        return []
    dice = Dice.keyed(salt(acct.seed, "installments"), deal_id)
    count = dice.between(1, 4)
    start = clock.parse_time(deal["add_time"]) + 30 * DAY
    return [
        {
            "id": deal_id * 4 + n,
            "amount": round(deal["value"] / count, 2),
            "billing_date": clock.iso_date(start + n * 91 * DAY),
            "description": f"Instalment {n + 1} of {count}",
            "deal_id": deal_id,
        }
        for n in range(count)
    ]


def followers(acct: Account, entity: str, record_id: int) -> list[Record]:
    stored = _stored(acct, f"followers:{entity}", record_id)
    if stored is not None:
        return stored
    record = acct.table(entity).get(record_id)
    if record is None:
        return []
    owner = record.get("owner_id") or 1
    users = [owner]
    extra = 1 + (record_id * 7) % acct.sizes.users
    if extra != owner and record_id % 3 == 0:
        users.append(extra)
    return [{"user_id": user, "add_time": record["add_time"]} for user in users]


def add_follower(acct: Account, entity: str, record_id: int, user_id: int) -> Record:
    with acct.related_lock:
        current = [f for f in followers(acct, entity, record_id) if f["user_id"] != user_id]
        follower = {"user_id": user_id, "add_time": rfc3339(clock.now_second())}
        acct.related[(f"followers:{entity}", record_id)] = [*current, follower]
        return follower


def remove_follower(acct: Account, entity: str, record_id: int, user_id: int) -> bool:
    with acct.related_lock:
        current = followers(acct, entity, record_id)
        kept = [f for f in current if f["user_id"] != user_id]
        acct.related[(f"followers:{entity}", record_id)] = kept
        return len(kept) != len(current)


def participants(acct: Account, deal_id: int) -> list[Record]:
    """Persons participating in a deal (v1 shape): its contact person and, for some deals, a colleague."""
    deal = acct.table("deals").get(deal_id)
    persons = acct.table("persons")
    if deal is None or not deal["person_id"]:
        return []
    person_ids = [deal["person_id"]]
    colleague = deal["person_id"] + 1
    if deal_id % 4 == 0 and persons.exists(colleague):
        person_ids.append(colleague)
    rows = []
    for n, person_id in enumerate(person_ids):
        person = persons.get(person_id)
        if person is None:
            continue
        summary = acct.person_summary(person_id) or {}
        summary["company_id"] = acct.company["company_id"]
        rows.append(
            {
                "id": deal_id * 4 + n,
                "person_id": summary,
                "add_time": v1_from_v2_time(deal["add_time"]),
                "active_flag": True,
                "related_item_data": {"deal_id": deal_id, "title": deal["title"]},
                "person": person_v1(acct, person, expanded=True),
                "added_by_user_id": acct.user_summary(deal["creator_user_id"]),
                "related_item_type": "deal",
                "related_item_id": deal_id,
            }
        )
    return rows


def ids_linked_to(column: array[int], value: int) -> list[int]:
    """Ids whose attribute equals `value`, found with a byte search (a Python loop over millions is too
    slow)."""
    needle = struct.pack(f"={column.typecode}", value)
    raw = column.tobytes()
    size = column.itemsize
    found = []
    position = raw.find(needle)
    while position != -1:
        if position % size == 0:
            found.append(position // size + 1)
            position = raw.find(needle, position + size)
        else:
            position = raw.find(needle, position + 1)
    return found


def flow(acct: Account, deal_id: int) -> list[Record]:
    """A deal's updates flow, newest first: field changes, notes and activities."""
    deal = acct.table("deals").get(deal_id)
    if deal is None:
        return []
    entries: list[tuple[str, str, Record]] = []
    changes: list[tuple[str, Any, Any, Any]] = [
        ("add_time", None, deal["add_time"], deal["add_time"]),
        ("stage_id", None, deal["stage_id"], deal["stage_change_time"]),
    ]
    if deal["status"] != "open":
        changes.append(("status", "open", deal["status"], deal["close_time"]))
    for n, (field_key, old, new, at) in enumerate(changes):
        log_time = v1_from_v2_time(at)
        entries.append(
            (
                log_time or "",
                "dealChange",
                {
                    "id": deal_id * 10 + n,
                    "item_id": deal_id,
                    "user_id": deal["creator_user_id"],
                    "field_key": field_key,
                    "old_value": old,
                    "new_value": new,
                    "is_bulk_update_flag": None,
                    "log_time": log_time,
                    "change_source": "app",
                    "change_source_user_agent": None,
                    "additional_data": {},
                },
            )
        )
    notes = acct.table("notes")
    for note_id in ids_linked_to(notes.attrs["deal_id"], deal_id):
        note = notes.get(note_id)
        if note and not notes.is_deleted(note_id):
            entries.append((note["add_time"], "note", note))
    activities = acct.table("activities")
    for activity_id in ids_linked_to(activities.attrs["deal_id"], deal_id):
        activity = activities.get(activity_id)
        if activity and not activities.is_deleted(activity_id):
            entries.append(
                (v1_from_v2_time(activity["add_time"]) or "", "activity", activity_v1(acct, activity))
            )
    entries.sort(key=lambda e: e[0], reverse=True)
    return [{"object": kind, "timestamp": at, "data": data} for at, kind, data in entries]
