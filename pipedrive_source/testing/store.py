"""An account: the records of one simulated Pipedrive company, generated lazily, with mutations.

`Account.create/update/delete` are the mutation API for tests; every mutation stamps the record with the
current wall-clock second (UTC), so incremental loads see it.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import (
    deal_flow,
    generate,
    generate_company,
    generate_mail,
    generate_projects,
    generate_v1,
)
from pipedrive_source.testing.children import ChildMutations, keep_children, start_children
from pipedrive_source.testing.clock import one_instant
from pipedrive_source.testing.custom_values import make_custom_fields, v1_custom_values
from pipedrive_source.testing.dice import Dice, mix
from pipedrive_source.testing.fields import FieldDef, build_field_defs, custom_fields_of
from pipedrive_source.testing.generate_mail import DEALS_PER_THREAD
from pipedrive_source.testing.generate_projects import DEALS_PER_PROJECT, TASKS_PER_PROJECT
from pipedrive_source.testing.record_cache import RecordCache
from pipedrive_source.testing.table import EntityTable, Record

if TYPE_CHECKING:
    from pipedrive_source.testing.writes import WriteRules

NAME_CACHE_SIZE = 300_000
"""Generated names of persons and organizations kept (deal titles and many other records show them)."""

CUSTOM_VALUE_POOL = 512
"""Distinct custom-field value sets per entity; records pick one by id, so a record is cheap to build."""


@dataclass(frozen=True)
class Sizes:
    """How many records of each entity an account has."""

    deals: int
    persons: int
    organizations: int
    activities: int
    products: int
    notes: int
    leads: int
    files: int
    call_logs: int
    users: int = 12
    roles: int = 4
    projects: int = 0
    tasks: int = 0
    mail_threads: int = 0

    @classmethod
    def derive(
        cls,
        deals: int,
        persons: int | None = None,
        organizations: int | None = None,
        activities: int | None = None,
        products: int | None = None,
        notes: int | None = None,
        leads: int | None = None,
        files: int | None = None,
        call_logs: int | None = None,
        users: int = 12,
    ) -> Sizes:
        """Sizes with the unset ones proportional to `deals` (persons ~ deals/2, organizations ~ deals/7,
        ...)."""
        if deals < 0:
            raise ValueError("deals must be >= 0")

        def share(value: int | None, divisor: float) -> int:
            if value is not None:
                return value
            return 0 if deals == 0 else max(1, int(deals / divisor))

        return cls(
            deals=deals,
            persons=share(persons, 2),
            organizations=share(organizations, 7),
            activities=share(activities, 0.5),
            products=products if products is not None else 50,
            notes=share(notes, 2),
            leads=share(leads, 5),
            files=share(files, 10),
            call_logs=share(call_logs, 10),
            users=max(1, users),
            projects=share(None, DEALS_PER_PROJECT),
            tasks=share(None, DEALS_PER_PROJECT / TASKS_PER_PROJECT),
            mail_threads=share(None, DEALS_PER_THREAD),
        )


GENERATORS: dict[str, Callable[[Account], EntityTable]] = {
    "users": generate.generate_users,
    "pipelines": generate.generate_pipelines,
    "stages": generate.generate_stages,
    "products": generate.generate_products,
    "organizations": generate.generate_organizations,
    "persons": generate.generate_persons,
    "deals": generate.generate_deals,
    "activities": generate.generate_activities,
    "notes": generate_v1.generate_notes,
    "leads": generate_v1.generate_leads,
    "files": generate_v1.generate_files,
    "callLogs": generate_v1.generate_call_logs,
    "activityTypes": generate_v1.generate_activity_types,
    "filters": generate_v1.generate_filters,
    "leadLabels": generate_v1.generate_lead_labels,
    "goals": generate_v1.generate_goals,
    "roles": generate_v1.generate_roles,
    "permissionSets": generate_company.generate_permission_sets,
    "organizationRelationships": generate_company.generate_organization_relationships,
    "mailThreads": generate_mail.generate_mail_threads,
    "projects": generate_projects.generate_projects,
    "tasks": generate_projects.generate_tasks,
}

_NAME_KEYS = {"deals": "title", "leads": "title"}

ENTITY_ALIASES = {
    "lead_labels": "leadLabels",
    "activity_types": "activityTypes",
    "call_logs": "callLogs",
    "permission_sets": "permissionSets",
    "organization_relationships": "organizationRelationships",
    "mail_threads": "mailThreads",
}
"""The connector's table names of entities whose API path name differs."""


