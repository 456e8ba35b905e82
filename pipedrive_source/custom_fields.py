"""Custom fields of Pipedrive records as columns named after the fields.

Pipedrive keys custom fields by 40-character hashes: API v2 records carry them in a `custom_fields` object,
API v1 records as top-level keys (plus `<hash>_currency`, `<hash>_until`, ... for composite fields). The
fields endpoints (`/api/v2/dealFields`, ...; `/v1/dealFields`, ...) describe them. A `CustomFieldMap` is built
once per run from those descriptions and rewrites every record. References:
https://pipedrive.readme.io/docs/core-api-concepts-custom-fields and the "Custom Fields" section of
https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide (the value shape of each field type).

Columns, by field type (`<name>` is the field's name normalized by dlt's snake_case convention, exactly as dlt
normalizes any identifier: `Lead Source` -> `lead_source`):

- text types, `double`, `date`, `phone`, ...: `<name>`, the value.
- `enum`: `<name>`, the option's label. `set`: `<name>`, the list of option labels (a `json` column).
- `monetary`: `<name>` (the amount, decimal) and `<name>_currency`.
- `daterange`, `timerange`: `<name>` (the start) and `<name>_until` (the end), `until` being the API's word.
  The start is the v2 object's `value`, as the migration guide shows; `start` is read too, since the v2 spec
  itself gives no shape.
- `time`, `timerange`: also `<name>_timezone_id` and `<name>_timezone_name`.
- `address`: `<name>` holds the address as entered (the API's `value`); the components go to
  `<name>_street_number`, `_route`, `_subpremise`, `_sublocality`, `_locality`, `_admin_area_level_1`,
  `_admin_area_level_2`, `_country`, `_postal_code` and `_formatted_address` (Google's formatted address).
- `user`, `org`, `people` (and other references): `<name>`, the referenced id (v1's objects are unwrapped).

Name collisions are settled on the final column names, every column of a field included, so a field's columns
always share one prefix:

1. A field whose columns would hit a built-in column of the entity (those the caller passes, the entity's
   columns in the API specs, the non-custom fields of the fields endpoint, dlt's `_dlt_*` columns) is named
   `<name>_custom`.
2. Two custom fields with the same name: the field created first keeps the name, later ones get
   `_<first 6 characters of the field code>` (`priority_9dc80c`); a longer prefix in the unlikely case that is
   taken too. Creation order is the v1 field `id`; v2 field descriptions carry no id, but the endpoint
   returns them in creation order (its cursor pages on the internal id, ascending). A field added later
   therefore never takes the name of an existing column; deleting the first of two same-named fields moves
   the name to the next one.

A field renamed in Pipedrive is written under its new name from the next run on (the old column stays in the
destination with the values loaded so far). A value whose option was deleted is kept as the option id in text
form (`"193"`), so the record loads and the value can be traced. A key no field describes (a field deleted
between reading the fields and the records) is dropped and its code added to
`CustomFieldMap.unmapped_codes`, for the caller to report; no column named by a hash is ever left: v2's
`custom_fields` object is removed whole, and every v1 top-level key starting with 40 hex characters is
renamed or dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TColumnSchema, TDataType

from pipedrive_source.column_types import (
    CUSTOM_FIELD_DATA_TYPES,
    CUSTOM_SUBFIELD_DATA_TYPES,
    builtin_columns,
    column_schema,
)

_NAMING = NamingConvention()
_HEX = frozenset("0123456789abcdef")
_CODE_LENGTH = 40
_SUFFIX_LENGTH = 6

DLT_COLUMNS = frozenset({"_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_list_idx"})

ADDRESS_SUBFIELDS = (
    "street_number",
    "route",
    "subpremise",
    "sublocality",
    "locality",
    "admin_area_level_1",
    "admin_area_level_2",
    "country",
    "postal_code",
    "formatted_address",
)
"""Address components, as the v2 address objects and the v1 `<hash>_<component>` keys name them."""

ValueKind = Literal["plain", "option", "options", "reference"]
Collision = Literal["built-in column", "another custom field", "unnamed"]


@dataclass(frozen=True)
class FieldShape:
    """How a field type's value is laid out.

    Attributes:
        subfields: the parts besides the main value, in column order (v2 object keys, v1 key suffixes).
        value: how the main value is read: as is, an option id, a list of option ids, or a reference.
        value_keys: the v2 object keys that may hold the main value, first present wins.
    """

    subfields: tuple[str, ...] = ()
    value: ValueKind = "plain"
    value_keys: tuple[str, ...] = ("value",)


_PLAIN = FieldShape()
_REFERENCE = FieldShape(value="reference")
FIELD_SHAPES: Mapping[str, FieldShape] = MappingProxyType(
    {
        "monetary": FieldShape(("currency",)),
        "daterange": FieldShape(("until",), value_keys=("value", "start")),
        "time": FieldShape(("timezone_id", "timezone_name")),
        "timerange": FieldShape(("until", "timezone_id", "timezone_name"), value_keys=("value", "start")),
        "address": FieldShape(ADDRESS_SUBFIELDS),
        "enum": FieldShape(value="option"),
        "set": FieldShape(value="options"),
        "user": _REFERENCE,
        "org": _REFERENCE,
        "people": _REFERENCE,
        "deal": _REFERENCE,
        "lead": _REFERENCE,
        "stage": _REFERENCE,
        "project": _REFERENCE,
        "activity": _REFERENCE,
    }
)
"""Field types whose value is not a plain scalar; every other type is `FieldShape()`."""


@dataclass(frozen=True)
class CustomField:
    """One field of an entity and the columns it is written to.

    Attributes:
        code: the field code (v2 `field_code`, v1 `key`): a 40-hex hash for custom fields.
        name: the field's name in Pipedrive.
        field_type: Pipedrive's field type (`varchar`, `enum`, `monetary`, ...).
        is_custom: a user-created field; built-in fields are listed but records are not rewritten for them.
        column_name: the main column.
        column_names: every column of the field, the main one first.
        options: `(option id, label)` pairs of `enum` and `set` fields.
        collision: why the column name has a suffix, if it has one.
    """

    code: str
    name: str
    field_type: str
    is_custom: bool
    column_name: str
    column_names: tuple[str, ...]
    options: tuple[tuple[Any, str], ...] = ()
    collision: Collision | None = None


_Convert = Callable[[Any], Any]
_Write = Callable[[dict[str, Any], Any], None]


class CustomFieldMap:
    """The custom fields of one entity, and the rewriting of its records into named columns.

    Build one per run with `from_v2_fields` or `from_v1_fields`, then call `flatten` on every record.
    """

    def __init__(
        self,
        entity: str,
        api_version: Literal["v1", "v2"],
        fields: Iterable[CustomField],
        data_types: Mapping[str, TDataType],
        subfields: Mapping[str, tuple[tuple[str, str], ...]],
    ) -> None:
        self.entity = entity
        self.api_version = api_version
        self.fields: tuple[CustomField, ...] = tuple(fields)
        self.unmapped_codes: set[str] = set()
        """Codes met in records that no field describes; their values were dropped."""
        self._data_types = dict(data_types)
        self._v2_writers: dict[str, _Write] = {}
        self._v2_columns: dict[str, str] = {}
        self._v1_writers: dict[str, _Write] = {}
        for field in self.fields:
            if field.is_custom:
                self._plan(field, subfields[field.code])
        self.flatten: Callable[[dict[str, Any]], dict[str, Any]] = (
            self._flatten_v2 if api_version == "v2" else self._flatten_v1
        )
        """Rewrite one record in place and return it: custom field values move to their named columns."""

    @classmethod
    def from_v2_fields(
        cls,
        entity: str,
        fields: Iterable[Mapping[str, Any]],
        builtin_columns: Iterable[str] = (),
        record_layout: Literal["v1", "v2"] = "v2",
    ) -> CustomFieldMap:
        """Build the map from the `data` items of a v2 fields endpoint (`/api/v2/dealFields`, ...).

        Args:
            entity: the table the records go to (`deals`, `persons`, ...).
            fields: field descriptions with `field_code`, `field_name`, `field_type`, `options`, `subfields`
                and `is_custom_field`, in the order the endpoint returned them (creation order).
            builtin_columns: top-level columns of the entity's records besides those the specs document.
            record_layout: how the records carry the values: in v2's `custom_fields` object, or as v1's
                top-level keys (v1 leads, which take the custom fields of deals).
        """
        described = [
            _Described(
                code=str(field["field_code"]),
                name=str(field.get("field_name") or ""),
                field_type=str(field.get("field_type") or ""),
                is_custom=bool(field.get("is_custom_field")),
                options=_options(field.get("options")),
                subfields=tuple(str(sub["field_code"]) for sub in field.get("subfields") or () if sub),
            )
            for field in fields
        ]
        return cls._build(entity, record_layout, described, builtin_columns)

    @classmethod
    def from_v1_fields(
        cls, entity: str, fields: Iterable[Mapping[str, Any]], builtin_columns: Iterable[str] = ()
    ) -> CustomFieldMap:
        """Build the map from the `data` items of a v1 fields endpoint (`/v1/dealFields`, ...).

        Args:
            entity: the table the records go to (`leads`, ...).
            fields: field descriptions with `id`, `key`, `name`, `field_type` and `options`; custom fields are
                those whose key is a 40-hex hash.
            builtin_columns: top-level columns of the entity's records besides those the specs document.
        """
        described = [
            _Described(
                code=str(field["key"]),
                name=str(field.get("name") or ""),
                field_type=str(field.get("field_type") or ""),
                is_custom=is_field_code(str(field["key"])),
                options=_options(field.get("options")),
            )
            for field in sorted(fields, key=_creation_order)
        ]
        return cls._build(entity, "v1", described, builtin_columns)

    @classmethod
    def _build(
        cls,
        entity: str,
        api_version: Literal["v1", "v2"],
        described: list[_Described],
        extra_builtin_columns: Iterable[str],
    ) -> CustomFieldMap:
        unique: dict[str, _Described] = {}
        for field in described:
            unique.setdefault(field.code, field)
        reserved = set(DLT_COLUMNS)
        for name in (*builtin_columns(entity), *extra_builtin_columns, "custom_fields"):
            reserved.add(_normalize(name))
        for field in unique.values():
            if not field.is_custom:
                reserved.add(_normalize(field.code))

        taken = set(reserved)
        fields: list[CustomField] = []
        data_types: dict[str, TDataType] = {}
        subfield_columns: dict[str, tuple[tuple[str, str], ...]] = {}
        for field in unique.values():
            if not field.is_custom:
                column = _normalize(field.code)
                fields.append(
                    CustomField(
                        field.code, field.name, field.field_type, False, column, (column,), field.options
                    )
                )
                continue
            subfields = _subfields(field)
            base, collision = _column_base(field, subfields, reserved, taken)
            columns = [(sub, _normalize(f"{base}_{sub}")) for sub in subfields]
            taken.add(base)
            taken.update(column for _, column in columns)
            subfield_columns[field.code] = tuple(columns)
            fields.append(
                CustomField(
                    code=field.code,
                    name=field.name,
                    field_type=field.field_type,
                    is_custom=True,
                    column_name=base,
                    column_names=(base, *(column for _, column in columns)),
                    options=field.options,
                    collision=collision,
                )
            )
            main_type = CUSTOM_FIELD_DATA_TYPES.get(field.field_type)
            if main_type is not None:
                data_types[base] = main_type
                for sub, column in columns:
                    data_types[column] = CUSTOM_SUBFIELD_DATA_TYPES.get(sub, main_type)
        return cls(entity, api_version, fields, data_types, subfield_columns)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Every column the custom fields are written to."""
        return tuple(column for field in self.fields if field.is_custom for column in field.column_names)

    @property
    def columns(self) -> dict[str, TColumnSchema]:
        """dlt column hints of the custom field columns, for `resource.apply_hints(columns=...)`.

        Field types without a known type have none.
        """
        return {name: column_schema(name, data_type) for name, data_type in self._data_types.items()}

    def column_rows(self) -> list[dict[str, Any]]:
        """Rows for the `custom_fields` table: which column holds which field, one row per field.

        Built-in fields of the fields endpoint are listed too (`is_custom_field` false), under the column of
        their own code.
        """
        return [
            {
                "entity": self.entity,
                "field_code": field.code,
                "field_name": field.name,
                "field_type": field.field_type,
                "is_custom_field": field.is_custom,
                "column_name": field.column_name,
                "column_names": list(field.column_names),
                "collision": field.collision,
                "options": [{"id": option_id, "label": label} for option_id, label in field.options],
            }
            for field in self.fields
        ]

    def _plan(self, field: CustomField, subfields: tuple[tuple[str, str], ...]) -> None:
        shape = FIELD_SHAPES.get(field.field_type, _PLAIN)
        main_type = self._data_types.get(field.column_name)
        convert = _value_converter(shape.value, field.options, main_type)
        parts = tuple(
            (sub, column, _blank_to_none if self._data_types.get(column) != "text" else _as_is)
            for sub, column in subfields
        )
        # An empty set writes no value (no key): the record reads as if the field had never been set.
        write_main = _scalar_writer(field.column_name, convert, keep_null=shape.value != "options")
        if parts:
            write = _composite_writer(field.column_name, convert, parts, shape.value_keys)
            self._v2_writers[field.code] = write
        elif convert is _as_is:
            # most fields: the value as it is, written without a call per value
            self._v2_columns[field.code] = field.column_name
        else:
            self._v2_writers[field.code] = write_main
        self._v1_writers[field.code] = write_main
        for sub, column, part_convert in parts:
            self._v1_writers[f"{field.code}_{sub}"] = _scalar_writer(column, part_convert)

    def _flatten_v2(self, record: dict[str, Any]) -> dict[str, Any]:
        custom = record.pop("custom_fields", None)
        if custom.__class__ is dict:
            columns = self._v2_columns
            writers = self._v2_writers
            for code, value in custom.items():
                column = columns.get(code)
                if column is not None:
                    record[column] = value
                    continue
                write = writers.get(code)
                if write is None:
                    self.unmapped_codes.add(code)
                else:
                    write(record, value)
        return record

    def _flatten_v1(self, record: dict[str, Any]) -> dict[str, Any]:
        writers = self._v1_writers
        # Built-in keys are shorter than a field code: only the long ones need a look.
        for key in [key for key in record if len(key) >= _CODE_LENGTH]:
            write = writers.get(key)
            if write is not None:
                write(record, record.pop(key))
            elif is_field_code(key[:_CODE_LENGTH]):
                self.unmapped_codes.add(key[:_CODE_LENGTH])
                del record[key]
        return record


