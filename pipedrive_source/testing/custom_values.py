"""Values of custom fields: generation per type, the v1 flattening, option labels, write validation.

Value shapes follow the "Custom Fields" section of Pipedrive's API v2 migration guide
(https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide): monetary `{value, currency}`, date range
`{value, until}`, time `{value, timezone_id, timezone_name}`, time range `{value, until, timezone_id,
timezone_name}`, address `{value, <components>}` (components not given are null); in API v1 the value is the
top-level key, with `_currency`, `_until` and `_<component>` keys beside it, and a time or time range carries
no zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from pipedrive_source.testing import clock, vocabulary
from pipedrive_source.testing.dice import Dice
from pipedrive_source.testing.fields import ADDRESS_PARTS, FieldDef


class Directory(Protocol):
    """What value generators and the v1 shapes need to know about the account."""

    def size(self, entity: str) -> int: ...

    def user_summary(self, user_id: int) -> dict[str, Any] | None: ...

    def organization_summary(self, org_id: int) -> dict[str, Any] | None: ...

    def person_summary(self, person_id: int) -> dict[str, Any] | None: ...


def make_address(dice: Dice) -> dict[str, str]:
    """A postal address in the v2 object shape (`value` plus Google-style subfields)."""
    locality, area1, area2, country, postal_prefix, streets = dice.pick(vocabulary.PLACES)
    route = dice.pick(streets)
    number = str(dice.between(1, 240))
    postal_code = f"{postal_prefix}{dice.between(10, 99)}"
    formatted = f"{route} {number}, {postal_code} {locality}, {country}"
    return {
        "value": formatted,
        "country": country,
        "admin_area_level_1": area1,
        "admin_area_level_2": area2,
        "locality": locality,
        "sublocality": "",
        "route": route,
        "street_number": number,
        "subpremise": dice.pick(("", "", "", "Suite 2", "Floor 3", "Unit 12")),
        "postal_code": postal_code,
        "formatted_address": formatted,
    }


def custom_address(dice: Dice) -> dict[str, str | None]:
    """An address custom field value: components the address lacks are null, as v2 sends them."""
    return {part: (text or None) if part != "value" else text for part, text in make_address(dice).items()}


COUNTRY_CODES = ("372", "1", "44", "49", "33", "351", "358", "46")

TIME_ZONES: dict[int, str] = {
    318: "Europe/London",
    333: "Europe/Tallinn",
    319: "Europe/Berlin",
    61: "America/New_York",
}
"""Time zones of time custom fields by Pipedrive's `timezone_id`. Only 318 (Europe/London) is documented (the
migration guide's example; Pipedrive publishes no mapping): the other ids are the simulator's own."""
ACCOUNT_TIME_ZONE = 333
"""The zone of the simulated users (`timezone_name` of `/v1/users`), used when a write names none."""
_TIME_ZONE_IDS = {name: zone_id for zone_id, name in TIME_ZONES.items()}
_ZONE_CHOICES = (ACCOUNT_TIME_ZONE, ACCOUNT_TIME_ZONE, ACCOUNT_TIME_ZONE, 318, 319, 61)


def make_phone(dice: Dice) -> str:
    return f"+{dice.pick(COUNTRY_CODES)} {dice.between(200, 999)} {dice.between(1000, 9999)}"


def _date(dice: Dice, back_days: int = 1400, ahead_days: int = 400) -> str:
    offset = dice.between(-back_days, ahead_days) * clock.DAY
    return clock.iso_date(clock.REFERENCE_INSTANT + offset) or ""


def _time(dice: Dice) -> str:
    return f"{dice.between(7, 18):02d}:{dice.pick((0, 15, 30, 45)):02d}:00"


def _zone(dice: Dice) -> dict[str, Any]:
    zone_id = dice.pick(_ZONE_CHOICES)
    return {"timezone_id": zone_id, "timezone_name": TIME_ZONES[zone_id]}


def _text(dice: Dice) -> str:
    return " ".join(dice.sample(vocabulary.NOTE_SENTENCES, dice.between(1, 3)))


def _varchar(fdef: FieldDef, dice: Dice, directory: Directory) -> Any:
    if fdef.words:
        return dice.pick(fdef.words)
    if fdef.name == "SKU":
        return f"SKU-{dice.between(10000, 99999)}"
    if fdef.name == "Email":
        return f"{dice.pick(vocabulary.FIRST_NAMES).lower()}@{dice.pick(vocabulary.EMAIL_PROVIDERS)}"
    if fdef.name == "Twitter handle":
        return f"@{dice.pick(vocabulary.FIRST_NAMES).lower()}{dice.between(1, 99)}"
    return dice.pick(vocabulary.DEAL_PRODUCTS).capitalize()


def _double(fdef: FieldDef, dice: Dice, directory: Directory) -> Any:
    if "%" in fdef.name:
        return dice.pick((0, 5, 10, 12.5, 15, 20, 25))
    if fdef.name == "NPS score":
        return dice.between(0, 10)
    return round(dice.random() * 50000, 2)


def _range(kind: str) -> Callable[[FieldDef, Dice, Directory], Any]:
    def make(fdef: FieldDef, dice: Dice, directory: Directory) -> Any:
        if kind == "date":
            start = clock.REFERENCE_INSTANT + dice.between(-900, 200) * clock.DAY
            until = start + dice.between(30, 730) * clock.DAY
            return {"value": clock.iso_date(start), "until": clock.iso_date(until)}
        first = dice.between(7, 12)
        return {
            "value": f"{first:02d}:00:00",
            "until": f"{first + dice.between(2, 8):02d}:00:00",
            **_zone(dice),
        }

    return make


def _reference(entity: str) -> Callable[[FieldDef, Dice, Directory], Any]:
    def make(fdef: FieldDef, dice: Dice, directory: Directory) -> Any:
        count = directory.size(entity)
        return dice.between(1, count) if count else None

    return make


VALUE_MAKERS: dict[str, Callable[[FieldDef, Dice, Directory], Any]] = {
    "varchar": _varchar,
    "varchar_auto": _varchar,
    "text": lambda fdef, dice, directory: _text(dice),
    "phone": lambda fdef, dice, directory: make_phone(dice),
    "double": _double,
    "monetary": lambda fdef, dice, directory: {
        "value": dice.between(5, 500) * 100,
        "currency": dice.pick(("EUR", "EUR", "USD", "GBP")),
    },
    "enum": lambda fdef, dice, directory: dice.pick(fdef.options or ()).id,
    "set": lambda fdef, dice, directory: sorted(
        o.id for o in dice.sample(fdef.options or (), dice.between(1, min(3, len(fdef.options or ()))))
    ),
    "date": lambda fdef, dice, directory: _date(dice),
    "daterange": _range("date"),
    "time": lambda fdef, dice, directory: {"value": _time(dice), **_zone(dice)},
    "timerange": _range("time"),
    "user": _reference("users"),
    "org": _reference("organizations"),
    "people": _reference("persons"),
    "address": lambda fdef, dice, directory: custom_address(dice),
}


def make_custom_fields(fields: tuple[FieldDef, ...], dice: Dice, directory: Directory) -> dict[str, Any]:
    """One record's `custom_fields` (v2 shape); unset fields are null, as Pipedrive sends them."""
    values: dict[str, Any] = {}
    for fdef in fields:
        if dice.random() < fdef.fill_rate:
            values[fdef.key] = VALUE_MAKERS[fdef.field_type](fdef, dice, directory)
        else:
            values[fdef.key] = None
    return values


