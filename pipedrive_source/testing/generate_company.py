"""Generated records about how the company is organised (API v1 shapes): permission sets and organization
relationships.

Permission sets follow the example of `GET /v1/permissionSets` (an admin and a regular set per app, plus
custom sets in larger companies); every user's `access` names the set it is assigned, so `assignment_count`
adds up. Organization relationships link two organizations that both existed when the link was made, about
one relationship per eight organizations; a relationship of a deleted organization is gone.
"""

from __future__ import annotations

import bisect
from array import array
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing.clock import v1_time
from pipedrive_source.testing.dice import rng as random_source
from pipedrive_source.testing.generate_v1 import _static, _times
from pipedrive_source.testing.table import EntityTable, Record
from pipedrive_source.testing.timeline import Timeline

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

# (name, app, type, description)
PERMISSION_SETS: tuple[tuple[str, str, str, str], ...] = (
    ("Deals admin", "sales", "admin", "See and edit all sales data (deals, leads) and the sales setup"),
    (
        "Deals regular user",
        "sales",
        "regular",
        "Access to sales data (deals, leads); the default for new users",
    ),
    (
        "Global admin",
        "global",
        "admin",
        "See and edit all cross-product data (contacts, activities, reports)",
    ),
    ("Global regular user", "global", "regular", "Access to cross-product data; the default for new users"),
    ("Account settings", "account_settings", "admin", "Billing, security center, company settings, users"),
    ("Projects admin", "projects", "admin", "See and edit all projects and the projects setup"),
    ("Projects regular user", "projects", "regular", "Access to projects; the default for new users"),
    ("Campaigns admin", "campaigns", "admin", "See and edit all campaigns and the campaigns setup"),
    ("Campaigns regular user", "campaigns", "regular", "Access to campaigns; the default for new users"),
)
USERS_PER_CUSTOM_SET = 10
"""Larger companies define custom permission sets: one per this many users."""
ADMIN_USERS = 2
"""Users 1 and 2 are admins (`generate_users`); user 1 alone holds the account settings."""

_CONTENTS = {
    "admin": (
        "can_add_products",
        "can_bulk_edit_items",
        "can_change_visibility_of_items",
        "can_delete_activities",
        "can_delete_deals",
        "can_edit_products",
        "can_edit_shared_filters",
        "can_export_data_from_lists",
        "can_merge_deals",
        "can_see_company_wide_statistics",
        "can_see_deals_list_summary",
        "can_see_other_users",
        "can_share_filters",
        "can_use_api",
        "can_use_email_tracking",
    ),
    "regular": (
        "can_add_products",
        "can_edit_shared_filters",
        "can_see_deals_list_summary",
        "can_see_other_users",
        "can_share_filters",
        "can_use_api",
        "can_use_email_tracking",
    ),
    "custom": ("can_see_deals_list_summary", "can_see_other_users", "can_use_api"),
}


def permission_set_id(acct: Account, number: int) -> str:
    return acct.uuid("permission-set", number)


def user_permission_sets(acct: Account, user_id: int) -> dict[str, str]:
    """The permission set of each app a user is assigned (app -> set id), as `users[].access` shows it."""
    admin = user_id <= ADMIN_USERS
    sets = {"sales": 1 if admin else 2, "global": 3 if admin else 4, "projects": 6 if admin else 7}
    if user_id == 1:
        sets["account_settings"] = 5
    return {app: permission_set_id(acct, number) for app, number in sets.items()}


def permission_set_contents(kind: str) -> list[str]:
    return list(_CONTENTS.get(kind, _CONTENTS["custom"]))