def is_field_code(text: str) -> bool:
    """Whether `text` is a custom field code: 40 lowercase hex characters."""
    return len(text) == _CODE_LENGTH and _HEX.issuperset(text)


@dataclass(frozen=True)
class _Described:
    code: str
    name: str
    field_type: str
    is_custom: bool
    options: tuple[tuple[Any, str], ...]
    subfields: tuple[str, ...] = ()


def _normalize(name: str) -> str:
    return _NAMING.normalize_identifier(name)


def _creation_order(field: Mapping[str, Any]) -> tuple[bool, int]:
    """Sort key of v1 fields by `id`; `sorted` keeps the listed order among fields without one."""
    field_id = field.get("id")
    return (True, 0) if field_id.__class__ is not int else (False, field_id)


def _options(options: Any) -> tuple[tuple[Any, str], ...]:
    return tuple((option.get("id"), str(option.get("label"))) for option in options or () if option)


def _subfields(field: _Described) -> tuple[str, ...]:
    """The field's parts besides `value`: those of its type, then any further ones its description lists."""
    shape = FIELD_SHAPES.get(field.field_type, _PLAIN)
    described = tuple(_normalize(sub) for sub in field.subfields if sub not in shape.value_keys)
    return shape.subfields + tuple(sub for sub in described if sub not in shape.subfields)


