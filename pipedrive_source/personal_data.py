"""Personal data of the CRM's contacts (names, e-mails, phones), kept, hashed or dropped at extraction.

`sources.pipedrive.personal_data` chooses:

- `keep` (the default): records load as the API sends them.
- `hash`: each personal value is replaced by the HMAC-SHA256 (hex) of its normalized form, keyed with the
  secret `sources.pipedrive.personal_data_key`. Normalized: e-mails and chat handles trimmed and lower-cased,
  phone numbers reduced to their digits, names trimmed, lower-cased and with single spaces. The same
  contact therefore hashes the same in every table (a person's e-mail and an activity attendee's), so joins
  still work, while nobody without the key can test a guess ("is jane@example.com a customer?").
- `drop`: the columns holding them are absent from the destination.

Both `hash` and `drop` remove the contact-sync details that no join needs (a person's postal address,
birthday and notes). `PERSONAL_VALUES` lists, per table, where the API puts personal data, after the official
specs. Custom fields are personal by type (`phone` in every table, `address` in `persons`) or, as Pipedrive
has no e-mail field type, by a text field's name saying e-mail. The records are rewritten before their Arrow
table is built, so no personal value reaches dlt's files. Not covered: free texts that may name
someone (deal and lead titles, notes, activity notes, mail subjects), and users, the account's own
employees, whose names and work e-mails attribute owners and stay as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from pipedrive_source.custom_fields import CustomFieldMap
from pipedrive_source.errors import ConfigurationError

PersonalDataMode = Literal["keep", "hash", "drop"]
PERSONAL_DATA_MODES: tuple[str, ...] = get_args(PersonalDataMode)

Kind = Literal["name", "email", "phone", "handle", "contact"]
"""What a value is, which decides its normalization; `contact` values are removed in `hash` mode too."""

LIST_ITEMS = "[]"
_SPACES = re.compile(r"\s+")
_NOT_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class PersonalValue:
    """Where a table's records hold one kind of personal value.

    Attributes:
        path: keys from the record down to the value, `[]` stepping into every item of a list:
            `emails[].value`, `person.name`, `parties.to[].email_address`.
        kind: what the value is.
        drop: what `drop` mode removes, when not the value itself: a list column whose items are only the
            value and its label (`emails`) goes whole.
    """

    path: str
    kind: Kind
    drop: str | None = None

    @property
    def steps(self) -> tuple[str, ...]:
        return _steps(self.path)

    @property
    def drop_steps(self) -> tuple[str, ...]:
        return _steps(self.drop or self.path)


def _steps(path: str) -> tuple[str, ...]:
    steps: list[str] = []
    for part in path.split("."):
        if part.endswith(LIST_ITEMS):
            steps += [part[: -len(LIST_ITEMS)], LIST_ITEMS]
        else:
            steps.append(part)
    return tuple(steps)


def _mail_party(path: str) -> tuple[PersonalValue, ...]:
    return (
        PersonalValue(f"{path}.email_address", "email"),
        PersonalValue(f"{path}.name", "name"),
        PersonalValue(f"{path}.linked_person_name", "name"),
    )


PERSONAL_VALUES: Mapping[str, tuple[PersonalValue, ...]] = MappingProxyType(
    {
        "persons": (
            PersonalValue("name", "name"),
            PersonalValue("first_name", "name"),
            PersonalValue("last_name", "name"),
            PersonalValue("emails[].value", "email", drop="emails"),
            PersonalValue("phones[].value", "phone", drop="phones"),
            PersonalValue("im[].value", "handle", drop="im"),
            PersonalValue("postal_address", "contact"),
            PersonalValue("birthday", "contact"),
            PersonalValue("notes", "contact"),
        ),
        "activities": (
            PersonalValue("attendees[].email", "email"),
            PersonalValue("attendees[].name", "name"),
        ),
        "notes": (PersonalValue("person.name", "name"),),
        "files": (PersonalValue("person_name", "name"),),
        "call_logs": (
            PersonalValue("from_phone_number", "phone"),
            PersonalValue("to_phone_number", "phone"),
        ),
        "mail_threads": (
            *_mail_party("parties.to[]"),
            *_mail_party("parties.from[]"),
            *_mail_party("drafts_parties[]"),
        ),
    }
)
"""Personal values by table, where the specs put them (v2 persons and activities, v1 notes, files, call logs
and mail threads). Deals, leads and organizations carry only ids of persons."""

PERSONAL_FIELD_TYPES: Mapping[str, Kind] = MappingProxyType({"phone": "phone"})
"""Custom field types holding personal values, in any table."""

PERSON_FIELD_TYPES: Mapping[str, Kind] = MappingProxyType({"address": "contact"})
"""Custom field types holding personal values in `persons` only: a person's address is where they live."""

TEXT_FIELD_TYPES = frozenset({"varchar", "varchar_auto", "text"})
EMAIL_FIELD_NAME = re.compile(r"e-?mail", re.IGNORECASE)
"""A text custom field named like this ("Email", "Assistant e-mail") holds e-mail addresses: Pipedrive has no
e-mail field type."""


def _email(text: str) -> str:
    return text.strip().lower()


def _phone(text: str) -> str:
    return _NOT_DIGITS.sub("", text)


def _name(text: str) -> str:
    return _SPACES.sub(" ", text.strip()).lower()


