"""Refusing disabled and deleted apps on every route, even with a token issued before the change.

Cognito access tokens stay valid until they expire (an hour), so the token alone cannot tell. `genai_core.api.handle`
asks here for every caller that is an app (not a person of the admin pool): the status comes from the gateway's
`APP#<app>`/`SETTINGS` item (the admin API writes it) and each container keeps it for at most
`APP_STATUS_MAX_AGE_SECONDS` (≤ 30 s). A change therefore reaches every container within that age plus the time
of one read, well inside the minute the contract promises. An app without a SETTINGS item (one onboarded before
the admin API, or the offline demo app) is active.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from genai_core import aws
from genai_core.errors import PermissionDenied, ServiceUnavailable
from genai_core.gateway.expiring import Expiring

MAX_AGE_LIMIT_SECONDS = 30.0
DEFAULT_MAX_AGE_SECONDS = 30.0

_REFUSALS = {
    "disabled": ("app_disabled", "this app is disabled; ask an administrator of the platform to enable it"),
    "deleted": ("app_deleted", "this app was deleted; ask an administrator of the platform to onboard it again"),
}


class AppStatusCheck:
    def __init__(
        self, read: Callable[[str], str], max_age_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.read = read
        self.cache = Expiring(max_age_seconds, clock)

    def require_active(self, app_id: str) -> None:
        status = self.cache.get(app_id, lambda: self.read(app_id))
        refusal = _REFUSALS.get(status)
        if refusal is not None:
            code, message = refusal
            raise PermissionDenied(message, code=code)


def dynamo_status_reader(client: Any, table: str) -> Callable[[str], str]:
    def read(app_id: str) -> str:
        try:
            item = client.get_item(
                TableName=table,
                Key={"pk": {"S": f"APP#{app_id}"}, "sk": {"S": "SETTINGS"}},
                ProjectionExpression="#s",
                ExpressionAttributeNames={"#s": "status"},
            ).get("Item")
        except (ClientError, BotoCoreError):
            # Not knowing whether the app may call is no reason to let it: refuse with a retryable answer.
            raise ServiceUnavailable(
                "could not check this app's status; retry shortly", retry_after_seconds=1
            ) from None
        return str(((item or {}).get("status") or {}).get("S") or "active")

    return read


_check: AppStatusCheck | None = None


def _max_age() -> float:
    raw = os.environ.get("APP_STATUS_MAX_AGE_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_MAX_AGE_SECONDS
    except ValueError:
        value = DEFAULT_MAX_AGE_SECONDS
    return min(max(value, 0.0), MAX_AGE_LIMIT_SECONDS)


def get_status_check() -> AppStatusCheck | None:
    """The container's check; None for a function without `GATEWAY_TABLE` (the template gives it to every API
    function, and a contract test holds it to that)."""
    global _check
    if _check is None:
        table = os.environ.get("GATEWAY_TABLE")
        if not table:
            return None
        _check = AppStatusCheck(dynamo_status_reader(aws.client("dynamodb"), table), _max_age())
    return _check


def reset() -> None:
    """Forget the container's check and what it cached (tests)."""
    global _check
    _check = None