def _column_base(
    field: _Described, subfields: tuple[str, ...], reserved: set[str], taken: set[str]
) -> tuple[str, Collision | None]:
    """The main column name of a custom field, after the collision rules of the module docstring."""

    def columns(base: str) -> list[str]:
        return [base, *(_normalize(f"{base}_{sub}") for sub in subfields)]

    collision: Collision | None = None
    try:
        base = _normalize(field.name)
    except ValueError:
        base, collision = _normalize(f"custom_field_{field.code[:_SUFFIX_LENGTH]}"), "unnamed"
    if any(column in reserved for column in columns(base)):
        base, collision = _normalize(f"{base}_custom"), "built-in column"
    if any(column in taken for column in columns(base)):
        for candidate in _suffixed(base, field.code):
            if not any(column in taken for column in columns(candidate)):
                break
        base, collision = candidate, collision or "another custom field"
    return base, collision


def _suffixed(base: str, code: str) -> Iterator[str]:
    """`<base>_<code prefix>` candidates, the prefix growing from 6 characters."""
    for length in range(_SUFFIX_LENGTH, len(code), 2):
        yield _normalize(f"{base}_{code[:length]}")
    yield _normalize(f"{base}_{code}")
    for number in itertools.count(2):
        yield _normalize(f"{base}_{code}_{number}")


