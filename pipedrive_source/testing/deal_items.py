"""Products attached to deals and deal installments (API v2 shapes).

Generated from their deal until the first change of the deal or of the list (`children.py` keeps them in
`Account.related` from then on). The v2 spec says deal products "contribute to the total value of the deal"
but nothing about the deal's `update_time`: the simulator changes neither the deal's value nor its
`update_time` when a product or an installment is added, changed or removed (a connector must not rely on
either). A deal product's own `update_time` is the time of its last change; installments carry no times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import clock
from pipedrive_source.testing.clock import DAY, rfc3339
from pipedrive_source.testing.dice import Dice, salt
from pipedrive_source.testing.related import stored
from pipedrive_source.testing.table import Record

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

PRODUCT_SLOTS = 8
"""Attachment ids are `deal_id * 8 + n`: generated attachments use n < 4, added ones 4..7."""
INSTALLMENT_SLOTS = 8
"""Installment ids are `deal_id * 8 + n`: generated installments use n < 4, added ones 4..7."""
GENERATED_SLOTS = 4
_CHANGEABLE = frozenset(
    {
        "item_price",
        "quantity",
        "discount",
        "discount_type",
        "tax",
        "tax_method",
        "comments",
        "is_enabled",
        "product_variation_id",
        "billing_frequency",
        "billing_frequency_cycles",
        "billing_start_date",
    }
)


def _sum(item_price: float, quantity: float, discount: float, discount_type: str) -> float:
    if discount_type == "amount":
        return round(item_price * quantity - discount, 2)
    return round(item_price * quantity * (100 - discount) / 100, 2)


def generated_products(acct: Account, deal: Record) -> list[Record]:
    products = acct.table("products")
    if not deal["value"] or not products.max_id:
        return []
    deal_id = deal["id"]
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
                "sum": _sum(item_price, quantity, discount, "percentage"),
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


def deal_products(acct: Account, deal_id: int) -> list[Record]:
    kept = stored(acct, "deal_products", deal_id)
    if kept is not None:
        return kept
    deal = acct.table("deals").get(deal_id)
    return [] if deal is None else generated_products(acct, deal)


def deal_product_count(acct: Account, deal: Record) -> int:
    """What `products_count` says: the length of what `GET /deals/{id}/products` lists."""
    kept = stored(acct, "deal_products", deal["id"])
    return len(kept if kept is not None else generated_products(acct, deal))


def _free_slot(deal_id: int, used: set[int], slots: int, what: str) -> int:
    for n in range(GENERATED_SLOTS, slots):
        if deal_id * slots + n not in used:
            return deal_id * slots + n
    raise ValueError(f"A deal can have at most {slots - GENERATED_SLOTS} {what} added through the simulator")


def add_deal_product(acct: Account, deal_id: int, data: dict[str, Any]) -> Record:
    """Attach a product (`product_id`, `item_price` required; `quantity`, `discount`, ... optional).

    Raises:
        ValueError: when the deal has no free attachment slot.
    """
    with acct.related_lock:
        current = list(deal_products(acct, deal_id))
        attachment_id = _free_slot(deal_id, {a["id"] for a in current}, PRODUCT_SLOTS, "products")
        product = acct.table("products").get(int(data["product_id"])) or {}
        deal = acct.table("deals").get(deal_id) or {}
        now = rfc3339(clock.now_second())
        quantity, item_price = data.get("quantity", 1), data["item_price"]
        discount, discount_type = data.get("discount", 0), data.get("discount_type", "percentage")
        attachment = {
            "id": attachment_id,
            "sum": _sum(item_price, quantity, discount, discount_type),
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
            "discount_type": discount_type,
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


def update_deal_product(acct: Account, deal_id: int, attachment_id: int, changes: dict[str, Any]) -> Record:
    """Change an attached product (price, quantity, discount, ...); its `sum` and `update_time` follow.

    Raises:
        KeyError: when the deal has no such attachment.
        ValueError: when a key cannot be changed.
    """
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise ValueError(f"deal product fields that cannot be changed: {', '.join(sorted(unknown))}")
    with acct.related_lock:
        current = list(deal_products(acct, deal_id))
        for position, attachment in enumerate(current):
            if attachment["id"] == attachment_id:
                changed = {**attachment, **changes, "update_time": rfc3339(clock.now_second())}
                changed["sum"] = _sum(
                    changed["item_price"], changed["quantity"], changed["discount"], changed["discount_type"]
                )
                current[position] = changed
                acct.related[("deal_products", deal_id)] = current
                return changed
    raise KeyError(f"deal {deal_id} has no product attachment {attachment_id}")


def remove_deal_product(acct: Account, deal_id: int, attachment_id: int) -> bool:
    with acct.related_lock:
        current = deal_products(acct, deal_id)
        kept = [a for a in current if a["id"] != attachment_id]
        acct.related[("deal_products", deal_id)] = kept
        return len(kept) != len(current)


# -- installments --------------------------------------------------------------------------------------------
def generated_installments(acct: Account, deal: Record) -> list[Record]:
    if deal["arr"] is None:
        return []
    deal_id = deal["id"]
    dice = Dice.keyed(salt(acct.seed, "installments"), deal_id)
    count = dice.between(1, GENERATED_SLOTS)
    start = clock.parse_time(deal["add_time"]) + 30 * DAY
    return [
        {
            "id": deal_id * INSTALLMENT_SLOTS + n,
            "amount": round(deal["value"] / count, 2),
            "billing_date": clock.iso_date(start + n * 91 * DAY),
            "description": f"Instalment {n + 1} of {count}",
            "deal_id": deal_id,
        }
        for n in range(count)
    ]


def installments(acct: Account, deal_id: int) -> list[Record]:
    kept = stored(acct, "installments", deal_id)
    if kept is not None:
        return kept
    deal = acct.table("deals").get(deal_id)
    return [] if deal is None else generated_installments(acct, deal)


def add_installment(
    acct: Account, deal_id: int, amount: float, billing_date: str, description: str
) -> Record:
    """Add an installment to a deal; returns it.

    Raises:
        ValueError: when the deal has no free installment slot or the date is not `YYYY-MM-DD`.
    """
    clock.parse_date(billing_date)
    with acct.related_lock:
        current = list(installments(acct, deal_id))
        installment_id = _free_slot(deal_id, {i["id"] for i in current}, INSTALLMENT_SLOTS, "installments")
        installment = {
            "id": installment_id,
            "amount": amount,
            "billing_date": billing_date,
            "description": description,
            "deal_id": deal_id,
        }
        acct.related[("installments", deal_id)] = [*current, installment]
        return installment


def remove_installment(acct: Account, deal_id: int, installment_id: int) -> bool:
    with acct.related_lock:
        current = installments(acct, deal_id)
        kept = [i for i in current if i["id"] != installment_id]
        acct.related[("installments", deal_id)] = kept
        return len(kept) != len(current)
