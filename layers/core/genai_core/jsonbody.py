"""Strict parsing of JSON request bodies: what any client may send must end in a 400, never a 500.

A body is one JSON object. Python's `json.loads` accepts `NaN`/`Infinity`, integers of any length, and recurses
once per nesting level. Each of those reached storage or the stack as a server error (DynamoDB's number limits,
`RecursionError`), so request
bodies are parsed here: standard JSON only, integers within 64 bits, finite floats, bounded nesting. Failures are
`json.JSONDecodeError`s with a message that says what to change (Powertools turns them into validation errors).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
MAX_INT = 2**63 - 1
_MAX_INT_DIGITS = len(str(MAX_INT)) + 1  # sign included: cheap length test before int()


class _Refused(ValueError):
    pass


def _parse_int(text: str) -> int:
    value = int(text) if len(text) <= _MAX_INT_DIGITS else None
    if value is None or not -MAX_INT - 1 <= value <= MAX_INT:
        shown = text if len(text) <= 24 else text[:20] + "…"
        raise _Refused(f"the number {shown} is out of range: integers must fit in 64 bits")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:24]} is out of range")
    return value


def _parse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON; send a number or null")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would silently lose one of its values: which one the sender meant is unknowable.
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [k for k, _ in pairs]
        repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _Refused(f"the key {repeated[:64]!r} appears twice in one object")
    return value


# \uD800-\uDFFF escapes: a lone one is not text (UTF-8 cannot encode it) and failed deep inside (tokenizers,
# hashing) with a 500.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_text(value: Any, text: str) -> None:
    if not _SURROGATE_ESCAPE.search(text):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Refused(
            f"a string holds a lone surrogate escape ({exc.object[exc.start]!r}); "
            "send text as UTF-8, or both halves of a surrogate pair"
        ) from None


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def loads(text: str | bytes) -> Any:
    """Parse a request body; `json.JSONDecodeError` (a ValueError) when it is not acceptable JSON."""
    if isinstance(text, bytes):
        text = text.decode()
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_unique_keys,
        )
        _check_text(value, text)
    except RecursionError:
        raise json.JSONDecodeError(f"JSON nested deeper than {MAX_DEPTH} levels", text, 0) from None
    except _Refused as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from None
    if not isinstance(value, dict):
        # Every request body of this API (as of OpenAI's) is an object; Powertools let a top-level array through to
        # a route's model and it was accepted (found by schemathesis).
        raise json.JSONDecodeError(f"the body must be a JSON object, not {type(value).__name__}", text, 0)
    if _depth_exceeds(value, MAX_DEPTH):
        raise json.JSONDecodeError(f"JSON nested deeper than {MAX_DEPTH} levels", text, 0)
    return value