def _as_is(value: Any) -> Any:
    return value


def _blank_to_none(value: Any) -> Any:
    # v1 sends "" for some empty non-text values; dlt could not coerce it into a number or a date.
    return None if value == "" else value


def _value_converter(
    kind: ValueKind, options: tuple[tuple[Any, str], ...], main_type: TDataType | None
) -> _Convert:
    if kind == "option":
        return _option_label(_labels(options))
    if kind == "options":
        return _option_labels(_labels(options))
    if kind == "reference":
        return _reference_id
    return _as_is if main_type in (None, "text", "json") else _blank_to_none


def _labels(options: tuple[tuple[Any, str], ...]) -> dict[Any, str]:
    # v2 sends option ids as numbers, v1 as text ("190", or "190,191" for a set): look up both.
    labels: dict[Any, str] = {}
    for option_id, label in options:
        labels[option_id] = label
        labels[str(option_id)] = label
    return labels


def _label(labels: dict[Any, str], option: Any) -> str:
    if option.__class__ is dict:
        # `include_option_labels=true` gives {"id": 1, "label": "Low"} instead of the id.
        label = labels.get(option.get("id"))
        return label if label is not None else str(option.get("label", option.get("id")))
    if option.__class__ is str:
        option = option.strip()
    label = labels.get(option)
    return label if label is not None else str(option)