class Account(ChildMutations):
    """The data of one simulated Pipedrive company.

    Mutations for tests: `create`, `update`, `delete` (entity names as in API paths, `deals`, `leadLabels`,
    `organizationRelationships`, ...; the connector's table names such as `lead_labels` work too) and the
    child-list methods of `ChildMutations` (`add_follower`, `add_participant`, `add_deal_product`, ...).
    """

    def __init__(self, seed: int, sizes: Sizes) -> None:
        self.seed = seed
        self.sizes = sizes
        self.fields: dict[str, tuple[FieldDef, ...]] = build_field_defs(seed)
        self.static_rows: dict[str, list[Record]] = {}
        self._field_index = {(entity, f.key): f for entity, defs in self.fields.items() for f in defs}
        self._tables: dict[str, EntityTable] = {}
        self._pools: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self.related: dict[tuple[str, int], list[Record]] = {}
        self._names: dict[tuple[str, int], str] = {}
        self.related_lock = threading.Lock()
        self.record_cache = RecordCache()
        self.change_ids = itertools.count(deal_flow.LOGGED_CHANGE_IDS)
        """Ids of the deal flow changes logged by mutations."""
        self.company = self._company()
        self._lead_prefix = self.uuid("lead", 0)[:24]
        self._call_log_prefix = self.uuid("call-log", 0).replace("-", "")[:12]

    def _company(self) -> dict[str, Any]:
        name = generate.company_name(self.seed + 1, 1)
        domain = name.split(" ")[0].lower() + "-" + format(mix(self.seed, "domain") % 0xFFFF, "x")
        return {
            "company_id": 1_000_000 + mix(self.seed, "company") % 8_000_000,
            "company_name": name,
            "company_domain": domain,
            "company_country": "EE",
            "company_industry": "Software",
        }

    # -- tables --------------------------------------------------------------------------------------------
    def table(self, entity: str) -> EntityTable:
        """The table of an entity, generated on first use."""
        table = self._tables.get(entity)
        if table is None:
            with self._lock:
                table = self._tables.get(entity)
                if table is None:
                    table = GENERATORS[entity](self)
                    self._tables[entity] = table
        return table

    def warm(
        self,
        entities: tuple[str, ...] = ("deals", "persons", "organizations", "activities", "products", "notes"),
    ) -> None:
        """Generate tables (and their update-time order, which incremental reads sort on) now rather than on
        the first request that needs them, and the organization names most other records show."""
        for entity in entities:
            self.table(entity).index_update_times()
        organizations = min(self.table("organizations").base_count, NAME_CACHE_SIZE // 2)
        for org_id in range(1, organizations + 1):
            self._names.setdefault(("organizations", org_id), generate.company_name(self.seed, org_id))

    def rows(self, entity: str) -> list[Record]:
        self.table(entity)
        return self.static_rows[entity]

    def records(self, entity: str, ids: Sequence[int]) -> list[Record]:
        """Existing records in order (shared: do not modify): mutated ones as stored, generated ones through
        the cache of recently served records."""
        table = self.table(entity)
        overlay = table.overlay
        if not any(record_id in overlay for record_id in ids):
            return self.record_cache.records(entity, ids, table.builder)
        generated = iter(
            self.record_cache.records(entity, [i for i in ids if i not in overlay], table.builder)
        )
        return [overlay[record_id] if record_id in overlay else next(generated) for record_id in ids]

    def static_record(self, entity: str, record_id: int) -> Record:
        return self.static_rows[entity][record_id - 1]

    def field(self, entity: str, key: str) -> FieldDef:
        return self._field_index[(entity, key)]

    def custom_values(self, entity: str, record_id: int) -> dict[str, Any]:
        """A generated record's `custom_fields` (shared between records: copy before changing)."""
        pool = self._pools.get(entity)
        if pool is None:
            custom = custom_fields_of(self.fields, entity)
            pool = [
                make_custom_fields(custom, Dice(self.seed, entity, "custom", k), self)
                for k in range(CUSTOM_VALUE_POOL)
            ]
            self._pools[entity] = pool
        return pool[((record_id * 0x9E3779B1) ^ self.seed) % CUSTOM_VALUE_POOL]

    def v1_custom(self, entity: str, custom: dict[str, Any]) -> dict[str, Any]:
        return v1_custom_values(custom_fields_of(self.fields, entity), custom, self)

    # -- identifiers ---------------------------------------------------------------------------------------
    def uuid(self, kind: str, number: int) -> str:
        return str(
            uuid.UUID(int=mix(self.seed, kind, number) << 64 | mix(number, kind, self.seed), version=4)
        )

    def lead_id(self, number: int) -> str:
        return f"{self._lead_prefix}{number:012x}"

    def lead_number(self, lead_id: str) -> int | None:
        if len(lead_id) != 36 or not lead_id.startswith(self._lead_prefix):
            return None
        try:
            return int(lead_id[24:], 16)
        except ValueError:
            return None

    def call_log_id(self, number: int) -> str:
        return f"{self._call_log_prefix}{number:012x}"

    def call_log_number(self, call_log_id: str) -> int | None:
        if len(call_log_id) != 24 or not call_log_id.startswith(self._call_log_prefix):
            return None
        try:
            return int(call_log_id[12:], 16)
        except ValueError:
            return None

    # -- directory (names and summaries of related records) --------------------------------------------------
    def size(self, entity: str) -> int:
        if entity in self._tables:
            return self._tables[entity].max_id
        return int(getattr(self.sizes, entity, 0))

    def cached_name(self, entity: str, record_id: int) -> str | None:
        """The generated name of a record when it is in the name cache (None otherwise). Not for mutated
        records: `name_of` knows those."""
        return self._names.get((entity, record_id))

    def name_of(self, entity: str, record_id: int) -> str:
        """The name (title for deals and leads) of a record, or "" when there is none."""
        if not record_id:
            return ""
        table = self.table(entity)
        record = table.overlay.get(record_id)
        key = _NAME_KEYS.get(entity, "name")
        if record is not None:
            return str(record.get(key) or "")
        if not table.exists(record_id):
            return ""
        if entity == "deals":
            return generate.deal_title(self, record_id)
        cache_key = (entity, record_id)
        name = self._names.get(cache_key)
        if name is None:
            if entity == "persons":
                name = " ".join(generate.person_name(self.seed, record_id))
            elif entity == "organizations":
                name = generate.company_name(self.seed, record_id)
            else:
                name = str((table.get(record_id) or {}).get(key) or "")
            if len(self._names) >= NAME_CACHE_SIZE:
                self._names.clear()
            self._names[cache_key] = name
        return name

    def user_summary(self, user_id: int) -> dict[str, Any] | None:
        user = self.table("users").get(user_id)
        if user is None:
            return None
        return {
            "id": user_id,
            "name": user["name"],
            "email": user["email"],
            "has_pic": 0,
            "pic_hash": None,
            "active_flag": user["active_flag"],
            "value": user_id,
        }

    def organization_summary(self, org_id: int) -> dict[str, Any] | None:
        org = self.table("organizations").get(org_id)
        if org is None:
            return None
        return {
            "name": org["name"],
            "people_count": 0,
            "owner_id": org["owner_id"],
            "address": (org.get("address") or {}).get("value"),
            "active_flag": not org["is_deleted"],
            "cc_email": f"{self.company['company_domain']}@pipedrivemail.com",
            "value": org_id,
        }

    def person_summary(self, person_id: int) -> dict[str, Any] | None:
        person = self.table("persons").get(person_id)
        if person is None:
            return None
        return {
            "active_flag": not person["is_deleted"],
            "name": person["name"],
            "email": [dict(e) for e in person["emails"]],
            "phone": [dict(p) for p in person["phones"]],
            "owner_id": person["owner_id"],
            "value": person_id,
        }

    def note_user(self, user_id: int) -> dict[str, Any] | None:
        user = self.table("users").get(user_id)
        if user is None:
            return None
        return {
            "email": user["email"],
            "icon_url": user["icon_url"],
            "is_you": user["is_you"],
            "name": user["name"],
        }

    # -- mutations -------------------------------------------------------------------------------------------
    def entity_name(self, entity: str) -> str:
        """The API path name of an entity, also accepting the connector's table names (`lead_labels`)."""
        return ENTITY_ALIASES.get(entity, entity)

    def resolve_id(self, entity: str, record_id: int | str) -> int:
        """The table id of a public id (leads, call logs, lead labels, goals and permission sets have string
        ids)."""
        entity = self.entity_name(entity)
        if isinstance(record_id, int):
            return record_id
        if entity == "leads":
            number = self.lead_number(record_id)
        elif entity == "callLogs":
            number = self.call_log_number(record_id)
        elif str(record_id).isdigit():
            number = int(record_id)
        else:
            table = self.table(entity)
            number = next(
                (i for i in range(1, table.max_id + 1) if (table.get(i) or {}).get("id") == record_id), None
            )
        if number is None:
            raise KeyError(f"{entity} {record_id} not found")
        return number

    def get(self, entity: str, record_id: int | str) -> Record:
        """A copy of a record (its API shape).

        Raises:
            KeyError: when there is no such record.
        """
        entity = self.entity_name(entity)
        record = self.table(entity).get(self.resolve_id(entity, record_id))
        if record is None:
            raise KeyError(f"{entity} {record_id} not found")
        return copy.deepcopy(record)

    def create(self, entity: str, data: dict[str, Any]) -> Record:
        """Create a record (API shape of `data`, e.g. v2 for deals); returns it."""
        entity = self.entity_name(entity)
        rules = _rules(entity)
        table = self.table(entity)
        with one_instant() as now, table.lock:
            record_id = table.max_id + 1
            record = rules.blank(self, record_id)
            rules.apply(self, entity, record, data)
            rules.stamp(record, now, created=True)
            table.put(record_id, record, now, False, rules.attrs(self, record))
            start_children(self, entity, record)
        self.record_cache.clear()
        return copy.deepcopy(record)

    def update(self, entity: str, record_id: int | str, data: dict[str, Any]) -> Record:
        """Change fields of a record (custom_fields are merged key by key); returns it. A deal's changes of
        title, value, stage, status, owner, ... are logged in its flow."""
        return self._change(entity, record_id, data, delete=False)

    def delete(self, entity: str, record_id: int | str) -> Record:
        """Delete a record as Pipedrive does: v2 core entities are soft-deleted (deals stay visible with
        status=deleted for 30 days); the v1 lists drop a deleted record or flag it (`writes_more`)."""
        return self._change(entity, record_id, {}, delete=True)

    def _change(self, entity: str, record_id: int | str, data: dict[str, Any], delete: bool) -> Record:
        entity = self.entity_name(entity)
        rules = _rules(entity)
        table = self.table(entity)
        number = self.resolve_id(entity, record_id)
        with one_instant() as now, table.lock:
            current = table.get(number)
            if current is None:
                raise KeyError(f"{entity} {record_id} not found")
            keep_children(self, entity, current)
            record = copy.deepcopy(current)
            rules.apply(self, entity, record, data)
            deleted = delete or table.is_deleted(number)
            if delete:
                rules.mark_deleted(record)
            rules.stamp(record, now, created=False)
            table.put(number, record, now, deleted, rules.attrs(self, record))
            if entity == "deals":
                deal_flow.log_changes(self, current, record)
        if delete and rules.cascade is not None:
            rules.cascade(self, number)
        # Generated records show data of others (names in titles, e-mail domains): none may stay cached.
        self.record_cache.clear()
        return copy.deepcopy(record)

    def count(self, entity: str) -> int:
        """Live (not deleted) records of an entity."""
        return self.table(self.entity_name(entity)).live


def _rules(entity: str) -> WriteRules:
    from pipedrive_source.testing import writes, writes_more

    rules = writes.RULES.get(entity) or writes_more.RULES.get(entity)
    if rules is None:
        raise ValueError(f"{entity} cannot be changed through the simulator")
    return rules
