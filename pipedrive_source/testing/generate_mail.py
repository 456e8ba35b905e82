"""Generated mail threads of the token owner's mailbox (`GET /v1/mailbox/mailThreads`, v1 shape).

The mailbox API answers the threads of the authorized user only, so every thread belongs to user 1 (the
`is_you` user). About one thread per four deals; most are linked to a deal and its contact person, some to a
person only. A thread sits in one folder (inbox, drafts, sent or archive); its last message arrived at its
update time, which orders the folder lists (most recent message first).
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from pipedrive_source.testing import vocabulary
from pipedrive_source.testing.clock import rfc3339_millis
from pipedrive_source.testing.dice import Dice, salt
from pipedrive_source.testing.dice import rng as random_source
from pipedrive_source.testing.generate import STATUS_NAMES, _fill, _slug
from pipedrive_source.testing.table import EntityTable, Record
from pipedrive_source.testing.timeline import Timeline

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

MAIL_FOLDERS = ("inbox", "drafts", "sent", "archive")
FOLDER_SHARES = (0.55, 0.05, 0.25, 0.15)
MAILBOX_OWNER = 1
DEALS_PER_THREAD = 4

_SUBJECTS = (
    "Re: Proposal for {company}",
    "Pricing follow-up",
    "Contract draft v{n}",
    "Meeting notes from {weekday}",
    "Question about the renewal",
    "Intro: {company} x our team",
    "Re: Security questionnaire",
    "Invoice {n} for {company}",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def _folder(roll: float) -> int:
    total = 0.0
    for index, share in enumerate(FOLDER_SHARES):
        total += share
        if roll < total:
            return index
    return len(FOLDER_SHARES) - 1


def generate_mail_threads(acct: Account) -> EntityTable:
    table = EntityTable(
        "mailThreads", ("folder", "deal_id", "person_id", "org_id"), lambda i: build_mail_thread(acct, i)
    )
    count = acct.sizes.mail_threads
    _fill(table, Timeline(acct.seed, "mailThreads", count, 0.01))
    rng = random_source(acct.seed, "mailThreads", "links")
    deal_count, person_count = acct.sizes.deals, acct.sizes.persons
    deals = acct.table("deals") if deal_count else None
    persons = acct.table("persons") if person_count else None
    folders, deal_ids, person_ids, org_ids = array("q"), array("q"), array("q"), array("q")
    for _ in range(count):
        folders.append(_folder(rng.random()))
        roll = rng.random()
        deal = 1 + rng.randrange(deal_count) if deals is not None and roll < 0.6 else 0
        if deal and deals is not None and not deals.deleted[deal - 1]:
            person, org = deals.attrs["person_id"][deal - 1], deals.attrs["org_id"][deal - 1]
        else:
            deal = 0
            person = 1 + rng.randrange(person_count) if persons is not None and roll < 0.9 else 0
            if person and persons is not None and persons.deleted[person - 1]:
                person = 0
            org = persons.attrs["org_id"][person - 1] if person and persons is not None else 0
        deal_ids.append(deal)
        person_ids.append(person)
        org_ids.append(org)
    table.attrs.update(folder=folders, deal_id=deal_ids, person_id=person_ids, org_id=org_ids)
    table.finish_generation()
    return table


def _party(party_id: int, name: str, email: str, at_ms: int, person: int, org: int) -> Record:
    return {
        "id": party_id,
        "name": name,
        "latest_sent": False,
        "email_address": email,
        "message_time": at_ms,
        "linked_person_id": person or None,
        "linked_person_name": name if person else None,
        "mail_message_party_id": party_id * 7 + 1,
        "linked_organization_id": org or None,
    }


def build_mail_thread(acct: Account, number: int) -> Record:
    table = acct.table("mailThreads")
    index = number - 1
    dice = Dice.keyed(salt(acct.seed, "mailThreads"), number)
    folder = MAIL_FOLDERS[table.attrs["folder"][index]]
    deal, person, org = (table.attrs[k][index] for k in ("deal_id", "person_id", "org_id"))
    first, last = table.add_ts[index], table.update_ts[index]
    company = acct.name_of("organizations", org) if org else "your team"
    subject = dice.pick(_SUBJECTS).format(company=company, n=dice.between(2, 9), weekday=dice.pick(_WEEKDAYS))
    owner = acct.table("users").get(MAILBOX_OWNER) or {}
    contact = (
        acct.name_of("persons", person)
        if person
        else f"{dice.pick(vocabulary.FIRST_NAMES)} {dice.pick(vocabulary.LAST_NAMES)}"
    )
    contact_email = (
        f"{_slug(contact)}@{_slug(company.split(' ')[0]) or 'mail'}.com"
        if person
        else f"contact{number}@{dice.pick(vocabulary.EMAIL_PROVIDERS)}"
    )
    sent = folder in ("sent", "drafts")
    me = _party(2 * number, str(owner.get("name", "")), str(owner.get("email", "")), last * 1000, 0, 0)
    them = _party(2 * number + 1, contact, contact_email, last * 1000, person, org)
    sender, receiver = (me, them) if sent else (them, me)
    snippet = dice.pick(vocabulary.NOTE_SENTENCES)
    deal_status = acct.table("deals").attrs["status"][deal - 1] if deal else 0
    messages = dice.between(1, 8)
    return {
        "id": number,
        "parties": {"to": [receiver], "from": [sender]},
        "drafts_parties": [],
        "folders": [folder],
        "account_id": acct.uuid("mail-account", MAILBOX_OWNER).replace("-", "")[:15],
        "user_id": MAILBOX_OWNER,
        "version": messages + 1,
        "subject": subject,
        "snippet": snippet,
        "snippet_draft": snippet if folder == "drafts" else None,
        "snippet_sent": snippet if folder == "sent" else "",
        "message_count": messages,
        "has_attachments_flag": int(dice.chance(0.2)),
        "has_inline_attachments_flag": 0,
        "has_real_attachments_flag": 0,
        "has_draft_flag": int(folder == "drafts"),
        "has_sent_flag": int(folder == "sent"),
        "archived_flag": int(folder == "archive"),
        "deleted_flag": int(table.deleted[index]),
        "shared_flag": int(dice.chance(0.3)),
        "synced_flag": 1,
        "external_deleted_flag": 0,
        "smart_bcc_flag": 0,
        "first_message_to_me_flag": int(not sent),
        "mail_link_tracking_enabled_flag": 0,
        "last_message_timestamp": rfc3339_millis(last),
        "first_message_timestamp": rfc3339_millis(first),
        "last_message_sent_timestamp": rfc3339_millis(last) if sent else None,
        "last_message_received_timestamp": None if sent else rfc3339_millis(last),
        "add_time": rfc3339_millis(first),
        "update_time": rfc3339_millis(last),
        "deal_id": deal or None,
        "deal_status": STATUS_NAMES.get(deal_status) if deal else None,
        "lead_id": None,
        "all_messages_sent_flag": int(sent),
    }
