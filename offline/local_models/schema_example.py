"""A deterministic value valid for a JSON schema: `offline-echo`'s tool-call arguments and structured outputs.

Covers what tool `parameters` and `response_format` schemas use: types (also as lists), enum, const, nested objects
and arrays, local `$ref`s (`#/$defs/...`, `#/definitions/...`), anyOf/oneOf (the first branch), allOf (merged),
numeric bounds and multipleOf, string lengths and common formats, item counts. `pattern` is not solved: a string
with a pattern gets the same text as one without.
"""

from __future__ import annotations

import math
from typing import Any

# Optional properties are filled near the top only, so a recursive schema ends.
OPTIONAL_DEPTH = 3
MAX_DEPTH = 12
# A schema is client input: one asking for a billion items, or fanning out at every level, must be refused rather
# than take the runtime's memory and time.
MAX_ITEMS = 256
MAX_STRING = 65_536
MAX_NODES = 10_000


class SchemaTooLarge(ValueError):
    """The schema asks for an example larger than the offline model makes."""


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example(schema: Any, name: str = "value") -> Any:
    return _Generator(schema).value(schema, name, 0)


class _Generator:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.nodes = 0

    def value(self, schema: Any, name: str, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SchemaTooLarge(f"the schema needs an example of more than {MAX_NODES} values")
        if schema is True or not isinstance(schema, dict):
            return name  # anything is valid
        if depth > MAX_DEPTH:
            # Only required properties and non-empty arrays go this deep: a schema with no finite instance.
            raise SchemaTooLarge(f"the schema requires values nested deeper than {MAX_DEPTH} levels")
        if "$ref" in schema:
            target = self._resolve(str(schema["$ref"]))
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.value(_merge(target, rest) if rest else target, name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, dict) and "$ref" in part:
                    part = self._resolve(part["$ref"])
                merged = _merge(merged, part)
            return self.value(merged, name, depth + 1)
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                # A non-null branch says more than `null` does, for an optional field.
                useful = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
                chosen = (useful or branches)[0]
                rest = {k: v for k, v in schema.items() if k != key}
                return self.value(_merge(rest, chosen) if isinstance(chosen, dict) else chosen, name, depth + 1)
        kind = _type(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind in ("number", "integer"):
            return _number(schema, kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(schema, name)

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}  # a remote schema cannot be fetched; anything goes
        node = self.root
        for token in ref[1:].split("/"):
            if not token:
                continue
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return {}
        return node

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        out: dict[str, Any] = {}
        for key, sub in properties.items():
            if key in required or depth < OPTIONAL_DEPTH:
                out[key] = self.value(sub, key, depth + 1)
        extra = schema.get("additionalProperties")
        for key in required:
            if key not in out:
                out[key] = self.value(extra if isinstance(extra, dict) else {"type": "string"}, key, depth + 1)
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if prefix is None and isinstance(schema.get("items"), list):  # draft 4-7 tuple form
            prefix = schema["items"]
        items = schema.get("items") if isinstance(schema.get("items"), dict | bool) else {}
        # One item shows the shape near the top; deeper, an array is left empty where the schema allows it, so a
        # recursive schema ends.
        low = max(int(schema.get("minItems", 0)), 1 if depth < OPTIONAL_DEPTH else 0)
        if low > MAX_ITEMS:
            raise SchemaTooLarge(f"minItems {low} is above the {MAX_ITEMS} items the offline model makes")
        high = schema.get("maxItems")
        count = min(low, int(high)) if isinstance(high, int) else low
        if isinstance(prefix, list):
            count = max(count, len(prefix)) if not isinstance(high, int) else min(max(count, len(prefix)), int(high))
        out = []
        for i in range(count):
            sub = prefix[i] if isinstance(prefix, list) and i < len(prefix) else items
            value = self.value(sub, name, depth + 1)
            if schema.get("uniqueItems") and value in out and isinstance(value, str):
                value = f"{value} {i + 1}"
            out.append(value)
        return out


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if isinstance(k, str)]
        kind = next((k for k in kinds if k != "null"), kinds[0] if kinds else None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _merge(a: Any, b: Any) -> dict[str, Any]:
    """allOf as one schema: properties and required lists are united, other keywords taken from the later."""
    a = a if isinstance(a, dict) else {}
    b = b if isinstance(b, dict) else {}
    out = {**a, **b}
    if "properties" in a or "properties" in b:
        out["properties"] = {**(a.get("properties") or {}), **(b.get("properties") or {})}
    if "required" in a or "required" in b:
        out["required"] = list(dict.fromkeys([*(a.get("required") or []), *(b.get("required") or [])]))
    return out


def _string(schema: dict[str, Any], name: str) -> str:
    text = _FORMATS.get(str(schema.get("format")), f"example {name}")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and low > MAX_STRING:
        raise SchemaTooLarge(f"minLength {low} is above the {MAX_STRING} characters the offline model makes")
    if isinstance(low, int) and len(text) < low:
        text += "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_ex, high_ex = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    # Draft 4 writes exclusiveMinimum as a flag on minimum; later drafts as a bound of its own.
    if low_ex is True:
        low_ex, low = low, None
    if high_ex is True:
        high_ex, high = high, None
    low_ex = low_ex if isinstance(low_ex, int | float) and not isinstance(low_ex, bool) else None
    high_ex = high_ex if isinstance(high_ex, int | float) and not isinstance(high_ex, bool) else None
    step = schema.get("multipleOf")
    step = step if isinstance(step, int | float) and not isinstance(step, bool) and step > 0 else None

    def fits(v: float) -> bool:
        return (
            (low is None or v >= low)
            and (high is None or v <= high)
            and (low_ex is None or v > low_ex)
            and (high_ex is None or v < high_ex)
            and (step is None or math.isclose(v / step, round(v / step), abs_tol=1e-9))
            and (not integer or float(v).is_integer())
        )

    floor = next((b for b in (low, low_ex) if b is not None), None)
    ceiling = next((b for b in (high, high_ex) if b is not None), None)
    candidates: list[float] = [0, 1]
    if floor is not None:
        candidates = [floor, floor + 1, math.floor(floor) + 1, floor + 0.5, *candidates]
    if ceiling is not None:
        candidates += [ceiling, ceiling - 1, math.ceil(ceiling) - 1, ceiling - 0.5]
    if floor is not None and ceiling is not None:
        candidates.insert(0, (floor + ceiling) / 2)
        candidates.insert(0, math.floor((floor + ceiling) / 2))
    if step is not None:
        start = math.ceil((floor if floor is not None else 0) / step)
        candidates = [(start + i) * step for i in range(3)] + candidates
    for v in candidates:
        if fits(v):
            return int(v) if integer or float(v).is_integer() else v
    return int(floor) if integer and floor is not None else (floor if floor is not None else 0)