NORMALIZERS: Mapping[Kind, Callable[[str], str]] = MappingProxyType(
    {"email": _email, "handle": _email, "phone": _phone, "name": _name}
)
"""How each kind of value is normalized before hashing; `contact` has none (it is removed)."""


def normalized(kind: Kind, value: Any) -> str:
    """The form of a value that is hashed: the same contact written differently gives the same text."""
    return NORMALIZERS[kind](value if isinstance(value, str) else str(value))


def keyed_hash(key: bytes, kind: Kind, value: Any) -> str:
    """HMAC-SHA256 of the normalized value, in hex."""
    return hmac.new(key, normalized(kind, value).encode(), hashlib.sha256).hexdigest()


def check_settings(mode: str, key: str | None) -> PersonalDataMode:
    """The personal data mode, checked against the key it needs.

    Raises:
        ConfigurationError: an unknown mode, or `hash` without a key; the message says what to set.
    """
    if mode not in PERSONAL_DATA_MODES:
        raise ConfigurationError(
            f"sources.pipedrive.personal_data is {mode!r}; set it to one of {', '.join(PERSONAL_DATA_MODES)} "
            "(keep loads personal data as is, hash replaces names, e-mails and phones by keyed hashes, "
            "drop leaves them out)."
        )
    if mode == "hash" and not key:
        raise ConfigurationError(
            "sources.pipedrive.personal_data = 'hash' needs a secret key to hash with: set "
            "sources.pipedrive.personal_data_key in .dlt/secrets.toml (or the environment variable "
            "SOURCES__PIPEDRIVE__PERSONAL_DATA_KEY) to a long random text, and keep it: another key gives "
            "other hashes, which no longer match those already loaded."
        )
    return mode  # type: ignore[return-value]


Records = list[dict[str, Any]]


class PersonalData:
    """Rewrites one table's records in place: personal values hashed or removed.

    Build one per table and run with `for_table`; it is None where there is nothing to do.
    """

    def __init__(self, mode: PersonalDataMode, key: bytes | None, values: Iterable[PersonalValue]) -> None:
        self.mode = mode
        self._key = key or b""
        self.values = tuple(values)
        self._hashed = tuple(
            (value.steps, self._hasher(value.kind))
            for value in self.values
            if mode == "hash" and value.kind != "contact"
        )
        self._removed = tuple(
            value.steps if mode == "hash" else value.drop_steps
            for value in self.values
            if mode == "drop" or value.kind == "contact"
        )

    @classmethod
    def for_table(
        cls,
        table: str,
        mode: PersonalDataMode,
        key: str | None = None,
        field_map: CustomFieldMap | None = None,
    ) -> PersonalData | None:
        """The rewriting of a table's records, or None in `keep` mode or for a table without personal data.

        Args:
            table: the table name.
            mode: `keep`, `hash` or `drop` (checked with `check_settings`).
            key: the secret hashing key (`hash` mode).
            field_map: the table's custom fields, whose `phone` fields are personal too.
        """
        if mode == "keep":
            return None
        values = [*PERSONAL_VALUES.get(table, ()), *_custom_values(table, field_map)]
        if not values:
            return None
        return cls(mode, key.encode() if key else None, values)

    @property
    def removed_columns(self) -> frozenset[str]:
        """Top-level columns that no record keeps: to be left out of the table's column hints too."""
        return frozenset(steps[0] for steps in self._removed if len(steps) == 1)

    def __call__(self, records: Records) -> Records:
        for record in records:
            for steps, hashed in self._hashed:
                _rewrite(record, steps, hashed)
            for steps in self._removed:
                _remove(record, steps)
        return records

    def _hasher(self, kind: Kind) -> Callable[[Any], Any]:
        def hashed(value: Any) -> Any:
            if value is None or isinstance(value, dict | list) or normalized(kind, value) == "":
                return value
            return keyed_hash(self._key, kind, value)

        return hashed


def _custom_values(table: str, field_map: CustomFieldMap | None) -> list[PersonalValue]:
    """The personal custom fields of a table: every column of each, for `contact` ones (an address)."""
    if field_map is None:
        return []
    values: list[PersonalValue] = []
    for field in field_map.fields:
        if not field.is_custom:
            continue
        kind = PERSONAL_FIELD_TYPES.get(field.field_type)
        if kind is None and table == "persons":
            kind = PERSON_FIELD_TYPES.get(field.field_type)
        if kind is None and field.field_type in TEXT_FIELD_TYPES and EMAIL_FIELD_NAME.search(field.name):
            kind = "email"
        if kind == "contact":
            values += [PersonalValue(column, kind) for column in field.column_names]
        elif kind is not None:
            values.append(PersonalValue(field.column_name, kind))
    return values


def _rewrite(node: Any, steps: tuple[str, ...], convert: Callable[[Any], Any]) -> None:
    step, rest = steps[0], steps[1:]
    if step == LIST_ITEMS:
        if isinstance(node, list):
            for item in node:
                if rest:
                    _rewrite(item, rest, convert)
        return
    if not isinstance(node, dict) or step not in node:
        return
    if rest:
        _rewrite(node[step], rest, convert)
    else:
        node[step] = convert(node[step])


def _remove(node: Any, steps: tuple[str, ...]) -> None:
    step, rest = steps[0], steps[1:]
    if step == LIST_ITEMS:
        if isinstance(node, list):
            for item in node:
                if rest:
                    _remove(item, rest)
        return
    if not isinstance(node, dict):
        return
    if rest:
        if step in node:
            _remove(node[step], rest)
    else:
        node.pop(step, None)
