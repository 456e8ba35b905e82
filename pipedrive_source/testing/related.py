"""Records attached to other records: followers (of deals, persons, organizations, products) and deal
participants.

They are generated from their parent (so they agree with it) until the first change of the parent or of the
list: from then on the list is kept in `Account.related` (see `children.py`), so that changing a deal's owner
or contact person does not silently rewrite who follows or participates in it. Pipedrive does not document
whether adding or removing a follower or participant changes the parent's `update_time`: the simulator
leaves it unchanged (a connector must not rely on it).
"""

from __future__ import annotations

import struct
from array import array
from typing import TYPE_CHECKING

from pipedrive_source.testing import clock
from pipedrive_source.testing.clock import rfc3339
from pipedrive_source.testing.table import Record
from pipedrive_source.testing.v1_shapes import person_v1, v1_from_v2_time

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

PARTICIPANT_SLOTS = 8
"""Participant ids are `deal_id * 8 + n`: generated participants use n < 2, added ones 2..7."""
GENERATED_PARTICIPANTS = 2


def stored(acct: Account, kind: str, parent_id: int) -> list[Record] | None:
    return acct.related.get((kind, parent_id))


def followers_key(entity: str) -> str:
    return f"followers:{entity}"


# -- followers -----------------------------------------------------------------------------------------------
def generated_followers(acct: Account, record: Record) -> list[Record]:
    """The followers of a record as generated: its owner and, for every third record, a colleague."""
    owner = record.get("owner_id") or 1
    users = [owner]
    extra = 1 + (record["id"] * 7) % acct.sizes.users
    if extra != owner and record["id"] % 3 == 0:
        users.append(extra)
    return [{"user_id": user, "add_time": record["add_time"]} for user in users]


def followers(acct: Account, entity: str, record_id: int) -> list[Record]:
    kept = stored(acct, followers_key(entity), record_id)
    if kept is not None:
        return kept
    record = acct.table(entity).get(record_id)
    return [] if record is None else generated_followers(acct, record)


def follower_count(acct: Account, entity: str, record: Record) -> int:
    """What `followers_count` says: the length of what `GET /{entity}/{id}/followers` lists."""
    kept = stored(acct, followers_key(entity), record["id"])
    return len(kept if kept is not None else generated_followers(acct, record))


def add_follower(acct: Account, entity: str, record_id: int, user_id: int) -> Record:
    with acct.related_lock:
        current = [f for f in followers(acct, entity, record_id) if f["user_id"] != user_id]
        follower = {"user_id": user_id, "add_time": rfc3339(clock.now_second())}
        acct.related[(followers_key(entity), record_id)] = [*current, follower]
        return follower


def remove_follower(acct: Account, entity: str, record_id: int, user_id: int) -> bool:
    with acct.related_lock:
        current = followers(acct, entity, record_id)
        kept = [f for f in current if f["user_id"] != user_id]
        acct.related[(followers_key(entity), record_id)] = kept
        return len(kept) != len(current)


# -- deal participants ---------------------------------------------------------------------------------------
def generated_participants(acct: Account, deal: Record) -> list[Record]:
    """A deal's participants as generated (`{id, person_id, add_time, added_by_user_id}`): its contact person
    and, for every fourth deal, a colleague of theirs."""
    person = deal.get("person_id")
    if not person:
        return []
    person_ids = [person]
    if deal["id"] % 4 == 0 and acct.table("persons").exists(person + 1):
        person_ids.append(person + 1)
    return [
        {
            "id": deal["id"] * PARTICIPANT_SLOTS + n,
            "person_id": person_id,
            "add_time": v1_from_v2_time(deal["add_time"]),
            "added_by_user_id": deal["creator_user_id"],
        }
        for n, person_id in enumerate(person_ids)
    ]


def participant_entries(acct: Account, deal_id: int) -> list[Record]:
    kept = stored(acct, "participants", deal_id)
    if kept is not None:
        return kept
    deal = acct.table("deals").get(deal_id)
    return [] if deal is None else generated_participants(acct, deal)


def participant_count(acct: Account, deal: Record) -> int:
    """What `participants_count` says: the length of what `GET /v1/deals/{id}/participants` lists."""
    kept = stored(acct, "participants", deal["id"])
    return len(kept if kept is not None else generated_participants(acct, deal))


def participants(acct: Account, deal_id: int) -> list[Record]:
    """Persons participating in a deal, in the v1 shape of `GET /v1/deals/{id}/participants`."""
    deal = acct.table("deals").get(deal_id)
    persons = acct.table("persons")
    if deal is None:
        return []
    rows = []
    for entry in participant_entries(acct, deal_id):
        person = persons.get(entry["person_id"])
        if person is None:
            continue
        summary = acct.person_summary(entry["person_id"]) or {}
        summary["company_id"] = acct.company["company_id"]
        rows.append(
            {
                "id": entry["id"],
                "person_id": summary,
                "add_time": entry["add_time"],
                "active_flag": True,
                "related_item_data": {"deal_id": deal_id, "title": deal["title"]},
                "person": person_v1(acct, person, expanded=True),
                "added_by_user_id": acct.user_summary(entry["added_by_user_id"]),
                "related_item_type": "deal",
                "related_item_id": deal_id,
            }
        )
    return rows


def add_participant(acct: Account, deal_id: int, person_id: int, user_id: int = 1) -> Record:
    """Add a person to a deal's participants; the entry (`{id, person_id, add_time, added_by_user_id}`).

    Raises:
        ValueError: when the person already participates or the deal has no free participant slot.
    """
    with acct.related_lock:
        current = list(participant_entries(acct, deal_id))
        if any(entry["person_id"] == person_id for entry in current):
            raise ValueError(f"person {person_id} already participates in deal {deal_id}")
        used = {entry["id"] for entry in current}
        free = [
            deal_id * PARTICIPANT_SLOTS + n
            for n in range(GENERATED_PARTICIPANTS, PARTICIPANT_SLOTS)
            if deal_id * PARTICIPANT_SLOTS + n not in used
        ]
        if not free:
            raise ValueError("A deal can have at most 6 participants added through the simulator")
        entry = {
            "id": free[0],
            "person_id": person_id,
            "add_time": clock.v1_time(clock.now_second()),
            "added_by_user_id": user_id,
        }
        acct.related[("participants", deal_id)] = [*current, entry]
        return entry


def remove_participant(acct: Account, deal_id: int, participant_id: int) -> bool:
    with acct.related_lock:
        current = participant_entries(acct, deal_id)
        kept = [entry for entry in current if entry["id"] != participant_id]
        acct.related[("participants", deal_id)] = kept
        return len(kept) != len(current)


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
