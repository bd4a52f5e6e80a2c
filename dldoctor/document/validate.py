"""Validate a report read back (untrusted input) against the shipped schema; first error, one line.

The subset of JSON Schema (2020-12) our schemas use, so that `--from` needs no jsonschema (and
its compiled dependencies) in someone's training environment. The tests check that it agrees
with the jsonschema library on valid and broken reports.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


class Invalid(ValueError):
    """The first place where a document breaks its schema."""


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def _same(value: Any, wanted: Any) -> bool:
    """JSON equality: false is not 0, and 1 is not true (Python's == says they are)."""
    return isinstance(value, bool) == isinstance(wanted, bool) and value == wanted


def _where(path: list[str]) -> str:
    text = ""
    for part in path:
        text += part if part.startswith("[") else (f".{part}" if text else part)
    return text or "(top level)"


class Validator:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema

    def validate(self, document: Any) -> None:
        """Raise Invalid naming the first broken place."""
        self._check(document, self.root, [], self.root)

    def errors(self, document: Any) -> str | None:
        try:
            self.validate(document)
        except Invalid as why:
            return str(why)
        return None

    def _resolve(self, ref: str, scope: dict[str, Any]) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise Invalid(f"schema reference {ref!r} is not supported")
        node: Any = scope
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def _check(
        self, value: Any, schema: dict[str, Any], path: list[str], scope: dict[str, Any]
    ) -> None:
        if "$id" in schema and schema is not self.root:
            scope = schema  # references inside a part resolve against the part
        if "$ref" in schema:
            self._check(value, self._resolve(schema["$ref"], scope), path, scope)
        where = _where(path)
        kinds = schema.get("type")
        if kinds is not None:
            names = kinds if isinstance(kinds, list) else [kinds]
            if not any(_is(value, n) for n in names):
                raise Invalid(f"{where}: expected {' or '.join(names)}, got {type(value).__name__}")
        if "const" in schema and not _same(value, schema["const"]):
            raise Invalid(f"{where}: must be {schema['const']!r}")
        if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
            raise Invalid(f"{where}: {value!r} is not one of {schema['enum']}")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                failures = [self._failure(value, s, path, scope) for s in schema[key]]
                passed = failures.count(None)
                if key == "oneOf" and passed > 1:
                    raise Invalid(f"{where}: matches more than one of the allowed shapes")
                if not passed:  # the first alternative is the intended shape: its error says most
                    raise Invalid(failures[0] or f"{where}: matches none of the allowed shapes")
        if isinstance(value, str):
            if len(value) < schema.get("minLength", 0):
                raise Invalid(f"{where}: must not be empty")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                raise Invalid(f"{where}: {value!r} does not match {schema['pattern']}")
        if _is(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                raise Invalid(f"{where}: {value} is below {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                raise Invalid(f"{where}: {value} is above {schema['maximum']}")
            if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
                raise Invalid(f"{where}: {value} must exceed {schema['exclusiveMinimum']}")
        if isinstance(value, dict):
            self._object(value, schema, path, scope)
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                raise Invalid(f"{where}: needs at least {schema['minItems']} item(s)")
            if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
                raise Invalid(f"{where}: items must be unique")
            if "items" in schema:
                for i, item in enumerate(value):
                    self._check(item, schema["items"], [*path, f"[{i}]"], scope)

    def _object(
        self, value: dict[str, Any], schema: dict[str, Any], path: list[str], scope: dict[str, Any]
    ) -> None:
        for key in schema.get("required", []):
            if key not in value:
                raise Invalid(f"{_where(path)}: missing '{key}'")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                self._check(item, properties[key], [*path, key], scope)
            elif extra is False:
                raise Invalid(f"{_where(path)}: unexpected '{key}'")
            elif isinstance(extra, dict):
                self._check(item, extra, [*path, key], scope)

    def _failure(
        self, value: Any, schema: dict[str, Any], path: list[str], scope: dict[str, Any]
    ) -> str | None:
        try:
            self._check(value, schema, path, scope)
        except Invalid as why:
            return str(why)
        return None
