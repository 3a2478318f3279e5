"""Reads of the gateway's and the knowledge pipeline's tables for operators, and the catalogue's writes.

Layouts are the owners' (gateway/store.py, knowledge/repository.py, gateway/catalogue.py); nothing here writes to
a table other than the catalogue's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer

from genai_core.gateway.catalogue import DynamoCatalogue, ModelEntry
from genai_core.gateway.store import LATENCY_BUCKET_PREFIX
from genai_core.pagination import checked_start_key

_DE = TypeDeserializer()


@dataclass
class DailyCounters:
    """One app's use of one model on one day (the gateway's `DAY#<day>#MODEL#<alias>` item)."""

    app_id: str
    day: str
    model: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micros: int = 0
    latency: dict[int, int] = field(default_factory=dict)  # histogram bucket -> calls


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_key: dict[str, Any] | None


class UsageCounters(Protocol):
    def daily(self, first: date, last: date, app_id: str | None) -> Iterator[DailyCounters]: ...


class UsageRecords(Protocol):
    def recent(self, app_id: str, limit: int, start: dict[str, Any] | None) -> Page: ...


class DocumentIndex(Protocol):
    def by_status(self, status: str, limit: int, start: dict[str, Any] | None) -> Page: ...

    def count(self, status: str, up_to: int) -> int: ...


class CatalogueStore(Protocol):
    def load(self) -> dict[str, ModelEntry]: ...

    def get(self, alias: str) -> ModelEntry | None: ...

    def put(self, entry: ModelEntry) -> None: ...

    def delete(self, alias: str) -> None: ...


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (whole numbers as int)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {k: convert(_DE.deserialize(v)) for k, v in item.items()}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _months(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class DynamoUsageCounters:
    """The gateway table's daily counters: one Query per app over the range (all its models and days at once),
    with the apps of a range found through the keys-only `gsi1` (`usage_month`, `sk`) when no app is given."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def daily(self, first: date, last: date, app_id: str | None) -> Iterator[DailyCounters]:
        low, high = f"DAY#{first.isoformat()}", f"DAY#{last.isoformat()}$"  # "$" sorts after "#MODEL#..."
        apps = [app_id] if app_id else self._apps(first, last, low, high)
        for app in apps:
            for item in self._query(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":pk": _s(f"APP#{app}"), ":low": _s(low), ":high": _s(high)},
            ):
                yield _counters(app, item)

    def _apps(self, first: date, last: date, low: str, high: str) -> list[str]:
        apps: set[str] = set()
        for month in _months(first, last):
            for item in self._query(
                IndexName="gsi1",
                KeyConditionExpression="usage_month = :month AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":month": _s(month), ":low": _s(low), ":high": _s(high)},
            ):
                apps.add(item["pk"]["S"].removeprefix("APP#"))
        return sorted(apps)

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table, **kwargs):
            yield from page.get("Items", [])


def _counters(app_id: str, item: dict[str, Any]) -> DailyCounters:
    _, day, _, model = item["sk"]["S"].split("#", 3)

    def n(name: str) -> int:
        return int(Decimal(item.get(name, {}).get("N", "0")))

    latency = {
        int(name.removeprefix(LATENCY_BUCKET_PREFIX)): n(name)
        for name in item
        if name.startswith(LATENCY_BUCKET_PREFIX) and name.removeprefix(LATENCY_BUCKET_PREFIX).lstrip("-").isdigit()
    }
    return DailyCounters(
        app_id=app_id,
        day=day,
        model=model,
        requests=n("requests"),
        errors=n("errors"),
        prompt_tokens=n("prompt_tokens"),
        completion_tokens=n("completion_tokens"),
        cached_tokens=n("cached_tokens"),
        cost_micros=n("cost_micros"),
        latency=latency,
    )


# What an operator sees of a usage record: never the app's end-user id or request metadata. Every name goes through
# a placeholder (several, like `status` and `stream`, are DynamoDB reserved words).
_RECORD_FIELDS = (
    "sk", "request_id", "alias", "kind", "target", "prompt_name", "prompt_version", "prompt_tokens",
    "completion_tokens", "cached_tokens", "cost_usd", "latency_ms", "status", "error_code", "cache_hit", "stream",
)  # fmt: skip
_PROJECTION = ", ".join(f"#f{i}" for i in range(len(_RECORD_FIELDS)))
_PROJECTION_NAMES = {f"#f{i}": name for i, name in enumerate(_RECORD_FIELDS)}


class DynamoUsageRecords:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def recent(self, app_id: str, limit: int, start: dict[str, Any] | None) -> Page:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(app_id)},
            "ProjectionExpression": _PROJECTION,
            "ExpressionAttributeNames": _PROJECTION_NAMES,
            "ScanIndexForward": False,  # sk starts with the call's time: newest first
            "Limit": limit,
        }
        if start:
            params["ExclusiveStartKey"] = checked_start_key(start, {"pk": app_id}, {"sk": ""})
        answer = self.client.query(**params)
        last = answer.get("LastEvaluatedKey")
        return Page([plain(i) for i in answer.get("Items", [])], plain(last) if last else None)


class DynamoDocumentIndex:
    """The documents table's gsi2 (`STATUS#<status>`, `<updated_at>#<document_id>`): every app's documents."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def by_status(self, status: str, limit: int, start: dict[str, Any] | None) -> Page:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"STATUS#{status}")},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            params["ExclusiveStartKey"] = checked_start_key(
                start, {"gsi2pk": f"STATUS#{status}"}, {"pk": "", "sk": "", "gsi2sk": ""}
            )
        answer = self.client.query(**params)
        last = answer.get("LastEvaluatedKey")
        return Page([plain(i) for i in answer.get("Items", [])], plain(last) if last else None)

    def count(self, status: str, up_to: int) -> int:
        """How many documents have `status`, counting no further than `up_to` (a count reads the items)."""
        total = 0
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"STATUS#{status}")},
            "Select": "COUNT",
            "Limit": up_to,
        }
        while total < up_to:
            answer = self.client.query(**params)
            total += int(answer.get("Count", 0))
            if "LastEvaluatedKey" not in answer:
                break
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
            params["Limit"] = up_to - total
        return min(total, up_to)


class DynamoCatalogueStore(DynamoCatalogue):
    """The gateway's catalogue items (`alias`, `entry` as JSON), read and written one by one."""

    def get(self, alias: str) -> ModelEntry | None:
        item = self.client.get_item(TableName=self.table, Key={"alias": _s(alias)}, ConsistentRead=True).get("Item")
        if not item:
            return None
        return ModelEntry.model_validate_json(item["entry"]["S"])

    def put(self, entry: ModelEntry) -> None:
        self.seed([entry], overwrite=True)

    def delete(self, alias: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"alias": _s(alias)})