def v1_custom_values(
    fields: tuple[FieldDef, ...], custom: dict[str, Any], directory: Directory
) -> dict[str, Any]:
    """The top-level v1 keys of custom field values (`key`, `key_currency`, `key_until`, `key_<subfield>`)."""
    out: dict[str, Any] = {}
    for fdef in fields:
        key = fdef.key
        value = custom.get(key)
        kind = fdef.field_type
        if kind == "monetary":
            out[key] = value["value"] if value else None
            out[f"{key}_currency"] = value["currency"] if value else None
        elif kind in ("daterange", "timerange"):
            out[key] = value["value"] if value else None
            out[f"{key}_until"] = value["until"] if value else None
        elif kind == "time":
            out[key] = value["value"] if value else None
        elif kind == "address":
            out[key] = value["value"] if value else None
            for part in ADDRESS_PARTS:
                out[f"{key}_{part}"] = value.get(part) if value else None
        elif kind == "set":
            out[key] = ",".join(str(v) for v in value) if value else None
        elif kind == "user" and value is not None:
            out[key] = directory.user_summary(value)
        elif kind == "org" and value is not None:
            out[key] = directory.organization_summary(value)
        elif kind == "people" and value is not None:
            out[key] = directory.person_summary(value)
        else:
            out[key] = value
    return out


def with_option_labels(fields: tuple[FieldDef, ...], custom: dict[str, Any]) -> dict[str, Any]:
    """`include_option_labels=true`: enum and set values as `{id, label}` objects."""
    labelled = dict(custom)
    for fdef in fields:
        value = custom.get(fdef.key)
        if value is None or fdef.field_type not in ("enum", "set"):
            continue
        labels = {o.id: o.label for o in fdef.options or ()}
        if fdef.field_type == "enum":
            labelled[fdef.key] = {"id": value, "label": labels.get(value)}
        else:
            labelled[fdef.key] = [{"id": v, "label": labels.get(v)} for v in value]
    return labelled


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_ZONE_KEYS = ("timezone_id", "timezone_name")
_ZONE_NAME = re.compile(r"^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+\-]+)+)$")


