"""Pages of API records as Arrow tables, typed by the column hints, for dlt's Arrow path.

dlt writes an Arrow table straight to a parquet file and DuckDB reads that file whole: no per-value JSON
normalization, no `insert_values` SQL. A `PageTables` turns one page of (already flattened) records into one
`pyarrow.Table`, column by column:

- a hinted column (`column_types.py`, custom field hints) gets the Arrow type of its dlt type
  (`ARROW_TYPES`): timestamps `timestamp[us, tz=UTC]`, dates `date32`, money `decimal128(38, 9)`, ids
  `int64`, flags `bool`. Timestamp and date texts are parsed by Arrow's casts, a column at a time; v1's
  `YYYY-MM-DD HH:MM:SS` (UTC without a zone) and v2's RFC 3339 both. A value Arrow cannot convert falls back
  to a per-value conversion; one that no conversion takes fails the run with the table, column and record.
- any other column (a field Pipedrive adds later, an untyped spec column) is inferred by Arrow, and keeps
  the type it first had in the run where a later page would infer another (an all-null page, ints then
  floats). Mixed values that Arrow cannot put in one type become texts.
- an object (`address`, v1's `user`) becomes one column per key, `<column>__<key>`, as dlt flattens
  nested objects; a hinted key column (leads' `value__amount`) is typed like any hinted column.
- a list (`emails`, `phones`, `label_ids`, the labels of a `set` custom field, ...) stays one column of
  Arrow list type, which dlt loads as a `json` column (DuckDB `JSON`): queryable in place (see the README),
  and replaced whole with its row on merge, an emptied list included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from itertools import chain
from operator import itemgetter
from types import MappingProxyType
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import TColumnSchema, TDataType

from pipedrive_source.column_types import parse_v1_timestamp

TIMESTAMP = pa.timestamp("us", tz="UTC")
NAIVE_TIMESTAMP = pa.timestamp("us")
DECIMAL = pa.decimal128(38, 9)
"""DuckDB's default decimal, the one dlt creates for a `decimal` hint without precision."""

ARROW_TYPES: Mapping[TDataType, pa.DataType] = MappingProxyType(
    {
        "bigint": pa.int64(),
        "bool": pa.bool_(),
        "double": pa.float64(),
        "decimal": DECIMAL,
        "text": pa.string(),
        "date": pa.date32(),
        "timestamp": TIMESTAMP,
        "time": pa.time64("us"),
    }
)
"""Arrow type of each dlt data type the hints use; `json` columns keep the list type Arrow infers."""

_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    OverflowError,
)
_ZERO_DATE = "0000-00-00"
NESTED_SEPARATOR = "__"

Converter = Callable[[Sequence[Any]], pa.Array]


class ValueConversionError(ValueError):
    """A value that no conversion turns into its column's type."""


def _is_blank(value: Any) -> bool:
    # v1 sends "" for some empty values and MySQL's zero date for "never"
    return value == "" or (value.__class__ is str and value.startswith(_ZERO_DATE))


def _first_value(values: Sequence[Any]) -> Any:
    return next((value for value in values if value is not None), None)


def _texts_without_blanks(values: Sequence[Any]) -> pa.Array:
    """The values as an Arrow string array, with `""` and zero dates as nulls."""
    text = pa.array(values, pa.string())
    blank = pc.or_(pc.equal(text, ""), pc.starts_with(text, _ZERO_DATE))
    if pc.any(blank).as_py():
        text = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    return text


def _per_value(convert: Callable[[Any], Any], arrow_type: pa.DataType) -> Converter:
    """A converter applying `convert` to each non-blank value, for what the vectorized path refuses."""

    def converted(values: Sequence[Any]) -> pa.Array:
        return pa.array(
            [None if value is None or _is_blank(value) else convert(value) for value in values], arrow_type
        )

    return converted


def _timestamps(values: Sequence[Any]) -> pa.Array:
    if _first_value(values).__class__ is not str:
        return pa.array(values, TIMESTAMP)
    text = _texts_without_blanks(values)
    try:
        return text.cast(TIMESTAMP)
    except pa.ArrowInvalid:
        # v1: UTC without a zone designator
        return text.cast(NAIVE_TIMESTAMP).cast(TIMESTAMP)


def _dates(values: Sequence[Any]) -> pa.Array:
    if _first_value(values).__class__ is not str:
        return pa.array(values, pa.date32())
    return _texts_without_blanks(values).cast(pa.date32())


