"""Validate response bodies against Pipedrive's official OpenAPI specs.

The specs are the copies in `tests/data/openapi-v1.yaml` and `tests/data/openapi-v2.yaml` (see
`tests/data/PROVENANCE.md`). Each is parsed once per process and every response schema is translated from
OpenAPI 3.0 to a JSON Schema (draft 2020-12) validator on first use.

The specs are stricter than the live API in exactly two known ways, and this module tolerates those two and
nothing else:

1. Properties the spec marks non-nullable come back null (`next_cursor` on the last page, `won_time` of an
   open deal, ...): every object property also accepts null.
2. API v1 sends `date-time` values as `YYYY-MM-DD HH:MM:SS` (UTC) instead of RFC 3339: the v1 `date-time`
   format accepts both.

Formats `date`, `date-time` and `uuid` are checked (jsonschema checks no format by default).

An error response whose status the operation does not document (most operations document none) is
validated against Pipedrive's error envelope as the v1 spec defines it for `/callLogs` (`success`, `error`,
`error_info`, `data`, `additional_data`), made a little stricter with what every observed error body has:
`success` is false and `error` is present.

Usage::

    from tests.openapi_schemas import assert_matches_spec

    assert_matches_spec("v2", "get", "/deals", 200, response.json())
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DATA_DIR = Path(__file__).parent / "data"
SPEC_FILES = {"v1": DATA_DIR / "openapi-v1.yaml", "v2": DATA_DIR / "openapi-v2.yaml"}

# OpenAPI keywords with no JSON Schema meaning; `example` in particular holds arbitrary payloads that must
# not be walked as schemas.
_ANNOTATIONS = {
    "example",
    "examples",
    "description",
    "title",
    "deprecated",
    "readOnly",
    "writeOnly",
    "xml",
    "externalDocs",
    "discriminator",
    "nullable",
}
_SUBSCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_SUBSCHEMA = ("items", "not")
_CHECKED_FORMATS = ("date", "date-time", "uuid")
_MAX_REPORTED_ERRORS = 15

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_V1_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The one error envelope the v1 spec documents (`POST /callLogs` 400/404/500, `DELETE /callLogs/{id}` 410).
_ERROR_ENVELOPE_SOURCE = ("v1", "post", "/callLogs", "404")


class SpecLookupError(KeyError):
    """The spec has no such path, method or response."""


@functools.cache
def load_spec(version: str) -> dict[str, Any]:
    """Parse the official spec of `version` ("v1" or "v2") once per process."""
    with SPEC_FILES[version].open("rb") as spec_file:
        return yaml.load(spec_file, Loader=yaml.CSafeLoader)


@functools.cache
def _registry(version: str) -> Registry:
    return Registry().with_resource(
        f"urn:pipedrive-openapi-{version}",
        Resource.from_contents(load_spec(version), default_specification=DRAFT202012),
    )


def _resolve_ref(version: str, ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise SpecLookupError(f"only local $refs are supported, got {ref!r}")
    resolved = _registry(version).resolver(f"urn:pipedrive-openapi-{version}").lookup(ref)
    return resolved.contents


def _with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Return `schema` widened so that null also validates (OpenAPI `nullable` and tolerance 1)."""
    if "type" in schema:
        widened = dict(schema)
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            widened["type"] = [*types, "null"]
        if "enum" in schema and None not in schema["enum"]:
            widened["enum"] = [*schema["enum"], None]
        if "allOf" in schema:
            widened["allOf"] = [_with_null(member) for member in schema["allOf"]]
        return widened
    if any(keyword in schema for keyword in (*_SUBSCHEMA_LISTS, "enum", "not", "$ref")):
        return {"anyOf": [{"type": "null"}, schema]}
    return schema


def to_json_schema(version: str, schema: Any, _seen: tuple[str, ...] = ()) -> Any:
    """Translate an OpenAPI 3.0 schema object into JSON Schema, with `$ref`s resolved inline.

    Every object property accepts null (tolerance 1); explicit `nullable: true` is honoured anywhere.
    """
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in _seen:
            raise SpecLookupError(f"recursive $ref {ref!r} is not supported")
        return to_json_schema(version, _resolve_ref(version, ref), (*_seen, ref))
    converted: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS or keyword.startswith("x-"):
            continue
        if keyword == "properties":
            converted[keyword] = {
                name: _with_null(to_json_schema(version, sub, _seen)) for name, sub in value.items()
            }
        elif keyword in _SUBSCHEMA_LISTS:
            converted[keyword] = [to_json_schema(version, sub, _seen) for sub in value]
        elif keyword in _SUBSCHEMA or (keyword == "additionalProperties" and isinstance(value, dict)):
            converted[keyword] = to_json_schema(version, value, _seen)
        elif keyword == "format" and value not in _CHECKED_FORMATS:
            continue
        else:
            converted[keyword] = value
    if schema.get("nullable") is True:
        converted = _with_null(converted)
    return converted