def generate_permission_sets(acct: Account) -> EntityTable:
    users = acct.sizes.users
    assigned: dict[str, int] = {}
    for user_id in range(1, users + 1):
        for set_id in user_permission_sets(acct, user_id).values():
            assigned[set_id] = assigned.get(set_id, 0) + 1
    specs = list(PERMISSION_SETS)
    for number in range(1, users // USERS_PER_CUSTOM_SET + 1):
        specs.append((f"Sales team {number}", "sales", "custom", f"Custom access of sales team {number}"))
    rows = [
        {
            "id": permission_set_id(acct, number),
            "name": name,
            "description": description,
            "app": app,
            "type": kind,
            "assignment_count": assigned.get(permission_set_id(acct, number), 0),
        }
        for number, (name, app, kind, description) in enumerate(specs, start=1)
    ]
    return _static(acct, "permissionSets", rows, _times(len(rows), 120))


# -- organization relationships ------------------------------------------------------------------------------
RELATIONSHIP_TYPES = ("parent", "related")
ORGANIZATIONS_PER_RELATIONSHIP = 8


def generate_organization_relationships(acct: Account) -> EntityTable:
    table = EntityTable(
        "organizationRelationships",
        ("owner_org_id", "linked_org_id", "type"),
        lambda i: build_organization_relationship(acct, i),
    )
    orgs = acct.table("organizations") if acct.sizes.organizations >= 2 else None
    count = acct.sizes.organizations // ORGANIZATIONS_PER_RELATIONSHIP if orgs else 0
    timeline = Timeline(acct.seed, "organizationRelationships", count, 0.0)
    rng = random_source(acct.seed, "organizationRelationships", "links")
    owners, linked, kinds = array("q"), array("q"), array("q")
    for index in range(count):
        assert orgs is not None
        # Link two organizations that existed when the relationship was made (ids grow with add time).
        added = timeline.add_ts[index]
        existing = max(2, bisect.bisect_right(orgs.add_ts, added))
        owner = 1 + rng.randrange(existing)
        other = 1 + rng.randrange(existing - 1)
        other = other + 1 if other >= owner else other
        first_add = max(orgs.add_ts[owner - 1], orgs.add_ts[other - 1])
        if first_add > added:
            timeline.add_ts[index] = first_add
            timeline.update_ts[index] = max(timeline.update_ts[index], first_add)
        # Deleting an organization deletes its relationships.
        timeline.deleted[index] = orgs.deleted[owner - 1] | orgs.deleted[other - 1]
        owners.append(owner)
        linked.append(other)
        kinds.append(0 if rng.random() < 0.6 else 1)
    table.add_ts, table.update_ts, table.deleted = timeline.add_ts, timeline.update_ts, timeline.deleted
    table.attrs.update(owner_org_id=owners, linked_org_id=linked, type=kinds)
    table.finish_generation()
    return table


def build_organization_relationship(acct: Account, number: int) -> Record:
    table = acct.table("organizationRelationships")
    index = number - 1
    return {
        "id": number,
        "type": RELATIONSHIP_TYPES[table.attrs["type"][index]],
        "rel_owner_org_id": organization_info(acct, table.attrs["owner_org_id"][index]),
        "rel_linked_org_id": organization_info(acct, table.attrs["linked_org_id"][index]),
        "add_time": v1_time(table.add_ts[index]),
        "update_time": v1_time(table.update_ts[index]),
        "active_flag": "true",
    }


def people_count(acct: Account, org_id: int) -> int:
    """Live persons of an organization."""
    from pipedrive_source.testing.related import ids_linked_to

    persons = acct.table("persons")
    deleted = persons.deleted
    return sum(1 for i in ids_linked_to(persons.attrs["org_id"], org_id) if not deleted[i - 1])


def organization_info(acct: Account, org_id: int) -> dict[str, Any] | None:
    """An organization as relationships show it (`relationshipOrganizationInfoItem`)."""
    summary = acct.organization_summary(org_id)
    if summary is None:
        return None
    summary["people_count"] = people_count(acct, org_id)
    return summary


def relationship_seen_from(acct: Account, record: Record, org_id: int) -> Record:
    """A relationship with the fields calculated for one of its organizations: what the other one is to it."""
    owner = (record.get("rel_owner_org_id") or {}).get("value")
    linked = (record.get("rel_linked_org_id") or {}).get("value")
    is_owner = owner == org_id
    other = linked if is_owner else owner
    parent_link = record.get("type") == "parent"
    calculated = ("daughter" if is_owner else "parent") if parent_link else "related"
    return {
        **record,
        "calculated_type": calculated,
        "calculated_related_org_id": other,
        "related_organization_name": acct.name_of("organizations", other or 0),
    }
