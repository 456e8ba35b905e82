"""Generated records of the entities that stay on API v1 (their v1 shapes): notes, leads, files, call logs,
filters, activity types, lead labels, goals and roles.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from pipedrive_source.testing import clock, vocabulary
from pipedrive_source.testing.clock import DAY, rfc3339_millis, v1_time
from pipedrive_source.testing.custom_values import make_phone
from pipedrive_source.testing.dice import Dice, salt
from pipedrive_source.testing.dice import rng as random_source
from pipedrive_source.testing.generate import ACTIVITY_TYPES, _fill
from pipedrive_source.testing.table import EntityTable, Record
from pipedrive_source.testing.timeline import Timeline

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

PIN_DEAL, PIN_PERSON, PIN_ORG, PIN_LEAD = 1, 2, 4, 8
LEAD_LABEL_COLORS = ("red", "yellow", "blue", "purple")
LEAD_SOURCES = (
    "Manually created",
    "Deal",
    "Web forms",
    "Prospector",
    "Leadbooster",
    "Live chat",
    "Import",
    "Website visitors",
    "Workflow automation",
    "API",
)
FILE_KINDS = (
    ("Proposal {company}.pdf", "application/pdf"),
    ("Signed contract {company}.pdf", "application/pdf"),
    ("Meeting notes {date}.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("Price list {date}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("Site photo {date}.jpg", "image/jpeg"),
)
NOTE_OPENERS = ("Spoke with", "Met", "Emailed", "Call with", "Quick sync with")
CALL_OUTCOMES = ("connected", "connected", "connected", "no_answer", "left_message", "left_voicemail", "busy")


def _linked(acct: Account, table: EntityTable, entity: str, count: int, deleted_share: float) -> list[int]:
    """Link each record to a random deal (and that deal's person and organization) and a user; the rolls."""
    _fill(table, Timeline(acct.seed, entity, count, deleted_share))
    deals = acct.table("deals") if acct.sizes.deals else None
    rng = random_source(acct.seed, entity, "links")
    users, deal_count = acct.sizes.users, acct.sizes.deals
    rolls = [rng.getrandbits(64) for _ in range(count)]
    deal_ids = [1 + roll % deal_count if deals and (roll >> 24) % 5 else 0 for roll in rolls]
    deal_person = deals.attrs["person_id"] if deals else array("q")
    deal_org = deals.attrs["org_id"] if deals else array("q")
    table.attrs["user_id"] = array("q", [1 + (roll >> 32) % users for roll in rolls])
    table.attrs["deal_id"] = array("q", deal_ids)
    table.attrs["person_id"] = array("q", [deal_person[deal - 1] if deal else 0 for deal in deal_ids])
    table.attrs["org_id"] = array("q", [deal_org[deal - 1] if deal else 0 for deal in deal_ids])
    return rolls


def _summary(acct: Account, entity: str, record_id: int, key: str) -> dict[str, str] | None:
    return {key: acct.name_of(entity, record_id)} if record_id else None


# -- notes ---------------------------------------------------------------------------------------------------
def generate_notes(acct: Account) -> EntityTable:
    table = EntityTable(
        "notes",
        ("user_id", "deal_id", "person_id", "org_id", "lead_id", "pinned"),
        lambda i: build_note(acct, i),
    )
    rolls = _linked(acct, table, "notes", acct.sizes.notes, 0.01)
    leads = acct.sizes.leads
    deal_ids = table.attrs["deal_id"]
    lead_ids = [
        1 + (roll >> 8) % leads if leads and not deal and (roll >> 44) % 2 else 0
        for deal, roll in zip(deal_ids, rolls, strict=True)
    ]
    table.attrs["lead_id"] = array("q", lead_ids)
    table.attrs["pinned"] = array(
        "q",
        [
            (PIN_DEAL if deal and (roll >> 48) % 10 == 0 else 0)
            | (PIN_LEAD if lead and (roll >> 52) % 10 == 0 else 0)
            for deal, lead, roll in zip(deal_ids, lead_ids, rolls, strict=True)
        ],
    )
    table.finish_generation()
    return table


def build_note(acct: Account, note_id: int) -> Record:
    table = acct.table("notes")
    index = note_id - 1
    dice = Dice.keyed(salt(acct.seed, "notes"), note_id)
    deal, person, org = (table.attrs[k][index] for k in ("deal_id", "person_id", "org_id"))
    lead, pinned, user = (
        table.attrs["lead_id"][index],
        table.attrs["pinned"][index],
        table.attrs["user_id"][index],
    )
    sentences = dice.sample(vocabulary.NOTE_SENTENCES, dice.between(1, 3))
    contact = acct.name_of("persons", person) if person else acct.name_of("organizations", org) if org else ""
    when = clock.iso_date(table.add_ts[index])
    sentences.insert(
        0, f"{dice.pick(NOTE_OPENERS)} {contact} on {when}." if contact else f"Update of {when}."
    )
    return {
        "id": note_id,
        "active_flag": not table.deleted[index],
        "add_time": v1_time(table.add_ts[index]),
        "content": "".join(f"<p>{s}</p>" for s in sentences),
        "deal": _summary(acct, "deals", deal, "title"),
        "lead_id": acct.lead_id(lead) if lead else None,
        "deal_id": deal or None,
        "last_update_user_id": user,
        "org_id": org or None,
        "organization": _summary(acct, "organizations", org, "name"),
        "person": _summary(acct, "persons", person, "name"),
        "person_id": person or None,
        "project_id": None,
        "project": None,
        "pinned_to_lead_flag": bool(pinned & PIN_LEAD),
        "pinned_to_deal_flag": bool(pinned & PIN_DEAL),
        "pinned_to_organization_flag": bool(pinned & PIN_ORG),
        "pinned_to_person_flag": bool(pinned & PIN_PERSON),
        "pinned_to_project_flag": False,
        "update_time": v1_time(table.update_ts[index]),
        "user": acct.note_user(user),
        "user_id": user,
    }


# -- leads ---------------------------------------------------------------------------------------------------
def generate_leads(acct: Account) -> EntityTable:
    table = EntityTable(
        "leads", ("owner_id", "person_id", "org_id", "archived"), lambda i: build_lead(acct, i)
    )
    count = acct.sizes.leads
    _fill(table, Timeline(acct.seed, "leads", count, 0.01))
    rng = random_source(acct.seed, "leads", "links")
    persons = acct.table("persons") if acct.sizes.persons else None
    person_org = persons.attrs["org_id"] if persons else array("q")
    person_deleted = persons.deleted if persons else bytearray()
    rolls = [rng.getrandbits(64) for _ in range(count)]
    picked = [1 + roll % acct.sizes.persons if persons and (roll >> 20) % 4 else 0 for roll in rolls]
    person_ids = [0 if person and person_deleted[person - 1] else person for person in picked]
    table.attrs["owner_id"] = array("q", [1 + (roll >> 28) % acct.sizes.users for roll in rolls])
    table.attrs["person_id"] = array("q", person_ids)
    table.attrs["org_id"] = array("q", [person_org[person - 1] if person else 0 for person in person_ids])
    table.attrs["archived"] = array("q", [1 if (roll >> 40) % 25 == 0 else 0 for roll in rolls])
    table.finish_generation()
    return table


def build_lead(acct: Account, lead_number: int) -> Record:
    table = acct.table("leads")
    index = lead_number - 1
    dice = Dice.keyed(salt(acct.seed, "leads"), lead_number)
    person, org = table.attrs["person_id"][index], table.attrs["org_id"][index]
    company = (
        acct.name_of("organizations", org) if org else acct.name_of("persons", person) if person else None
    )
    labels = acct.rows("leadLabels")
    record: Record = {
        "id": acct.lead_id(lead_number),
        "title": f"{company or 'Website visitor'} lead",
        "owner_id": table.attrs["owner_id"][index],
        "creator_id": dice.between(1, acct.sizes.users),
        "label_ids": [dice.pick(labels)["id"]] if labels and dice.chance(0.5) else [],
        "person_id": person or None,
        "organization_id": org or None,
        "source_name": dice.pick(LEAD_SOURCES),
        "origin": dice.pick(("ManuallyCreated", "WebForms", "Prospector", "API")),
        "origin_id": None,
        "channel": None,
        "channel_id": None,
        "source_deal_id": None,
        "is_archived": bool(table.attrs["archived"][index]),
        "was_seen": dice.chance(0.7),
        "value": {"amount": dice.between(1, 200) * 500, "currency": "EUR"} if dice.chance(0.6) else None,
        "expected_close_date": clock.iso_date(table.add_ts[index] + dice.between(20, 90) * DAY)
        if dice.chance(0.5)
        else None,
        "next_activity_id": None,
        "add_time": rfc3339_millis(table.add_ts[index]),
        "update_time": rfc3339_millis(table.update_ts[index]),
        "visible_to": str(dice.pick((3, 3, 1, 7))),
        "cc_email": f"{acct.company['company_domain']}+lead{lead_number}@pipedrivemail.com",
    }
    record.update(acct.v1_custom("leads", acct.custom_values("deals", lead_number + 1_000_000)))
    return record


# -- files and call logs -------------------------------------------------------------------------------------
def generate_files(acct: Account) -> EntityTable:
    table = EntityTable("files", ("user_id", "deal_id", "person_id", "org_id"), lambda i: build_file(acct, i))
    _linked(acct, table, "files", acct.sizes.files, 0.02)
    table.finish_generation()
    return table


def build_file(acct: Account, file_id: int) -> Record:
    table = acct.table("files")
    index = file_id - 1
    dice = Dice.keyed(salt(acct.seed, "files"), file_id)
    deal, person, org = (table.attrs[k][index] for k in ("deal_id", "person_id", "org_id"))
    pattern, mime = dice.pick(FILE_KINDS)
    company = acct.name_of("organizations", org) if org else "customer"
    name = pattern.format(company=company, date=clock.iso_date(table.add_ts[index]))
    domain = acct.company["company_domain"]
    return {
        "id": file_id,
        "user_id": table.attrs["user_id"][index],
        "deal_id": deal or None,
        "person_id": person or None,
        "org_id": org or None,
        "product_id": None,
        "activity_id": None,
        "lead_id": None,
        "project_id": None,
        "add_time": v1_time(table.add_ts[index]),
        "update_time": v1_time(table.update_ts[index]),
        "file_name": f"{file_id}_{name.replace(' ', '_')}",
        "file_type": mime.split("/")[-1][:8],
        "file_size": dice.between(8_000, 9_000_000),
        "active_flag": not table.deleted[index],
        "inline_flag": False,
        "remote_location": "s3",
        "remote_id": f"{file_id:08x}",
        "cid": "",
        "s3_bucket": "pipedrive-files-eu",
        "mail_message_id": "",
        "mail_template_id": "",
        "deal_name": acct.name_of("deals", deal) if deal else "",
        "person_name": acct.name_of("persons", person) if person else "",
        "org_name": acct.name_of("organizations", org) if org else "",
        "product_name": "",
        "lead_name": "",
        "project_name": "",
        "url": f"https://{domain}.pipedrive.com/api/v1/files/{file_id}/download",
        "name": name,
        "description": "",
    }


def generate_call_logs(acct: Account) -> EntityTable:
    table = EntityTable(
        "callLogs", ("user_id", "deal_id", "person_id", "org_id"), lambda i: build_call_log(acct, i)
    )
    _linked(acct, table, "callLogs", acct.sizes.call_logs, 0.0)
    table.finish_generation()
    return table


def build_call_log(acct: Account, number: int) -> Record:
    table = acct.table("callLogs")
    index = number - 1
    dice = Dice.keyed(salt(acct.seed, "callLogs"), number)
    started = table.add_ts[index]
    outcome = dice.pick(CALL_OUTCOMES)
    seconds = dice.between(40, 1800) if outcome == "connected" else dice.between(5, 40)
    deal, person, org = (table.attrs[k][index] for k in ("deal_id", "person_id", "org_id"))
    return {
        "id": acct.call_log_id(number),
        "user_id": table.attrs["user_id"][index],
        "activity_id": None,
        "subject": dice.pick(vocabulary.ACTIVITY_SUBJECTS["call"]),
        "duration": str(seconds),
        "outcome": outcome,
        "from_phone_number": make_phone(dice),
        "to_phone_number": make_phone(dice),
        "start_time": v1_time(started),
        "end_time": v1_time(started + seconds),
        "person_id": person or None,
        "org_id": org or None,
        "deal_id": deal or None,
        "lead_id": None,
        "note": dice.pick(vocabulary.NOTE_SENTENCES) if dice.chance(0.4) else None,
        "has_recording": dice.chance(0.2),
        "company_id": acct.company["company_id"],
    }


# -- small lists ---------------------------------------------------------------------------------------------
def _static(acct: Account, entity: str, rows: list[Record], times: list[tuple[int, int]]) -> EntityTable:
    table = EntityTable(entity, (), lambda i: acct.static_record(entity, i))
    for added, updated in times:
        table.append_generated(added, updated, False)
    acct.static_rows[entity] = rows
    table.finish_generation()
    return table


def _times(count: int, step_days: int) -> list[tuple[int, int]]:
    start = clock.HISTORY_START - 60 * DAY
    return [(start + i * DAY * 3, clock.REFERENCE_INSTANT - (i + 1) * step_days * DAY) for i in range(count)]


def generate_activity_types(acct: Account) -> EntityTable:
    icons = {
        "call": "call",
        "meeting": "meeting",
        "task": "task",
        "deadline": "deadline",
        "email": "email",
        "lunch": "lunch",
    }
    times = _times(len(ACTIVITY_TYPES), 200)
    rows = [
        {
            "id": i,
            "name": key.capitalize(),
            "icon_key": icons[key],
            "color": None,
            "order_nr": i,
            "key_string": key,
            "active_flag": True,
            "is_custom_flag": False,
            "add_time": v1_time(times[i - 1][0]),
            "update_time": v1_time(times[i - 1][1]),
        }
        for i, key in enumerate(ACTIVITY_TYPES, start=1)
    ]
    return _static(acct, "activityTypes", rows, times)


def generate_filters(acct: Account) -> EntityTable:
    specs = (
        ("All open deals", "deals"),
        ("My open deals", "deals"),
        ("Won this quarter", "deals"),
        ("Deals closing this month", "deals"),
        ("Hot leads", "leads"),
        ("Key accounts", "org"),
        ("Decision makers", "people"),
        ("Subscriptions", "products"),
        ("Overdue activities", "activity"),
        ("Calls this week", "activity"),
    )
    times = _times(len(specs), 90)
    rows = [
        {
            "id": i,
            "name": name,
            "filter_code": None,
            "is_editable": i > 2,
            "active_flag": True,
            "type": kind,
            "temporary_flag": None,
            "user_id": 1 + (i % acct.sizes.users),
            "add_time": v1_time(times[i - 1][0]),
            "update_time": v1_time(times[i - 1][1]),
            "visible_to": "3" if i % 2 else "1",
            "last_used_time": v1_time(times[i - 1][1] + DAY),
            "custom_view_id": None,
        }
        for i, (name, kind) in enumerate(specs, start=1)
    ]
    return _static(acct, "filters", rows, times)


def generate_lead_labels(acct: Account) -> EntityTable:
    names = ("Hot", "Warm", "Cold", "Partner referral")
    times = _times(len(names), 300)
    rows = [
        {
            "id": acct.uuid("lead-label", i),
            "name": name,
            "color": LEAD_LABEL_COLORS[i - 1],
            "add_time": rfc3339_millis(times[i - 1][0]),
            "update_time": rfc3339_millis(times[i - 1][1]),
        }
        for i, name in enumerate(names, start=1)
    ]
    return _static(acct, "leadLabels", rows, times)


def generate_goals(acct: Account) -> EntityTable:
    specs = (
        ("Deals won per quarter", "deals_won", "quarterly", "quantity", 40),
        ("Revenue won per month", "deals_won", "monthly", "sum", 120000),
        ("New deals started", "deals_started", "monthly", "quantity", 80),
        ("Calls made", "activities_completed", "weekly", "quantity", 150),
        ("Demos booked", "activities_added", "monthly", "quantity", 30),
    )
    times = _times(len(specs), 30)
    rows = [
        {
            "id": acct.uuid("goal", i).replace("-", "")[:24],
            "owner_id": 1,
            "title": title,
            "type": {"name": kind, "params": {"pipeline_id": [1], "activity_type_id": [1]}},
            "assignee": {"id": 1 if i % 2 else 0, "type": "person" if i % 2 else "company"},
            "interval": interval,
            "duration": {"start": clock.iso_date(times[i - 1][0]), "end": None},
            "expected_outcome": {"target": target, "tracking_metric": metric},
            "is_active": True,
            "report_ids": [acct.uuid("report", i)],
        }
        for i, (title, kind, interval, metric, target) in enumerate(specs, start=1)
    ]
    return _static(acct, "goals", rows, times)


def generate_roles(acct: Account) -> EntityTable:
    specs = (("Admins", None, 0), ("Sales managers", 1, 1), ("Account executives", 2, 2), ("Interns", 3, 3))
    times = _times(len(specs), 400)
    users = acct.sizes.users
    rows = [
        {
            "id": i,
            "parent_role_id": parent,
            "name": name,
            "active_flag": True,
            "assignment_count": str(max(1, users // len(specs))),
            "sub_role_count": "1" if i < len(specs) else "0",
            "level": level,
        }
        for i, (name, parent, level) in enumerate(specs, start=1)
    ]
    return _static(acct, "roles", rows, times)


def currencies() -> list[Record]:
    return [
        {
            "id": i,
            "code": code,
            "name": name,
            "decimal_points": points,
            "symbol": symbol,
            "active_flag": True,
            "is_custom_flag": False,
        }
        for i, (code, name, points, symbol) in enumerate(vocabulary.CURRENCIES, start=1)
    ]


def lead_sources() -> list[Record]:
    return [{"name": name} for name in LEAD_SOURCES]
