"""Opaque `next_token` pagination over DynamoDB-style start keys, and `limit` parsing."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from genai_core.errors import InvalidRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_token(start_key: dict[str, Any] | None) -> str | None:
    """The token a client sends back to get the next page; None when there is no next page."""
    if not start_key:
        return None
    raw = json.dumps(start_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidRequest("next_token is not a token this API issued", param="next_token") from None
    if not isinstance(value, dict):
        raise InvalidRequest("next_token is not a token this API issued", param="next_token")
    return value


def checked_start_key(start: dict[str, Any], fixed: dict[str, str], prefixed: dict[str, str]) -> dict[str, Any]:
    """A decoded `next_token` as a DynamoDB ExclusiveStartKey, if it is one this listing issued: exactly the keys of
    `fixed` (with those values) and of `prefixed` (values starting with those prefixes), all strings. A forged one
    is a 400: DynamoDB would answer it with a ValidationException (a 500), or start another owner's listing."""
    valid = (
        set(start) == set(fixed) | set(prefixed)
        and all(isinstance(v, str) for v in start.values())
        and all(start[k] == v for k, v in fixed.items())
        and all(start[k].startswith(p) for k, p in prefixed.items())
    )
    if not valid:
        raise InvalidRequest("next_token is not a token this API issued", param="next_token")
    return {k: {"S": v} for k, v in start.items()}


def parse_limit(raw: str | int | None, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidRequest(f"limit must be a whole number from 1 to {maximum}", param="limit") from None
    if not 1 <= value <= maximum:
        raise InvalidRequest(f"limit must be a whole number from 1 to {maximum}", param="limit")
    return value
