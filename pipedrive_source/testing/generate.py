"""Generated records of the core CRM entities (API v2 shapes): users, pipelines, stages, products,
organizations, persons, deals and activities.

Each `generate_<entity>` fills an `EntityTable` with the compact per-id arrays; the table's builder makes the
full record of an id on demand, deterministically from (seed, entity, id), consistent with those arrays.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import clock, vocabulary
from pipedrive_source.testing.clock import DAY, rfc3339
from pipedrive_source.testing.custom_values import make_address, make_phone
from pipedrive_source.testing.dice import Dice, first_draws, mix, salt
from pipedrive_source.testing.dice import rng as random_source
from pipedrive_source.testing.table import EntityTable, Record
from pipedrive_source.testing.timeline import Timeline

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

PIPELINES = (
    ("Sales", ("Qualified", "Contact made", "Demo scheduled", "Proposal made", "Negotiations started")),
    ("Partnerships", ("Prospect", "Intro call", "Evaluation", "Agreement")),
    ("Renewals", ("Upcoming", "In discussion", "Committed")),
)
STAGE_PROBABILITIES = (10, 25, 40, 60, 80, 100)
STATUS_CODES = {"open": 1, "won": 2, "lost": 3}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}
ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")
VISIBILITY = (3, 3, 3, 3, 1, 7)
PRODUCT_AUDIENCES = ("sell B2B", "run field sales", "manage renewals")


def _fill(table: EntityTable, timeline: Timeline) -> None:
    table.add_ts = timeline.add_ts
    table.update_ts = timeline.update_ts
    table.deleted = timeline.deleted


def company_name(seed: int, org_id: int) -> str:
    dice = Dice.keyed(salt(seed, "organizations.name"), org_id)
    suffix = dice.pick(vocabulary.COMPANY_SUFFIXES)
    name = f"{dice.pick(vocabulary.COMPANY_STEMS)} {dice.pick(vocabulary.COMPANY_KINDS)}"
    return f"{name} {suffix}" if suffix else name


def person_name(seed: int, person_id: int) -> tuple[str, str]:
    dice = Dice.keyed(salt(seed, "persons.name"), person_id)
    return dice.pick(vocabulary.FIRST_NAMES), dice.pick(vocabulary.LAST_NAMES)


_TITLE_FORMATS = tuple(
    pattern.replace("{company}", "{0}").replace("{product}", "{1}").replace("{quarter}", "{2}")
    for pattern in vocabulary.DEAL_TITLE_PATTERNS
)
"""The title patterns with positional fields (twice as fast to fill as named ones)."""


def _title(roll: int, company: str, added: int) -> str:
    formats, products = _TITLE_FORMATS, vocabulary.DEAL_PRODUCTS
    pattern = formats[roll % len(formats)]
    product = products[(roll >> 8) % len(products)]
    if "{2}" not in pattern:
        return pattern.format(company, product)
    return pattern.format(company, product, f"Q{1 + (roll >> 16) % 4} {clock.iso_date(added)[:4]}")  # type: ignore[index]


def deal_title(acct: Account, deal_id: int) -> str:
    deals = acct.table("deals")
    roll = first_draws(salt(acct.seed, "deals.title"), deal_id)[0]
    org_id = deals.attrs["org_id"][deal_id - 1]
    company = acct.name_of("organizations", org_id) if org_id else company_name(acct.seed + 7, deal_id)
    return _title(roll, company, deals.add_ts[deal_id - 1])


def _slug(text: str) -> str:
    return "".join(c for c in text.lower().replace(" ", "-") if c.isalnum() or c == "-").strip("-")


# -- users, pipelines, stages, products ----------------------------------------------------------------------
def generate_users(acct: Account) -> EntityTable:
    from pipedrive_source.testing.generate_company import ADMIN_USERS, user_permission_sets

    table = EntityTable("users", (), lambda i: acct.static_record("users", i))
    rows: list[Record] = []
    domain = acct.company["company_domain"]
    for user_id in range(1, acct.sizes.users + 1):
        dice = Dice.keyed(salt(acct.seed, "users"), user_id)
        first, last = dice.pick(vocabulary.FIRST_NAMES), dice.pick(vocabulary.LAST_NAMES)
        created = clock.HISTORY_START - dice.between(30, 400) * DAY + dice.between(0, DAY)
        modified = clock.REFERENCE_INSTANT - dice.between(1, 300) * DAY
        active = user_id == 1 or dice.random() > 0.1
        rows.append(
            {
                "id": user_id,
                "name": f"{first} {last}",
                "default_currency": "EUR",
                "locale": dice.pick(("en_US", "en_GB", "et_EE", "de_DE")),
                "lang": 1,
                "email": f"{first.lower()}.{_slug(last)}@{domain}.com",
                "phone": make_phone(dice) if dice.chance(0.7) else None,
                "activated": True,
                "last_login": clock.v1_time(modified + dice.between(0, 30) * DAY),
                "created": clock.v1_time(created),
                "modified": clock.v1_time(modified),
                "has_created_company": user_id == 1,
                "access": [
                    {"app": app, "admin": user_id <= ADMIN_USERS, "permission_set_id": set_id}
                    for app, set_id in user_permission_sets(acct, user_id).items()
                ],
                "active_flag": active,
                "timezone_name": "Europe/Tallinn",
                "timezone_offset": "+02:00",
                "role_id": 1 if user_id <= 2 else dice.between(2, acct.sizes.roles),
                "icon_url": None
                if dice.chance(0.5)
                else f"https://pipedrive-profile-pics.example.com/{user_id}.png",
                "is_you": user_id == 1,
                "is_deleted": False,
            }
        )
        table.append_generated(created, modified, False)
    acct.static_rows["users"] = rows
    table.finish_generation()
    return table


def generate_pipelines(acct: Account) -> EntityTable:
    table = EntityTable("pipelines", (), lambda i: acct.static_record("pipelines", i))
    rows: list[Record] = []
    for pipeline_id, (name, _) in enumerate(PIPELINES, start=1):
        added = clock.HISTORY_START + (pipeline_id - 1) * 30 * DAY
        updated = added + (pipeline_id * 97) * DAY
        rows.append(
            {
                "id": pipeline_id,
                "name": name,
                "order_nr": pipeline_id,
                "is_deleted": False,
                "is_deal_probability_enabled": pipeline_id == 1,
                "add_time": rfc3339(added),
                "update_time": rfc3339(updated),
            }
        )
        table.append_generated(added, updated, False)
    acct.static_rows["pipelines"] = rows
    table.finish_generation()
    return table


def generate_stages(acct: Account) -> EntityTable:
    table = EntityTable("stages", ("pipeline_id", "order_nr"), lambda i: acct.static_record("stages", i))
    rows: list[Record] = []
    stage_id = 0
    for pipeline_id, (_, stages) in enumerate(PIPELINES, start=1):
        for order, name in enumerate(stages, start=1):
            stage_id += 1
            added = clock.HISTORY_START + (pipeline_id - 1) * 30 * DAY + order * 60
            updated = added + (stage_id * 53) * DAY
            rows.append(
                {
                    "id": stage_id,
                    "order_nr": order,
                    "name": name,
                    "is_deleted": False,
                    "deal_probability": STAGE_PROBABILITIES[min(order - 1, len(STAGE_PROBABILITIES) - 1)],
                    "pipeline_id": pipeline_id,
                    "is_deal_rot_enabled": order > 2,
                    "days_to_rotten": 14 if order > 2 else None,
                    "add_time": rfc3339(added),
                    "update_time": rfc3339(updated),
                }
            )
            table.append_generated(added, updated, False, pipeline_id=pipeline_id, order_nr=order)
    acct.static_rows["stages"] = rows
    table.finish_generation()
    return table


def generate_products(acct: Account) -> EntityTable:
    table = EntityTable("products", ("owner_id",), lambda i: build_product(acct, i))
    _fill(table, Timeline(acct.seed, "products", acct.sizes.products, 0.04))
    table.attrs["owner_id"].extend(
        Dice.keyed(salt(acct.seed, "products"), i).between(1, acct.sizes.users)
        for i in range(1, acct.sizes.products + 1)
    )
    table.finish_generation()
    return table


def build_product(acct: Account, product_id: int) -> Record:
    table = acct.table("products")
    dice = Dice.keyed(salt(acct.seed, "products"), product_id)
    dice.random()  # the owner draw, made when generating
    name, code, category = vocabulary.PRODUCT_CATALOGUE[(product_id - 1) % len(vocabulary.PRODUCT_CATALOGUE)]
    edition = (product_id - 1) // len(vocabulary.PRODUCT_CATALOGUE)
    if edition:
        name = f"{name} v{edition + 1}"
    price = dice.between(2, 400) * 10
    subscription = category == "Subscriptions"
    return {
        "id": product_id,
        "name": name,
        "code": str(1000 + product_id),
        "description": f"{name} for teams that {dice.pick(PRODUCT_AUDIENCES)}.",
        "unit": dice.pick(vocabulary.PRODUCT_UNITS),
        "tax": dice.pick((0, 9, 20, 22, 24)),
        "category": category,
        "is_linkable": True,
        "is_deleted": table.is_deleted(product_id),
        "visible_to": dice.pick(VISIBILITY),
        "owner_id": table.attr("owner_id", product_id),
        "add_time": rfc3339(table.add_ts[product_id - 1]),
        "update_time": rfc3339(table.update_ts[product_id - 1]),
        "billing_frequency": "monthly" if subscription else "one-time",
        "billing_frequency_cycles": None,
        "prices": [
            {
                "product_id": product_id,
                "price": price,
                "currency": currency,
                "cost": round(price * 0.4, 2),
                "direct_cost": None,
                "notes": "",
            }
            for currency in (("EUR", "USD") if dice.chance(0.5) else ("EUR",))
        ],
        "custom_fields": acct.custom_values("products", product_id),
    }


# -- organizations, persons ----------------------------------------------------------------------------------
def generate_organizations(acct: Account) -> EntityTable:
    table = EntityTable("organizations", ("owner_id",), lambda i: build_organization(acct, i))
    count = acct.sizes.organizations
    _fill(table, Timeline(acct.seed, "organizations", count, 0.01))
    rng = random_source(acct.seed, "organizations", "owners")
    users = acct.sizes.users
    table.attrs["owner_id"] = array("q", [1 + int(rng.random() * users) for _ in range(count)])
    table.finish_generation()
    return table


def build_organization(acct: Account, org_id: int) -> Record:
    table = acct.table("organizations")
    dice = Dice.keyed(salt(acct.seed, "organizations"), org_id)
    name = company_name(acct.seed, org_id)
    slug = _slug(name.split(" ")[0] + "-" + name.split(" ")[1])
    industry = acct.field("organizations", "industry")
    return {
        "id": org_id,
        "name": name,
        "owner_id": table.attr("owner_id", org_id),
        "add_time": rfc3339(table.add_ts[org_id - 1]),
        "update_time": rfc3339(table.update_ts[org_id - 1]),
        "is_deleted": table.is_deleted(org_id),
        "visible_to": dice.pick(VISIBILITY),
        "address": make_address(dice) if dice.chance(0.8) else None,
        "label_ids": [dice.between(1, 4)] if dice.chance(0.3) else [],
        "website": f"https://www.{slug}.com" if dice.chance(0.7) else None,
        "linkedin": f"https://www.linkedin.com/company/{slug}" if dice.chance(0.4) else None,
        "industry": dice.pick(industry.options or ()).id if dice.chance(0.6) else None,
        "annual_revenue": dice.between(1, 900) * 100000 if dice.chance(0.4) else None,
        "employee_count": dice.between(2, 5000) if dice.chance(0.6) else None,
        "custom_fields": acct.custom_values("organizations", org_id),
    }


def generate_persons(acct: Account) -> EntityTable:
    table = EntityTable("persons", ("owner_id", "org_id"), lambda i: build_person(acct, i))
    count = acct.sizes.persons
    _fill(table, Timeline(acct.seed, "persons", count, 0.01))
    rng = random_source(acct.seed, "persons", "links")
    users, orgs = acct.sizes.users, acct.sizes.organizations
    rolls = [rng.getrandbits(40) for _ in range(count)]
    table.attrs["owner_id"] = array("q", [1 + roll % users for roll in rolls])
    # Nothing generated points at a deleted record: Pipedrive unlinks them on delete.
    org_deleted = acct.table("organizations").deleted if orgs else bytearray()
    picked = [0 if not orgs or (roll >> 8) % 10 == 0 else 1 + (roll >> 12) % orgs for roll in rolls]
    table.attrs["org_id"] = array("q", [0 if org and org_deleted[org - 1] else org for org in picked])
    table.finish_generation()
    return table


def build_person(acct: Account, person_id: int) -> Record:
    table = acct.table("persons")
    dice = Dice.keyed(salt(acct.seed, "persons"), person_id)
    first, last = person_name(acct.seed, person_id)
    org_id = table.attr("org_id", person_id)
    handle = f"{first}.{last}".lower().replace("'", "")
    work_domain = _slug(acct.name_of("organizations", org_id).split(" ")[0]) + ".com" if org_id else None
    emails = []
    if work_domain:
        emails.append({"value": f"{handle}@{work_domain}", "primary": True, "label": "work"})
    if not emails or dice.chance(0.45):
        personal = f"{handle}{dice.between(1, 99)}@{dice.pick(vocabulary.EMAIL_PROVIDERS)}"
        emails.append({"value": personal, "primary": not emails, "label": "home" if emails else "work"})
    if dice.chance(0.1):
        emails.append(
            {
                "value": f"{first[0].lower()}{_slug(last)}@{dice.pick(vocabulary.EMAIL_PROVIDERS)}",
                "primary": False,
                "label": "other",
            }
        )
    phones = [{"value": make_phone(dice), "primary": True, "label": "work"}]
    if dice.chance(0.5):
        phones.append({"value": make_phone(dice), "primary": False, "label": dice.pick(("mobile", "home"))})
    return {
        "id": person_id,
        "name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "owner_id": table.attr("owner_id", person_id),
        "org_id": org_id or None,
        "add_time": rfc3339(table.add_ts[person_id - 1]),
        "update_time": rfc3339(table.update_ts[person_id - 1]),
        "emails": emails,
        "phones": phones,
        "is_deleted": table.is_deleted(person_id),
        "visible_to": dice.pick(VISIBILITY),
        "label_ids": [dice.between(1, 4)] if dice.chance(0.3) else [],
        "picture_id": None,
        "custom_fields": acct.custom_values("persons", person_id),
        "notes": None,
        "im": [{"value": handle.replace(".", ""), "primary": True, "label": "skype"}]
        if dice.chance(0.1)
        else [],
        "birthday": clock.iso_date(clock.REFERENCE_INSTANT - dice.between(22, 65) * 365 * DAY)
        if dice.chance(0.2)
        else None,
        "job_title": dice.pick(vocabulary.JOB_TITLES) if dice.chance(0.7) else None,
        "postal_address": make_address(dice) if dice.chance(0.3) else None,
    }


# -- deals ---------------------------------------------------------------------------------------------------
DEAL_ATTRS = ("owner_id", "person_id", "org_id", "stage_id", "pipeline_id", "status", "archived")


def generate_deals(acct: Account) -> EntityTable:
    table = EntityTable("deals", DEAL_ATTRS, lambda i: build(i))
    count = acct.sizes.deals
    _fill(table, Timeline(acct.seed, "deals", count, 0.01))
    stages = acct.table("stages")
    stage_pipeline = [0, *stages.attrs["pipeline_id"]]
    stage_count = stages.max_id
    persons_table = acct.table("persons")
    person_orgs, person_deleted = persons_table.attrs["org_id"], persons_table.deleted
    org_deleted = acct.table("organizations").deleted
    persons, orgs, users = acct.sizes.persons, acct.sizes.organizations, acct.sizes.users
    rng = random_source(acct.seed, "deals", "links")
    rolls = [rng.getrandbits(64) for _ in range(count)]
    deleted = table.deleted
    picked = [0 if not persons or (roll >> 8) % 10 == 0 else 1 + (roll >> 12) % persons for roll in rolls]
    person_ids = [0 if person and person_deleted[person - 1] else person for person in picked]
    org_picks = [
        person_orgs[person - 1] if person else (1 + (roll >> 32) % orgs if orgs and roll & 1 else 0)
        for person, roll in zip(person_ids, rolls, strict=True)
    ]
    stage_ids = [1 + (roll >> 40) % stage_count for roll in rolls]
    outcomes = [(roll >> 48) % 100 for roll in rolls]
    archived = [0 if deleted[i] or (roll >> 56) % 50 else 1 for i, roll in enumerate(rolls)]
    attrs = table.attrs
    attrs["owner_id"] = array("q", [1 + roll % users for roll in rolls])
    attrs["person_id"] = array("q", person_ids)
    attrs["org_id"] = array("q", [0 if org and org_deleted[org - 1] else org for org in org_picks])
    attrs["stage_id"] = array("q", stage_ids)
    attrs["pipeline_id"] = array("q", [stage_pipeline[stage] for stage in stage_ids])
    attrs["status"] = array("q", [1 if outcome < 60 else 2 if outcome < 85 else 3 for outcome in outcomes])
    attrs["archived"] = array("q", archived)
    update_ts = table.update_ts
    recent = clock.REFERENCE_INSTANT - 200 * DAY
    for i, flag in enumerate(archived):
        # Archiving is an update: archived deals were touched recently.
        if flag and update_ts[i] < recent:
            update_ts[i] += (clock.REFERENCE_INSTANT - update_ts[i]) // 2
    table.finish_generation()
    build = deal_builder(acct, table)
    return table


def deal_builder(acct: Account, table: EntityTable) -> Callable[[int], Record]:
    """The builder of generated deals: a 500-deal page builds 500 deals, so everything a deal needs is looked
    up once here and kept in locals, and the draws are made without `Dice` objects."""
    deal_salt, title_salt = salt(acct.seed, "deals"), salt(acct.seed, "deals.title")
    add_ts, update_ts, deleted_flags = table.add_ts, table.update_ts, table.deleted
    attrs = table.attrs
    owner_col, person_col, org_col = attrs["owner_id"], attrs["person_id"], attrs["org_id"]
    stage_col, pipeline_col, status_col, archived_col = (
        attrs["stage_id"],
        attrs["pipeline_id"],
        attrs["status"],
        attrs["archived"],
    )
    org_overlay = acct.table("organizations").overlay
    cached_name = acct.cached_name
    name_of = acct.name_of
    custom_values = acct.custom_values
    other_company_seed = acct.seed + 7
    channel_ids = [o.id for o in acct.field("deals", "channel").options or ()]
    channels = len(channel_ids)
    users = acct.sizes.users
    currencies = ("EUR", "EUR", "EUR", "USD", "GBP")
    probabilities = (None, None, None, 20, 50, 80)
    origins = ("ManuallyCreated", "ManuallyCreated", "Import", "API", "WebForms", "Lead")
    lost_reasons = vocabulary.LOST_REASONS
    iso_date = clock.iso_date

    def build(deal_id: int) -> Record:
        index = deal_id - 1
        first, second = first_draws(deal_salt, deal_id)
        added, updated = add_ts[index], update_ts[index]
        deleted = bool(deleted_flags[index])
        # A deleted deal reports status "deleted"; generated ones were deleted while open.
        status = "deleted" if deleted else STATUS_NAMES[status_col[index]]
        won, lost = status == "won", status == "lost"
        stage_changed = added + (first & 0xFFFFF) * (updated - added) // 0x100000
        closed = stage_changed if won or lost else None
        archived = bool(archived_col[index])
        value = (1 + (first >> 20) % 400) * 250 if (first >> 29) % 10 else 0
        recurring = (first >> 33) % 4 == 0
        label = (second % 10) + 1 if second % 10 < 3 else None
        updated_text = rfc3339(updated)
        closed_text = rfc3339(closed)
        closed_date = iso_date(closed)
        org_id = org_col[index]
        if not org_id:
            company = company_name(other_company_seed, deal_id)
        else:
            cached = None if org_id in org_overlay else cached_name("organizations", org_id)
            company = cached if cached is not None else name_of("organizations", org_id)
        return {
            "id": deal_id,
            "title": _title(first_draws(title_salt, deal_id)[0], company, added),
            "creator_user_id": 1 + (first >> 35) % users,
            "owner_id": owner_col[index],
            "value": value,
            "person_id": person_col[index] or None,
            "org_id": org_id or None,
            "stage_id": stage_col[index],
            "pipeline_id": pipeline_col[index],
            "currency": currencies[(first >> 40) % 5],
            "archive_time": updated_text if archived else None,
            "add_time": rfc3339(added),
            "update_time": updated_text,
            "stage_change_time": rfc3339(stage_changed),
            "status": status,
            "is_archived": archived,
            "is_deleted": deleted,
            "probability": probabilities[(first >> 44) % 6],
            "lost_reason": lost_reasons[(second >> 4) % len(lost_reasons)] if lost else None,
            "visible_to": VISIBILITY[(first >> 48) % 6],
            "close_time": closed_text,
            "won_time": closed_text if won else None,
            "lost_time": closed_text if lost else None,
            "local_won_date": closed_date if won else None,
            "local_lost_date": closed_date if lost else None,
            "local_close_date": closed_date,
            "expected_close_date": iso_date(added + (14 + (second >> 8) % 107) * DAY),
            "label_ids": [label] if label else [],
            "origin": origins[(second >> 16) % 6],
            "origin_id": None,
            "channel": channel_ids[(second >> 20) % channels]
            if channels and (second >> 24) % 5 < 2
            else None,
            "channel_id": None,
            "source_lead_id": acct.uuid("lead-source", deal_id) if (second >> 28) % 20 == 0 else None,
            "acv": value if recurring else None,
            "arr": value if recurring else None,
            "mrr": round(value / 12, 2) if recurring else None,
            "custom_fields": custom_values("deals", deal_id),
        }

    return build


# -- activities ----------------------------------------------------------------------------------------------
ACTIVITY_ATTRS = ("owner_id", "deal_id", "person_id", "org_id", "done", "type", "due_day")


def generate_activities(acct: Account) -> EntityTable:
    table = EntityTable(
        "activities",
        ACTIVITY_ATTRS,
        lambda i: build_activity(acct, i),
        {"due_date": lambda i: due_order(acct, i)},
    )
    count = acct.sizes.activities
    _fill(table, Timeline(acct.seed, "activities", count, 0.01))
    deal_count, users = acct.sizes.deals, acct.sizes.users
    deals = acct.table("deals") if deal_count else None
    rng = random_source(acct.seed, "activities", "links")
    rolls = [rng.getrandbits(64) for _ in range(count)]
    deal_ids = [1 + roll % deal_count if deals and (roll >> 20) % 10 else 0 for roll in rolls]
    deal_owner = deals.attrs["owner_id"] if deals else array("q")
    deal_person = deals.attrs["person_id"] if deals else array("q")
    deal_org = deals.attrs["org_id"] if deals else array("q")
    due_days = [added // DAY + (roll >> 32) % 45 - 5 for added, roll in zip(table.add_ts, rolls, strict=True)]
    done_before = (clock.REFERENCE_INSTANT - DAY) // DAY
    attrs = table.attrs
    attrs["owner_id"] = array(
        "q",
        [
            deal_owner[deal - 1] if deal and roll & 2 else 1 + (roll >> 24) % users
            for deal, roll in zip(deal_ids, rolls, strict=True)
        ],
    )
    attrs["deal_id"] = array("q", deal_ids)
    attrs["person_id"] = array("q", [deal_person[deal - 1] if deal else 0 for deal in deal_ids])
    attrs["org_id"] = array("q", [deal_org[deal - 1] if deal else 0 for deal in deal_ids])
    attrs["due_day"] = array("q", due_days)
    attrs["done"] = array(
        "q",
        [
            1 if day < done_before and (roll >> 40) % 10 < 8 else 0
            for day, roll in zip(due_days, rolls, strict=True)
        ],
    )
    attrs["type"] = array("q", [(roll >> 48) % len(ACTIVITY_TYPES) for roll in rolls])
    table.finish_generation()
    return table


def due_order(acct: Account, activity_id: int) -> int:
    table = acct.table("activities")
    record = table.overlay.get(activity_id)
    if record is not None and record.get("due_date"):
        return clock.parse_date(record["due_date"]) // DAY
    return table.attrs["due_day"][activity_id - 1]


def _activity_subject(acct: Account, dice: Dice, kind: str, person: int, org: int) -> str:
    subject = dice.pick(vocabulary.ACTIVITY_SUBJECTS[kind])
    if person:
        return f"{subject} with {acct.name_of('persons', person)}"
    company = (
        acct.name_of("organizations", org) if org else company_name(acct.seed + 7, dice.between(1, 10**6))
    )
    return f"{subject} - {company}"


def build_activity(acct: Account, activity_id: int) -> Record:
    table = acct.table("activities")
    index = activity_id - 1
    dice = Dice.keyed(salt(acct.seed, "activities"), activity_id)
    kind = ACTIVITY_TYPES[table.attrs["type"][index]]
    added, updated = table.add_ts[index], table.update_ts[index]
    due = table.attrs["due_day"][index] * DAY
    done = bool(table.attrs["done"][index])
    person = table.attrs["person_id"][index]
    timed = kind in ("call", "meeting", "lunch")
    return {
        "id": activity_id,
        "subject": _activity_subject(acct, dice, kind, person, table.attrs["org_id"][index]),
        "type": kind,
        "owner_id": table.attrs["owner_id"][index],
        "creator_user_id": dice.between(1, acct.sizes.users),
        "is_deleted": bool(table.deleted[index]),
        "add_time": rfc3339(added),
        "update_time": rfc3339(updated),
        "deal_id": table.attrs["deal_id"][index] or None,
        "lead_id": None,
        "person_id": person or None,
        "org_id": table.attrs["org_id"][index] or None,
        "project_id": None,
        "due_date": clock.iso_date(due),
        "due_time": f"{dice.between(8, 17):02d}:{dice.pick((0, 30)):02d}:00" if timed else None,
        "duration": dice.pick(("00:30:00", "01:00:00", "00:15:00")) if timed else None,
        "busy": timed,
        "done": done,
        "marked_as_done_time": rfc3339(min(max(due, added), updated)) if done else None,
        "location": make_address(dice) if kind == "meeting" and dice.chance(0.5) else None,
        "participants": [{"person_id": person, "primary": True}] if person else [],
        "conference_meeting_client": None,
        "conference_meeting_url": None,
        "conference_meeting_id": None,
        "public_description": None,
        "priority": None,
        "note": dice.pick(vocabulary.NOTE_SENTENCES) if dice.chance(0.3) else None,
        "custom_fields": acct.custom_values("activities", activity_id),
    }


def owner_of(record: dict[str, Any]) -> int:
    return int(record.get("owner_id") or record.get("user_id") or 0)


def pool_seed(seed: int, entity: str) -> int:
    return mix(seed, entity, "custom-fields")
