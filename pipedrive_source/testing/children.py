"""The lists attached to a record (followers, deal participants, products, installments and flow) through a
record's changes, and the `Account` methods tests use to change them.

Generated lists are derived from their parent record. Before a parent is first changed, its lists are kept as
they are (`keep_children`), so that the change does not rewrite them: Pipedrive does not document that a new
owner becomes a follower or a new contact person a participant, and the simulator does not do it. A record
created through the simulator starts with its owner as follower and, for a deal, its contact person as
participant, no products, no installments and its creation in its flow (`start_children`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pipedrive_source.testing import clock, deal_flow, deal_items, related
from pipedrive_source.testing.table import Record

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

FOLLOWED = ("deals", "persons", "organizations", "products")
"""Entities with followers (`GET /api/v2/{entity}/{id}/followers`)."""


def keep_children(acct: Account, entity: str, record: Record) -> None:
    """Keep the generated lists of a record about to change (call before changing it)."""
    if entity not in FOLLOWED:
        return
    generators: dict[str, Callable[[Account, Record], list[Record]]] = {
        related.followers_key(entity): related.generated_followers
    }
    if entity == "deals":
        generators.update(
            participants=related.generated_participants,
            deal_products=deal_items.generated_products,
            installments=deal_items.generated_installments,
            flow=deal_flow.generated_changes,
        )
    with acct.related_lock:
        for kind, generate in generators.items():
            if (kind, record["id"]) not in acct.related:
                acct.related[(kind, record["id"])] = generate(acct, record)


def start_children(acct: Account, entity: str, record: Record) -> None:
    """Give a record just created its lists."""
    if entity not in FOLLOWED:
        return
    record_id = record["id"]
    with acct.related_lock:
        owner = record.get("owner_id") or 1
        acct.related[(related.followers_key(entity), record_id)] = [
            {"user_id": owner, "add_time": record["add_time"]}
        ]
        if entity != "deals":
            return
        person = record.get("person_id")
        acct.related[("participants", record_id)] = (
            [
                {
                    "id": record_id * related.PARTICIPANT_SLOTS,
                    "person_id": person,
                    "add_time": clock.v1_time(clock.parse_time(record["add_time"])),
                    "added_by_user_id": record.get("creator_user_id") or 1,
                }
            ]
            if person
            else []
        )
        acct.related[("deal_products", record_id)] = []
        acct.related[("installments", record_id)] = []
        acct.related[("flow", record_id)] = deal_flow.creation_changes(acct, record)


class ChildMutations:
    """Changes to the lists attached to records, for tests (`sim.account().add_follower(...)`).

    None of them changes the parent's `update_time` (see `related` and `deal_items`). Every method raises
    `KeyError` for an unknown parent or child and `ValueError` for a change Pipedrive would refuse.
    """

    def _account(self) -> Account:
        return cast("Account", self)

    def _live_parent(self, entity: str, record_id: int) -> Record:
        table = self._account().table(entity)
        record = table.get(record_id)
        if record is None or table.is_deleted(record_id):
            raise KeyError(f"{entity} {record_id} not found")
        return record

    # -- followers -------------------------------------------------------------------------------------------
    def add_follower(self, entity: str, record_id: int, user_id: int) -> Record:
        """Make a user follow a deal, person, organization or product; returns `{user_id, add_time}`."""
        if entity not in FOLLOWED:
            raise ValueError(f"{entity} have no followers (only {', '.join(FOLLOWED)})")
        acct = self._account()
        self._live_parent(entity, record_id)
        if not acct.table("users").exists(user_id):
            raise KeyError(f"users {user_id} not found")
        return related.add_follower(acct, entity, record_id, user_id)

    def remove_follower(self, entity: str, record_id: int, user_id: int) -> None:
        """Make a user stop following a record."""
        self._live_parent(entity, record_id)
        if not related.remove_follower(self._account(), entity, record_id, user_id):
            raise KeyError(f"user {user_id} does not follow {entity} {record_id}")

    # -- deal participants -----------------------------------------------------------------------------------
    def add_participant(self, deal_id: int, person_id: int) -> Record:
        """Add a person to a deal's participants; returns the participant row of
        `GET /v1/deals/{id}/participants`."""
        acct = self._account()
        self._live_parent("deals", deal_id)
        self._live_parent("persons", person_id)
        entry = related.add_participant(acct, deal_id, person_id)
        return next(row for row in related.participants(acct, deal_id) if row["id"] == entry["id"])

    def remove_participant(self, deal_id: int, person_id: int) -> None:
        """Remove a person from a deal's participants."""
        acct = self._account()
        self._live_parent("deals", deal_id)
        entries = [e for e in related.participant_entries(acct, deal_id) if e["person_id"] == person_id]
        if not entries:
            raise KeyError(f"person {person_id} does not participate in deal {deal_id}")
        related.remove_participant(acct, deal_id, entries[0]["id"])

    # -- deal products and installments ----------------------------------------------------------------------
    def add_deal_product(
        self, deal_id: int, product_id: int, item_price: float, quantity: float = 1, **details: Any
    ) -> Record:
        """Attach a product to a deal (`details`: discount, discount_type, tax, comments, ...); returns the
        attachment as `GET /api/v2/deals/{id}/products` lists it."""
        self._live_parent("deals", deal_id)
        self._live_parent("products", product_id)
        data = {**details, "product_id": product_id, "item_price": item_price, "quantity": quantity}
        return dict(deal_items.add_deal_product(self._account(), deal_id, data))

    def update_deal_product(self, deal_id: int, attachment_id: int, changes: dict[str, Any]) -> Record:
        """Change an attached product (`item_price`, `quantity`, `discount`, ...); returns it."""
        self._live_parent("deals", deal_id)
        return dict(deal_items.update_deal_product(self._account(), deal_id, attachment_id, changes))

    def remove_deal_product(self, deal_id: int, attachment_id: int) -> None:
        self._live_parent("deals", deal_id)
        if not deal_items.remove_deal_product(self._account(), deal_id, attachment_id):
            raise KeyError(f"deal {deal_id} has no product attachment {attachment_id}")

    def add_installment(
        self, deal_id: int, amount: float, billing_date: str, description: str = ""
    ) -> Record:
        """Add an installment (`billing_date` as `YYYY-MM-DD`) to a deal; returns it."""
        self._live_parent("deals", deal_id)
        acct = self._account()
        return dict(deal_items.add_installment(acct, deal_id, amount, billing_date, description))

    def remove_installment(self, deal_id: int, installment_id: int) -> None:
        self._live_parent("deals", deal_id)
        if not deal_items.remove_installment(self._account(), deal_id, installment_id):
            raise KeyError(f"deal {deal_id} has no installment {installment_id}")

    # -- organization relationships --------------------------------------------------------------------------
    def add_organization_relationship(
        self, owner_org_id: int, linked_org_id: int, type: str = "parent"
    ) -> Record:
        """Link two organizations (`type` "parent": the owner is the parent of the linked one, or "related");
        returns the relationship as `GET /v1/organizationRelationships/{id}` shows it."""
        from pipedrive_source.testing.generate_company import build_organization_relationship

        acct = self._account()
        self._live_parent("organizations", owner_org_id)
        self._live_parent("organizations", linked_org_id)
        if owner_org_id == linked_org_id:
            raise ValueError("an organization cannot be related to itself")
        created = acct.create(
            "organizationRelationships",
            {"type": type, "rel_owner_org_id": owner_org_id, "rel_linked_org_id": linked_org_id},
        )
        return build_organization_relationship(acct, created["id"])

    def remove_organization_relationship(self, relationship_id: int) -> None:
        acct = self._account()
        acct.delete("organizationRelationships", relationship_id)
