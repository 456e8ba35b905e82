"""Derive the column types of the Pipedrive tables from the OpenAPI specs and write them to `column_types.py`.

One-off generator: the package must not read the specs at run time, so their facts live in
`pipedrive_source/column_types.py`, between its `BEGIN GENERATED` and `END GENERATED` lines, which this script
rewrites. Run it from the repository root after updating `tests/data/openapi-*.yaml`:

    .venv/bin/python tools/generate_column_types.py          # rewrite the tables
    .venv/bin/python tools/generate_column_types.py --check  # exit 1 if they are out of date

How a column's type is decided, first rule that applies:
1. a known money column (`MONEY_COLUMNS`, `NESTED_MONEY_COLUMNS`) is `decimal`;
2. `format: date-time` is `timestamp`, `format: date` is `date`;
3. the spec's example value: RFC3339 or `YYYY-MM-DD HH:MM:SS` text is `timestamp`, `YYYY-MM-DD` is `date`;
4. a description saying `Format: YYYY-MM-DD HH:MM:SS` is `timestamp` (v1 users), and so is a text without an
   example value described as a "date and time" (filters' `last_used_time`, projects' `archive_time`);
5. `type: boolean` or a boolean example is `bool`;
6. `type: integer` (unless the example contradicts it) or an integer example is `bigint`.
Anything else (texts, times of day such as `due_time`, durations, nested objects) gets no hint.

The specs leave some list columns out of the item schema but put them in the example (deals' `archive_time`,
`local_won_date`, ...), and document optional columns only as `include_fields` values: both are included, the
latter typed by name (`*_time` timestamp, `*_count` and `*_id` bigint).

An object column (leads' `value`, goals' `duration`) lands as one column per key, `<column>__<key>`, as the
source's Arrow pages flatten it: those keys are typed by the same rules. `format: uuid` texts (leads' ids) are
`text`, so that an all-null page cannot make them anything else.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECS = {"v1": ROOT / "tests/data/openapi-v1.yaml", "v2": ROOT / "tests/data/openapi-v2.yaml"}
TARGET = ROOT / "pipedrive_source/column_types.py"
BEGIN = "# BEGIN GENERATED"
END = "# END GENERATED"

ENTITIES: dict[str, tuple[str, str]] = {
    "deals": ("v2", "/deals"),
    "persons": ("v2", "/persons"),
    "organizations": ("v2", "/organizations"),
    "activities": ("v2", "/activities"),
    "products": ("v2", "/products"),
    "pipelines": ("v2", "/pipelines"),
    "stages": ("v2", "/stages"),
    "notes": ("v1", "/notes"),
    "users": ("v1", "/users"),
    "leads": ("v1", "/leads"),
    "lead_labels": ("v1", "/leadLabels"),
    "lead_sources": ("v1", "/leadSources"),
    "files": ("v1", "/files"),
    "filters": ("v1", "/filters"),
    "activity_types": ("v1", "/activityTypes"),
    "currencies": ("v1", "/currencies"),
    "goals": ("v1", "/goals/find"),
    "call_logs": ("v1", "/callLogs"),
    "roles": ("v1", "/roles"),
    "permission_sets": ("v1", "/permissionSets"),
    "projects": ("v2", "/projects"),
    "tasks": ("v2", "/tasks"),
    "mail_threads": ("v1", "/mailbox/mailThreads"),
    "deal_fields": ("v2", "/dealFields"),
    "person_fields": ("v2", "/personFields"),
    "organization_fields": ("v2", "/organizationFields"),
    "activity_fields": ("v2", "/activityFields"),
    "product_fields": ("v2", "/productFields"),
    "project_fields": ("v2", "/projectFields"),
    "note_fields": ("v1", "/noteFields"),
    "lead_fields": ("v1", "/leadFields"),
}
"""Table name -> (API version, list path in that spec)."""

DATA_KEYS: dict[str, str] = {"goals": "goals"}
"""Tables whose list sits one level down in `data` (`/v1/goals/find` answers `{"data": {"goals": [...]}}`)."""

MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "deals": ("value", "acv", "arr", "mrr"),
    "organizations": ("annual_revenue",),
    "leads": ("value__amount",),
    # the spec says integer, but a `sum` goal's target is an amount of money
    "goals": ("expected_outcome__target",),
}
NESTED_MONEY_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "products": {"prices": ("price", "cost", "direct_cost")},
}

NESTED_SEPARATOR = "__"
"""How dlt (and the source's Arrow pages) name the keys of an object column."""

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_V1_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NO_EXAMPLE = object()


def load_specs() -> dict[str, dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return {
        version: yaml.load(path.read_text(encoding="utf-8"), Loader=loader) for version, path in SPECS.items()
    }


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Inline `$ref` and merge `allOf`/`oneOf`/`anyOf` members into one object schema."""
    if not schema:
        return {}
    if "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return _resolve(spec, node)
    for combinator in ("allOf", "oneOf", "anyOf"):
        if combinator in schema:
            merged: dict[str, Any] = {"type": "object", "properties": {}}
            for member in schema[combinator]:
                merged["properties"].update(_resolve(spec, member).get("properties", {}))
            return merged
    return dict(schema)


def _list_operation(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    return spec["paths"][path]["get"]


def _item_schema_and_example(
    spec: Mapping[str, Any], path: str, data_key: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    content = _list_operation(spec, path)["responses"]["200"]["content"]["application/json"]
    envelope = _resolve(spec, content["schema"])
    data = _resolve(spec, envelope["properties"]["data"])
    example = content.get("example") or envelope.get("example") or {}
    rows = example.get("data") or [{}]
    if data_key is not None:
        data = _resolve(spec, data["properties"][data_key])
        rows = (rows if isinstance(rows, dict) else {}).get(data_key) or [{}]
    item = _resolve(spec, data["items"]) if "items" in data else data
    return item, (rows[0] if isinstance(rows, list) else rows)


def _include_fields(spec: Mapping[str, Any], path: str) -> list[str]:
    for parameter in _list_operation(spec, path).get("parameters", []):
        if parameter.get("name") == "include_fields":
            return list(parameter.get("schema", {}).get("enum", []))
    return []


def classify(schema: Mapping[str, Any], example: Any = _NO_EXAMPLE) -> str | None:
    """The dlt type of one column from its schema and example value, or None to leave it to inference."""
    fmt, kind = schema.get("format"), schema.get("type")
    if fmt == "uuid":
        return "text"
    if fmt == "date-time":
        return "timestamp"
    if fmt == "date":
        return "date"
    if isinstance(example, str):
        if _RFC3339.match(example) or _V1_TIMESTAMP.match(example):
            return "timestamp"
        if _DATE.match(example):
            return "date"
    description = str(schema.get("description", ""))
    if "Format: YYYY-MM-DD HH:MM:SS" in description:
        return "timestamp"
    if kind == "string" and example in (None, _NO_EXAMPLE) and "date and time" in description.lower():
        return "timestamp"
    if kind == "boolean" or isinstance(example, bool):
        return "bool"
    example_is_int = isinstance(example, int) and not isinstance(example, bool)
    if kind == "integer" and (example is _NO_EXAMPLE or example is None or example_is_int):
        return "bigint"
    if example_is_int and kind in (None, "object"):
        return "bigint"
    return None


def _classify_by_name(name: str) -> str | None:
    if name.endswith("_time"):
        return "timestamp"
    if name.endswith(("_count", "_id")):
        return "bigint"
    return None


def _columns(
    properties: Mapping[str, Any], example: Mapping[str, Any]
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for name, schema in properties.items():
        yield name, schema, example.get(name, _NO_EXAMPLE)
    for name, value in example.items():
        if name not in properties:
            yield name, {}, value


def derive(specs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Everything the generated block holds, derived from the specs."""
    versions: dict[str, str] = {}
    types: dict[str, dict[str, str]] = {}
    nested: dict[str, dict[str, dict[str, str]]] = {}
    builtins: dict[str, list[str]] = {}
    for entity, (version, path) in ENTITIES.items():
        spec = specs[version]
        item, example = _item_schema_and_example(spec, path, DATA_KEYS.get(entity))
        properties = item.get("properties", {})
        columns: dict[str, str] = {}
        nested_columns: dict[str, dict[str, str]] = {}
        names: list[str] = []
        for name, raw_schema, value in _columns(properties, example):
            names.append(name)
            schema = _resolve(spec, raw_schema)
            if schema.get("type") == "array" or isinstance(value, list):
                child = _nested_columns(spec, schema, value)
                if child:
                    nested_columns[name] = child
                continue
            if schema.get("properties") or isinstance(value, dict):
                columns.update(_object_columns(spec, name, schema, value))
                continue
            data_type = classify(schema, value)
            if data_type:
                columns[name] = data_type
        for name in _include_fields(spec, path):
            if name not in names:
                names.append(name)
                data_type = _classify_by_name(name)
                if data_type:
                    columns[name] = data_type
        for name in MONEY_COLUMNS.get(entity, ()):
            parent, _, key = name.partition(NESTED_SEPARATOR)
            if name not in names and key not in _resolve(spec, properties.get(parent)).get("properties", {}):
                raise SystemExit(f"money column {entity}.{name} is not in the {version} spec any more")
            columns[name] = "decimal"
        for path_name, money in NESTED_MONEY_COLUMNS.get(entity, {}).items():
            for name in money:
                if name not in nested_columns.get(path_name, {}) and name not in _nested_names(
                    spec, properties, path_name
                ):
                    raise SystemExit(
                        f"money column {entity}.{path_name}.{name} is not in the {version} spec any more"
                    )
                nested_columns.setdefault(path_name, {})[name] = "decimal"
        versions[entity] = version
        types[entity] = columns
        if nested_columns:
            nested[entity] = nested_columns
        builtins[entity] = names
    return {"versions": versions, "types": types, "nested": nested, "builtins": builtins}


def _object_columns(
    spec: Mapping[str, Any], name: str, schema: Mapping[str, Any], value: Any
) -> dict[str, str]:
    """The typed `<name>__<key>` columns of an object column, its nested objects flattened in turn."""
    example = value if isinstance(value, dict) else {}
    columns: dict[str, str] = {}
    for key, raw_schema, key_value in _columns(schema.get("properties", {}), example):
        column = f"{name}{NESTED_SEPARATOR}{key}"
        key_schema = _resolve(spec, raw_schema)
        if key_schema.get("type") == "array" or isinstance(key_value, list):
            continue
        if key_schema.get("properties") or isinstance(key_value, dict):
            columns.update(_object_columns(spec, column, key_schema, key_value))
            continue
        data_type = classify(key_schema, key_value)
        if data_type:
            columns[column] = data_type
    return columns


def _nested_names(spec: Mapping[str, Any], properties: Mapping[str, Any], name: str) -> set[str]:
    items = _resolve(spec, _resolve(spec, properties.get(name, {})).get("items"))
    return set(items.get("properties", {}))


def _nested_columns(spec: Mapping[str, Any], schema: Mapping[str, Any], value: Any) -> dict[str, str]:
    items = _resolve(spec, schema.get("items"))
    first = value[0] if isinstance(value, list) and value else _NO_EXAMPLE
    if items.get("type") == "object" or items.get("properties") or isinstance(first, dict):
        example = first if isinstance(first, dict) else {}
        columns = {}
        for name, raw_schema, item_value in _columns(items.get("properties", {}), example):
            data_type = classify(_resolve(spec, raw_schema), item_value)
            if data_type:
                columns[name] = data_type
        return columns
    # dlt stores a list of scalars as a child table with one `value` column.
    data_type = classify(items, first)
    return {"value": data_type} if data_type else {}


def render(derived: Mapping[str, Any]) -> str:
    """The generated block, formatted as `ruff format` leaves it."""
    lines = [
        f"{BEGIN} by tools/generate_column_types.py from tests/data/openapi-*.yaml: do not edit by hand",
        'API_VERSIONS: dict[str, Literal["v1", "v2"]] = {',
        *(f'    "{entity}": "{version}",' for entity, version in derived["versions"].items()),
        "}",
        "COLUMN_TYPES: dict[str, dict[str, TDataType]] = {",
    ]
    for entity, columns in derived["types"].items():
        if not columns:
            lines.append(f'    "{entity}": {{}},')
            continue
        lines.append(f'    "{entity}": {{')
        lines.extend(f'        "{name}": "{data_type}",' for name, data_type in columns.items())
        lines.append("    },")
    lines += ["}", "NESTED_COLUMN_TYPES: dict[str, dict[str, dict[str, TDataType]]] = {"]
    for entity, paths in derived["nested"].items():
        lines.append(f'    "{entity}": {{')
        for path, columns in paths.items():
            lines.append(f'        "{path}": {{')
            lines.extend(f'            "{name}": "{data_type}",' for name, data_type in columns.items())
            lines.append("        },")
        lines.append("    },")
    lines += ["}", "BUILTIN_COLUMNS: dict[str, tuple[str, ...]] = {"]
    for entity, names in derived["builtins"].items():
        if len(names) == 1:
            # as `ruff format` writes a one-item tuple
            lines.append(f'    "{entity}": ("{names[0]}",),')
            continue
        lines.append(f'    "{entity}": (')
        lines.extend(f'        "{name}",' for name in names)
        lines.append("    ),")
    lines += ["}", END]
    return "\n".join(lines) + "\n"


def replace_block(source: str, block: str) -> str:
    start = source.index(BEGIN)
    end = source.index(END, start)
    end = source.index("\n", end) + 1
    return source[:start] + block + source[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if column_types.py is out of date")
    args = parser.parse_args(argv)
    current = TARGET.read_text(encoding="utf-8")
    updated = replace_block(current, render(derive(load_specs())))
    if args.check:
        if updated != current:
            print(
                f"{TARGET.relative_to(ROOT)} is out of date: run tools/generate_column_types.py",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
