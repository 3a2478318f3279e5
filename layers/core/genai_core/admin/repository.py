"""Where app records live: the admin table's registry item, the gateway's `SETTINGS` item, and the audit entry of
each change, written in one DynamoDB transaction, so the registry, what the gateway enforces and the trail never
disagree.

Admin table layout (audit entries: `genai_core.admin.audit`):
- app: `pk=APP#<app id>`, `sk=APP`; `gsi1pk=APPS`, `gsi1sk=<created_at>#<app id>` lists every app, newest first
  (apps number in the hundreds: one index partition is enough); `status` filters; `version` guards updates.
Gateway table: `APP#<app id>` / `SETTINGS` (`genai_core.gateway.store.settings_item`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from genai_core.admin.audit import AuditEntry, DynamoAuditLog, checked_start
from genai_core.admin.models import AppRecord
from genai_core.errors import Conflict
from genai_core.gateway.store import settings_item


@dataclass(frozen=True)
class AppPage:
    items: list[AppRecord]
    next_key: dict[str, Any] | None


class AppRepository(Protocol):
    def get(self, app_id: str) -> AppRecord | None: ...

    def save(self, record: AppRecord, previous: AppRecord | None, audit: AuditEntry) -> None:
        """Write `record` (its settings too) and `audit` at once; Conflict if the stored app is not `previous`."""
        ...

    def list(self, statuses: frozenset[str], limit: int, start: dict[str, Any] | None) -> AppPage: ...


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def record_data(record: AppRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "status": record.status,
        "scopes": list(record.scopes),
        "limits": record.limits,
        "allowed_models": None if record.allowed_models is None else list(record.allowed_models),
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "secret_rotated_at": _iso(record.secret_rotated_at),
    }


def _record(item: dict[str, Any]) -> AppRecord:
    data = json.loads(item["data"]["S"])
    allowed = data.get("allowed_models")
    return AppRecord(
        id=data["id"],
        name=data["name"],
        description=data.get("description"),
        status=item["status"]["S"],
        scopes=tuple(data["scopes"]),
        limits=dict(data.get("limits") or {}),
        allowed_models=None if allowed is None else tuple(allowed),
        created_at=_moment(data.get("created_at")),
        updated_at=_moment(data.get("updated_at")),
        secret_rotated_at=_moment(data.get("secret_rotated_at")),
        version=int(item["version"]["N"]),
    )


class DynamoAppRepository:
    def __init__(self, client: Any, admin_table: str, gateway_table: str) -> None:
        self.client = client
        self.admin_table = admin_table
        self.gateway_table = gateway_table
        self.audit = DynamoAuditLog(client, admin_table)

    def get(self, app_id: str) -> AppRecord | None:
        item = self.client.get_item(
            TableName=self.admin_table, Key={"pk": {"S": f"APP#{app_id}"}, "sk": {"S": "APP"}}, ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None

    def save(self, record: AppRecord, previous: AppRecord | None, audit: AuditEntry) -> None:
        item = {
            "pk": {"S": f"APP#{record.id}"},
            "sk": {"S": "APP"},
            "gsi1pk": {"S": "APPS"},
            "gsi1sk": {"S": f"{_iso(record.created_at)}#{record.id}"},
            "status": {"S": record.status},
            "version": {"N": str(record.version)},
            "data": {"S": json.dumps(record_data(record))},
        }
        put: dict[str, Any] = {"TableName": self.admin_table, "Item": item}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(previous.version)}}
        settings = {"TableName": self.gateway_table, "Item": settings_item(record.id, record.settings)}
        try:
            self.client.transact_write_items(
                TransactItems=[{"Put": put}, {"Put": settings}, self.audit.transact_put(audit)]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise Conflict(
                    f"the app {record.id} was changed by someone else meanwhile; read it again and retry",
                    code="app_changed",
                ) from None
            raise

    def list(self, statuses: frozenset[str], limit: int, start: dict[str, Any] | None) -> AppPage:
        items: list[AppRecord] = []
        names = {"#s": "status"}
        values: dict[str, Any] = {":pk": {"S": "APPS"}}
        values |= {f":s{i}": {"S": s} for i, s in enumerate(sorted(statuses))}
        request: dict[str, Any] = {
            "TableName": self.admin_table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "FilterExpression": f"#s IN ({', '.join(f':s{i}' for i in range(len(statuses)))})",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        key = checked_start(start, {"gsi1pk": "APPS", "sk": "APP"}, {"pk": "APP#", "gsi1sk": ""})
        while True:
            page = {**request, "Limit": limit - len(items)}
            if key:
                page["ExclusiveStartKey"] = key
            response = self.client.query(**page)
            items += [_record(item) for item in response.get("Items", [])]
            key = response.get("LastEvaluatedKey")
            if not key or len(items) >= limit:
                return AppPage(items, key)