def _operation(version: str, method: str, path_template: str) -> dict[str, Any]:
    paths = load_spec(version)["paths"]
    if path_template not in paths:
        raise SpecLookupError(f"{version} spec has no path {path_template!r}")
    operation = paths[path_template].get(method.lower())
    if operation is None:
        raise SpecLookupError(f"{version} spec has no {method.upper()} {path_template}")
    return operation


def _documented_schema(version: str, method: str, path_template: str, status: str) -> dict[str, Any]:
    responses = _operation(version, method, path_template)["responses"]
    response = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
    if response is None:
        raise SpecLookupError(
            f"{version} spec documents no {status} response for {method.upper()} {path_template} "
            f"(documented: {sorted(responses)})"
        )
    if "$ref" in response:
        response = _resolve_ref(version, response["$ref"])
    content = response.get("content") or {}
    if "application/json" not in content:
        raise SpecLookupError(
            f"{version} {method.upper()} {path_template} {status} has no application/json body"
        )
    return content["application/json"]["schema"]


@functools.cache
def _error_envelope() -> dict[str, Any]:
    schema = copy.deepcopy(
        to_json_schema(_ERROR_ENVELOPE_SOURCE[0], _documented_schema(*_ERROR_ENVELOPE_SOURCE))
    )
    schema["properties"]["success"] = {"const": False}
    schema["required"] = ["success", "error"]
    return schema


@functools.cache
def _response_schema(version: str, method: str, path_template: str, status: str) -> dict[str, Any]:
    try:
        return to_json_schema(version, _documented_schema(version, method.lower(), path_template, status))
    except SpecLookupError:
        if int(status) >= 400:
            return _error_envelope()
        raise


def response_schema(version: str, method: str, path_template: str, status: int | str) -> dict[str, Any]:
    """The JSON Schema of a response body, as the official spec documents it.

    Args:
        version: "v1" or "v2".
        method: HTTP method, any case.
        path_template: the spec's path, relative to the API version, e.g. "/deals/{id}".
        status: the HTTP status of the response.

    Returns:
        A draft 2020-12 JSON Schema; for an error status the operation does not document, Pipedrive's error
        envelope.

    Raises:
        SpecLookupError: the spec has no such path or operation, or no such success response.
    """
    return _response_schema(version, method.lower(), path_template, str(status))


def _is_datetime(value: object, *, v1_style_allowed: bool) -> bool:
    if not isinstance(value, str):
        return True
    if v1_style_allowed and _V1_DATETIME.match(value):
        text = value.replace(" ", "T") + "+00:00"
    elif _RFC3339.match(value):
        text = value.upper().replace("Z", "+00:00")
    else:
        return False
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@functools.cache
def format_checker(version: str) -> FormatChecker:
    """The formats checked in `version`'s responses; v1 date-times may be `YYYY-MM-DD HH:MM:SS`."""
    checker = FormatChecker(formats=())
    checker.checks("date-time")(functools.partial(_is_datetime, v1_style_allowed=version == "v1"))
    checker.checks("date")(_is_date)
    checker.checks("uuid")(_is_uuid)
    return checker


@functools.cache
def _validator(version: str, method: str, path_template: str, status: str) -> Draft202012Validator:
    schema = _response_schema(version, method, path_template, status)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker(version))


def _location(error: ValidationError) -> str:
    location = "$"
    for part in error.absolute_path:
        location += f"[{part}]" if isinstance(part, int) else f".{part}"
    return location


def _describe(error: ValidationError) -> Iterator[str]:
    # For oneOf/anyOf failures the useful message is in the branch errors, not in "is not valid under any".
    if error.context:
        yield f"{_location(error)}: {error.message}"
        for branch_error in sorted(error.context, key=lambda e: e.relative_schema_path)[:3]:
            yield (
                f"    branch {list(branch_error.relative_schema_path)[:2]}: {_location(branch_error)}: "
                f"{branch_error.message}"
            )
    else:
        yield f"{_location(error)}: {error.message}"


def spec_errors(version: str, method: str, path_template: str, status: int | str, body: Any) -> list[str]:
    """Readable descriptions of every way `body` violates the spec; empty when it conforms."""
    validator = _validator(version, method.lower(), path_template, str(status))
    errors = sorted(validator.iter_errors(body), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [line for error in errors for line in _describe(error)]


def assert_matches_spec(version: str, method: str, path_template: str, status: int | str, body: Any) -> None:
    """Fail with a readable message unless `body` matches the spec's schema of that response.

    Raises:
        AssertionError: listing the first violations, each with its JSON location in the body.
        SpecLookupError: the spec has no such path or operation, or no such success response.
    """
    problems = spec_errors(version, method, path_template, status, body)
    if problems:
        shown = "\n  ".join(problems[:_MAX_REPORTED_ERRORS])
        more = len(problems) - _MAX_REPORTED_ERRORS
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        raise AssertionError(
            f"{version} {method.upper()} {path_template} {status}: body does not match the official spec "
            f"({len(problems)} problem(s)):\n  {shown}{suffix}"
        )