def _cast_from_inferred(arrow_type: pa.DataType) -> Converter:
    """Arrow's own conversion, then Arrow's cast of what it inferred (`"12"` -> 12, `0` -> false, floats
    and numeric texts -> decimals)."""

    def converted(values: Sequence[Any]) -> pa.Array:
        try:
            return pa.array(values, arrow_type)
        except _CONVERSION_ERRORS:
            pass
        if _first_value(values).__class__ is str:
            return _texts_without_blanks(values).cast(arrow_type)
        return pa.array(values).cast(arrow_type)

    return converted


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _texts(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except _CONVERSION_ERRORS:
        return pa.array([None if value is None else _text(value) for value in values], pa.string())


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(value) if value.__class__ is str else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _time_of_day(value: Any) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _integer(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"not an integer: {value!r}")
    return int(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise ValueError(f"not a flag: {value!r}")
    return bool(value)


CONVERTERS: Mapping[TDataType, tuple[Converter, Converter]] = MappingProxyType(
    {
        "timestamp": (_timestamps, _per_value(parse_v1_timestamp, TIMESTAMP)),
        "date": (_dates, _per_value(_date, pa.date32())),
        "decimal": (_cast_from_inferred(DECIMAL), _per_value(_decimal, DECIMAL)),
        "bigint": (_cast_from_inferred(pa.int64()), _per_value(_integer, pa.int64())),
        "double": (_cast_from_inferred(pa.float64()), _per_value(float, pa.float64())),
        "bool": (_cast_from_inferred(pa.bool_()), _per_value(_flag, pa.bool_())),
        "time": (_per_value(_time_of_day, pa.time64("us")), _per_value(_time_of_day, pa.time64("us"))),
        "text": (_texts, _texts),
    }
)
"""For each hinted data type: the vectorized conversion, and the per-value one it falls back to."""


def _columns(records: list[dict[str, Any]]) -> Iterator[tuple[str, Sequence[Any]]]:
    """The records column by column: (name, values), names in order of appearance.

    A record missing some of the page's keys (an empty `set` field writes none) gets them as None.
    """
    names = dict.fromkeys(chain.from_iterable(records))
    width = len(names)
    for record in records:
        if len(record) != width:
            for name in names.keys() - record.keys():
                record[name] = None
    if width == 1:
        (name,) = names
        yield name, [record[name] for record in records]
        return
    # transposed in C: one tuple per record, then one tuple per column
    yield from zip(names, zip(*map(itemgetter(*names), records), strict=True), strict=True)


def concatenated(tables: Iterable[pa.Table], min_rows: int) -> Iterator[pa.Table]:
    """The tables joined into tables of at least `min_rows` rows (the last one may be smaller), in order.

    dlt computes and validates the table schema for every Arrow item it receives: fewer, larger items make
    that cost negligible. Columns missing from some tables are null there; a column typed `null` in one
    table takes the type it has in the others.
    """
    batch: list[pa.Table] = []
    rows = 0
    for table in tables:
        batch.append(table)
        rows += table.num_rows
        if rows >= min_rows:
            yield from _joined(batch)
            batch, rows = [], 0
    if batch:
        yield from _joined(batch)


def _joined(batch: list[pa.Table]) -> Iterator[pa.Table]:
    if len(batch) == 1:
        yield batch[0]
        return
    try:
        yield pa.concat_tables(batch, promote_options="permissive")
    except _CONVERSION_ERRORS:
        # types that do not unify (a list whose items changed shape): each table on its own
        yield from batch


class PageTables:
    """Turns pages of one table's records into Arrow tables typed by the table's column hints.

    One instance per table and run: it remembers the types it inferred for unhinted columns, so that every
    page of the run has the same column types.

    Args:
        table: the table name, for error messages.
        columns: dlt column hints by (normalized) column name; those with a `data_type` of `ARROW_TYPES`
            are typed, `json` ones and unhinted ones inferred.
        required: columns that are never null (the primary key): declared non-nullable, as dlt declares them.
    """

    def __init__(
        self, table: str, columns: Mapping[str, TColumnSchema], required: Iterable[str] = ()
    ) -> None:
        self.table = table
        self.required = frozenset(required)
        self._types: dict[str, TDataType] = {
            name: data_type
            for name, hint in columns.items()
            if (data_type := hint.get("data_type")) is not None and data_type in CONVERTERS
        }
        self._inferred: dict[str, pa.DataType] = {}

    def __call__(self, records: list[dict[str, Any]]) -> pa.Table:
        """One page of records, as a table of every typed hinted column (in the hints' order, null where
        the records lack it) and then the other columns the records hold (in order of appearance).

        Every page thus has the columns dlt's schema gives the table from its first page on, in the same
        order: dlt's normalize step then takes the extracted files as they are. A page lacking a hinted
        column (a count the API sends only on request, a custom field no record of the page has a value
        for) made it rewrite every file of the table: 0.25 s of a 20,000-deal load.
        """
        arrays: list[pa.Array] = []
        fields: list[pa.Field] = []
        for name, values in _columns(records):
            data_type = self._types.get(name)
            if data_type is not None:
                self._add(fields, arrays, name, self._typed(name, data_type, values, records))
            else:
                self._add_inferred(fields, arrays, name, self._inferred_array(name, values), records)
        return self._hinted_first(fields, arrays, len(records))

    def _hinted_first(self, fields: list[pa.Field], arrays: list[pa.Array], rows: int) -> pa.Table:
        held = {field.name: (field, array) for field, array in zip(fields, arrays, strict=True)}
        ordered_fields: list[pa.Field] = []
        ordered_arrays: list[pa.Array] = []
        for name, data_type in self._types.items():
            field, array = held.pop(name, (None, None))
            if field is None:
                arrow_type = ARROW_TYPES[data_type]
                field, array = pa.field(name, arrow_type), pa.nulls(rows, arrow_type)
            ordered_fields.append(field)
            ordered_arrays.append(array)
        for field, array in held.values():
            ordered_fields.append(field)
            ordered_arrays.append(array)
        return pa.Table.from_arrays(ordered_arrays, schema=pa.schema(ordered_fields))

    def _add(self, fields: list[pa.Field], arrays: list[pa.Array], name: str, array: pa.Array) -> None:
        nullable = name not in self.required or array.null_count > 0
        fields.append(pa.field(name, array.type, nullable=nullable))
        arrays.append(array)

    def _add_inferred(
        self,
        fields: list[pa.Field],
        arrays: list[pa.Array],
        name: str,
        array: pa.Array,
        records: list[dict[str, Any]],
    ) -> None:
        if pa.types.is_struct(array.type):
            # StructArray.flatten() nulls the children of a null object
            for field, child in zip(array.type, array.flatten(), strict=True):
                column = f"{name}{NESTED_SEPARATOR}{field.name}"
                data_type = self._types.get(column)
                if data_type is not None:
                    typed = self._typed(column, data_type, child.to_pylist(), records)
                    self._add(fields, arrays, column, typed)
                else:
                    self._add_inferred(fields, arrays, column, self._stable(column, child), records)
        else:
            # An all-null column of a type never seen stays in, typed `null`: dlt leaves it out of the
            # table, and the row keeps the keys the API sent (the incremental dedup hashes them).
            self._add(fields, arrays, name, array)

    def _typed(
        self, name: str, data_type: TDataType, values: Sequence[Any], records: list[dict[str, Any]]
    ) -> pa.Array:
        vectorized, per_value = CONVERTERS[data_type]
        try:
            return vectorized(values)
        except _CONVERSION_ERRORS:
            pass
        try:
            return per_value(values)
        except (*_CONVERSION_ERRORS, ValueError):
            pass
        # name the first value no conversion takes
        for record, value in zip(records, values, strict=True):
            try:
                per_value([value])
            except (*_CONVERSION_ERRORS, ValueError) as error:
                raise ValueConversionError(
                    f"{self.table}.{name} of record id={record.get('id')!r}: {value!r} is not a {data_type} "
                    f"({error})"
                ) from None
        raise ValueConversionError(f"{self.table}.{name}: the values do not convert to {data_type}")

    def _inferred_array(self, name: str, values: Sequence[Any]) -> pa.Array:
        try:
            array = pa.array(values)
        except _CONVERSION_ERRORS:
            array = pa.array([None if value is None else _text(value) for value in values], pa.string())
        return self._stable(name, array)

    def _stable(self, name: str, array: pa.Array) -> pa.Array:
        """The array in the type the column had on earlier pages of the run, where it converts without loss.

        An object column keeps its last shape: its keys are typed one by one as columns of their own.
        """
        known = self._inferred.get(name)
        if pa.types.is_null(array.type):
            return array if known is None else pa.nulls(len(array), known)
        if known is None or pa.types.is_struct(array.type):
            self._inferred[name] = array.type
            return array
        if known == array.type:
            return array
        try:
            return array.cast(known)
        except _CONVERSION_ERRORS:
            return array