def _option_label(labels: dict[Any, str]) -> _Convert:
    def convert(value: Any) -> Any:
        if value is None or value == "":
            return None
        return _label(labels, value)

    return convert


def _option_labels(labels: dict[Any, str]) -> _Convert:
    def convert(value: Any) -> Any:
        if value is None or value == "":
            return None
        if value.__class__ is str:
            return [_label(labels, option) for option in value.split(",")]
        if isinstance(value, list):
            return [_label(labels, option) for option in value]
        return [_label(labels, value)]

    return convert


def _reference_id(value: Any) -> Any:
    if value.__class__ is dict:
        # v1 expands a referenced person, organization or user into an object holding its id in `value`.
        return value.get("value", value.get("id"))
    return None if value == "" else value


def _scalar_writer(column: str, convert: _Convert, keep_null: bool = True) -> _Write:
    """A function writing one value into one column of a record."""
    if keep_null:

        def write(record: dict[str, Any], value: Any) -> None:
            record[column] = convert(value)

        return write

    def write_unless_null(record: dict[str, Any], value: Any) -> None:
        converted = convert(value)
        if converted is not None:
            record[column] = converted

    return write_unless_null


def _composite_writer(
    column: str, convert: _Convert, parts: tuple[tuple[str, str, _Convert], ...], value_keys: tuple[str, ...]
) -> _Write:
    """A function writing one v2 object value (monetary, range, time, address) into the field's columns."""

    def write_composite(record: dict[str, Any], value: Any) -> None:
        if value.__class__ is dict:
            main = None
            for key in value_keys:
                if key in value:
                    main = value[key]
                    break
            record[column] = convert(main)
            for sub, sub_column, sub_convert in parts:
                record[sub_column] = sub_convert(value.get(sub))
        else:
            record[column] = convert(value)
            for _, sub_column, _ in parts:
                record[sub_column] = None

    return write_composite
