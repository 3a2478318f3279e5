"""The audit trail of admin changes: who changed what, when, and the state before and after (never a secret).

Other admin areas (the model catalogue, say) record through this module:

    from genai_core.admin import audit
    audit.record(actor="admin@example.com", action="model.update", target="model:claude", before={...}, after={...})
    entries, next_token = audit.list(target="model:claude", limit=20, next_token=None)

Where a change is itself a DynamoDB write, put `audit.transact_put(entry)` in the same TransactWriteItems, so the
change and its entry are kept together or not at all (the apps service does).

Admin table layout: `pk=AUDIT`, `sk=<ISO time>#<entry id>` (newest first with a descending query), and
`gsi1pk=AUDIT#<target>`, `gsi1sk=<ISO time>#<entry id>` to list one target's entries.
"""

from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from pydantic import Field

from genai_core import aws
from genai_core.config import Settings, load_area_settings
from genai_core.errors import InvalidRequest
from genai_core.pagination import decode_token, encode_token

# Keys whose values never enter the trail, wherever they appear in before/after.
_SECRET_KEYS = {"client_secret", "secret", "password", "api_key", "token", "access_token", "refresh_token"}
REDACTED = "[redacted]"
AUDIT_PK = "AUDIT"


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    action: str  # <area>.<verb>: app.create, app.update, app.disable, app.enable, app.rotate_secret, app.delete
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditLog(Protocol):
    def record(
        self, actor: str, action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> AuditEntry: ...

    def list(
        self, target: str | None = None, limit: int = 20, next_token: str | None = None
    ) -> tuple[builtins.list[AuditEntry], str | None]: ...


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in _SECRET_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, builtins.list | tuple):
        return [redact(v) for v in value]
    return value


def new_entry(
    actor: str, action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> AuditEntry:
    return AuditEntry(uuid.uuid4().hex, datetime.now(UTC), actor, action, target, redact(before), redact(after))


def checked_start(
    start: dict[str, Any] | None, fixed: dict[str, str], prefixed: dict[str, str]
) -> dict[str, Any] | None:
    """A decoded next_token as an ExclusiveStartKey, if it is one this listing issued: the keys and values it must
    have (`fixed`) and the keys whose values start with a prefix; a 400 otherwise (DynamoDB would answer a 500)."""
    if start is None:
        return None
    wanted = set(fixed) | set(prefixed)
    values = {k: v.get("S") if isinstance(v, dict) and set(v) == {"S"} else None for k, v in start.items()}
    if (
        set(values) != wanted
        or any(not isinstance(v, str) or not v for v in values.values())
        or any(values[k] != v for k, v in fixed.items())
        or any(not str(values[k]).startswith(v) for k, v in prefixed.items())
    ):
        raise InvalidRequest("next_token does not belong to this listing", param="next_token")
    return start


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _item(entry: AuditEntry) -> dict[str, Any]:
    order = f"{_iso(entry.at)}#{entry.id}"
    data = {
        "id": entry.id,
        "at": _iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "before": entry.before,
        "after": entry.after,
    }
    return {
        "pk": {"S": AUDIT_PK},
        "sk": {"S": order},
        "gsi1pk": {"S": f"AUDIT#{entry.target}"},
        "gsi1sk": {"S": order},
        "data": {"S": json.dumps(data, default=str)},
    }


def _entry(item: dict[str, Any]) -> AuditEntry:
    data = json.loads(item["data"]["S"])
    at = datetime.fromisoformat(data["at"].replace("Z", "+00:00"))
    return AuditEntry(data["id"], at, data["actor"], data["action"], data["target"], data["before"], data["after"])


class DynamoAuditLog:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def transact_put(self, entry: AuditEntry) -> dict[str, Any]:
        """The entry as one `Put` of a TransactWriteItems (written with the change it describes)."""
        return {"Put": {"TableName": self.table, "Item": _item(entry)}}

    def record(
        self, actor: str, action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> AuditEntry:
        entry = new_entry(actor, action, target, before, after)
        self.client.put_item(TableName=self.table, Item=_item(entry))
        return entry

    def list(
        self, target: str | None = None, limit: int = 20, next_token: str | None = None
    ) -> tuple[builtins.list[AuditEntry], str | None]:
        """Newest first; `target` (an app id, say) narrows to one target's entries."""
        request: dict[str, Any] = {"TableName": self.table, "ScanIndexForward": False, "Limit": limit}
        if target:
            request |= {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"AUDIT#{target}"}},
            }
        else:
            request |= {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": AUDIT_PK}}}
        if target:
            start = checked_start(
                decode_token(next_token), {"gsi1pk": f"AUDIT#{target}"}, {"pk": "", "sk": "", "gsi1sk": ""}
            )
        else:
            start = checked_start(decode_token(next_token), {"pk": AUDIT_PK}, {"sk": ""})
        if start:
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        entries = [_entry(item) for item in response.get("Items", [])]
        return entries, encode_token(response.get("LastEvaluatedKey"))


class AuditSettings(Settings):
    admin_table: str = Field(alias="ADMIN_TABLE", min_length=1)


@lru_cache(maxsize=1)
def get_audit_log() -> DynamoAuditLog:
    return DynamoAuditLog(aws.client("dynamodb"), load_area_settings(AuditSettings).admin_table)


def record(
    actor: str, action: str, target: str, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry (secrets redacted) to the trail on its own; prefer `transact_put` inside a transaction."""
    return get_audit_log().record(actor, action, target, before, after)


def list(
    target: str | None = None, limit: int = 20, next_token: str | None = None
) -> tuple[builtins.list[AuditEntry], str | None]:
    """Entries newest first (one target's when given) and the token of the next page (None on the last)."""
    return get_audit_log().list(target, limit, next_token)


def transact_put(entry: AuditEntry) -> dict[str, Any]:
    return get_audit_log().transact_put(entry)