def _check_zone(value: dict[str, Any]) -> bool:
    zone_id, name = value.get("timezone_id"), value.get("timezone_name")
    return (zone_id is None or (isinstance(zone_id, int) and not isinstance(zone_id, bool))) and (
        name is None or (isinstance(name, str) and bool(_ZONE_NAME.match(name)))
    )


def _check_times(value: Any, parts: tuple[str, ...], pattern: re.Pattern[str], zoned: bool) -> bool:
    """A date range, time or time range object: `parts` all present and well-formed, a zone where allowed."""
    if not isinstance(value, dict):
        return False
    allowed = set(parts) | (set(_ZONE_KEYS) if zoned else set())
    return (
        set(parts) <= set(value) <= allowed
        and all(isinstance(value[k], str) and pattern.match(value[k]) for k in parts)
        and (not zoned or _check_zone(value))
    )


def _check_address(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("value"), str)
        and set(value) <= {"value", *ADDRESS_PARTS}
        and all(part is None or isinstance(part, str) for part in value.values())
    )


_VALIDATORS: dict[str, Callable[[FieldDef, Any], bool]] = {
    "varchar": lambda f, v: isinstance(v, str),
    "varchar_auto": lambda f, v: isinstance(v, str),
    "text": lambda f, v: isinstance(v, str),
    "phone": lambda f, v: isinstance(v, str),
    "double": lambda f, v: _is_number(v),
    "monetary": lambda f, v: (
        isinstance(v, dict) and _is_number(v.get("value")) and isinstance(v.get("currency"), str)
    ),
    "enum": lambda f, v: v in {o.id for o in f.options or ()},
    "set": lambda f, v: isinstance(v, list) and bool(v) and set(v) <= {o.id for o in f.options or ()},
    "date": lambda f, v: isinstance(v, str) and bool(_DATE.match(v)),
    "daterange": lambda f, v: _check_times(v, ("value", "until"), _DATE, zoned=False),
    "time": lambda f, v: _check_times(v, ("value",), _TIME, zoned=True),
    "timerange": lambda f, v: _check_times(v, ("value", "until"), _TIME, zoned=True),
    "user": lambda f, v: isinstance(v, int) and not isinstance(v, bool),
    "org": lambda f, v: isinstance(v, int) and not isinstance(v, bool),
    "people": lambda f, v: isinstance(v, int) and not isinstance(v, bool),
    "address": lambda f, v: _check_address(v),
}


def _with_zone(value: dict[str, Any]) -> dict[str, Any]:
    """A written time: the zone named by id or name, else the user's (the guide: "the current user's time
    zone is used")."""
    zone_id, name = value.get("timezone_id"), value.get("timezone_name")
    if zone_id is None and name is None:
        zone_id = ACCOUNT_TIME_ZONE
    if name is None:
        name = TIME_ZONES.get(zone_id) if zone_id is not None else None
    elif zone_id is None:
        zone_id = _TIME_ZONE_IDS.get(name)
    return {**value, "timezone_id": zone_id, "timezone_name": name}


_COMPLETERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "time": _with_zone,
    "timerange": _with_zone,
    # The guide: "All other subfields are optional and will be set to null if not provided".
    "address": lambda value: {"value": value["value"], **{p: value.get(p) for p in ADDRESS_PARTS}},
}


def complete_custom_fields(fields: tuple[FieldDef, ...], values: dict[str, Any]) -> dict[str, Any]:
    """A valid `custom_fields` write as Pipedrive stores it (zones of times, null address components)."""
    kinds = {f.key: f.field_type for f in fields}
    completed = dict(values)
    for key, value in values.items():
        complete = _COMPLETERS.get(kinds.get(key, ""))
        if complete is not None and isinstance(value, dict):
            completed[key] = complete(value)
    return completed


def validate_custom_fields(fields: tuple[FieldDef, ...], values: Any) -> str | None:
    """The validation error of a `custom_fields` write, or None when it is valid."""
    if not isinstance(values, dict):
        return "custom_fields must be an object"
    by_key = {f.key: f for f in fields}
    for key, value in values.items():
        fdef = by_key.get(key)
        if fdef is None:
            return f"Unknown custom field key: {key}"
        if value is None:
            continue
        if not _VALIDATORS[fdef.field_type](fdef, value):
            return f"Invalid value for custom field {key} of type {fdef.field_type}"
    return None
