"""The gateway's shared state in DynamoDB: limit counters, usage records, the response cache, target health.

Gateway table (`pk`/`sk` strings, `expires_at` epoch seconds for DynamoDB's TTL):
- `APP#<app>` / `LIMITS`: the app's live counters, one attribute per window, so that ONE conditional UpdateItem
  admits a request against every limit at once (a transaction across window items would conflict with itself
  under concurrency): `rq_<minute>` requests and `tk_<minute>` tokens this minute, `td_<day>` tokens today,
  `mc_<month>` cost this month in micro-USD. Attributes of past windows are removed as they are seen.
- `APP#<app>` / `SETTINGS`: the app's limits and allowed models (written by the admin API; defaults otherwise).
- `APP#<app>` / `DAY#<yyyy-mm-dd>#MODEL#<alias>`: daily per-app per-model counters (requests, errors, tokens in/
  out/cached, cost, cache hits, latency sum, and a latency histogram: `lat_<b>` calls whose latency fell in bucket
  `b`, see `latency_bucket`), kept with atomic ADDs; `usage_month` (`yyyy-mm`) is the key of the keys-only index
  `gsi1` (`usage_month`, `sk`), through which the admin API finds every app's counters of a date range without
  knowing the apps. The index is written once per item (the value never changes), not on every call.
- `CACHE#<app>` / `<sha256 of the normalised request>`: a cached response (the key starts with the app: no app
  can read another's).
- `TARGET` / `<target id>`: failures in the current window and `cooldown_until`, shared by every container.
Usage table: `pk=<app>`, `sk=<iso time>#<request id>`: one record per call, success or failure.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import ClientError

from genai_core.errors import RateLimited

MICROS = 1_000_000
# Latency histogram of the daily counters: bucket b holds latencies in [2^(b/4), 2^((b+1)/4)) ms, so a percentile
# read from it is within ~9% of the exact one, in at most ~80 attributes (1 ms to 10 min) of which a day uses few.
LATENCY_BUCKET_PREFIX = "lat_"
LATENCY_BUCKETS_PER_DOUBLING = 4
# Counter attributes of the LIMITS item, by what they count; the window's key follows the prefix.
_REQUESTS_MINUTE, _TOKENS_MINUTE, _TOKENS_DAY, _COST_MONTH = "rq_", "tk_", "td_", "mc_"
_LIMIT_ATTRIBUTE_PREFIXES = (_REQUESTS_MINUTE, _TOKENS_MINUTE, _TOKENS_DAY, _COST_MONTH)


@dataclass(frozen=True)
class Limits:
    """Per-app limits; 0 means unlimited."""

    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    tokens_per_day: int = 0
    monthly_budget_usd: float = 0.0


LIMIT_NAMES = ("requests_per_minute", "tokens_per_minute", "tokens_per_day", "monthly_budget_usd")
APP_STATUSES = ("active", "disabled", "deleted")


@dataclass(frozen=True)
class AppSettings:
    """What the admin API set for an app (the `SETTINGS` item); an app without one has the platform defaults."""

    limits: Limits
    allowed_models: tuple[str, ...] | None = None  # None: every alias
    # The limits the admin set; the others follow the platform defaults (None: every limit in `limits` was set).
    limits_set: frozenset[str] | None = None
    status: str = "active"  # active | disabled | deleted

    def with_default_limits(self, defaults: Limits) -> AppSettings:
        """The limits in force: the ones set here, the platform's `defaults` for the rest."""
        if self.limits_set is None:
            return self
        chosen = {n: getattr(self.limits if n in self.limits_set else defaults, n) for n in LIMIT_NAMES}
        return replace(self, limits=Limits(**chosen), limits_set=None)


def settings_item(app_id: str, settings: AppSettings) -> dict[str, Any]:
    """The `APP#<app>`/`SETTINGS` item in DynamoDB's typed form (the admin API writes it in its transactions).

    `limits` holds only the limits that were set (JSON), so a changed platform default reaches every app that
    did not set its own."""
    names = LIMIT_NAMES if settings.limits_set is None else [n for n in LIMIT_NAMES if n in settings.limits_set]
    item = {
        "pk": _s(f"APP#{app_id}"),
        "sk": _s("SETTINGS"),
        "limits": _s(json.dumps({n: getattr(settings.limits, n) for n in names})),
        "status": _s(settings.status),
    }
    if settings.allowed_models is not None:
        item["allowed_models"] = _s(json.dumps(list(settings.allowed_models)))
    return item


def settings_from_item(item: dict[str, Any]) -> AppSettings:
    limits = json.loads(item["limits"]["S"]) if "limits" in item else {}
    allowed = json.loads(item["allowed_models"]["S"]) if "allowed_models" in item else None
    return AppSettings(
        Limits(**{n: v for n, v in limits.items() if n in LIMIT_NAMES}),
        tuple(allowed) if allowed is not None else None,
        limits_set=frozenset(limits) & frozenset(LIMIT_NAMES),
        status=str(item.get("status", {}).get("S") or "active"),
    )


@dataclass(frozen=True)
class Windows:
    """The limit windows a request was admitted in (UTC)."""

    minute: str
    day: str
    month: str

    @classmethod
    def at(cls, now: datetime) -> Windows:
        now = now.astimezone(UTC)
        return cls(now.strftime("%Y%m%d%H%M"), now.strftime("%Y-%m-%d"), now.strftime("%Y-%m"))

    @property
    def requests_minute(self) -> str:
        return _REQUESTS_MINUTE + self.minute

    @property
    def tokens_minute(self) -> str:
        return _TOKENS_MINUTE + self.minute

    @property
    def tokens_day(self) -> str:
        return _TOKENS_DAY + self.day

    @property
    def cost_month(self) -> str:
        return _COST_MONTH + self.month


@dataclass(frozen=True)
class Admission:
    windows: Windows
    stale: tuple[str, ...] = ()  # counter attributes of past windows, removed when the call is recorded


@dataclass
class UsageRecord:
    app_id: str
    request_id: str
    alias: str
    kind: str  # chat | embeddings
    status: int
    started_at: datetime
    latency_ms: int
    target: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    cache_hit: bool = False
    stream: bool = False
    error_code: str | None = None
    attempts: list[str] = field(default_factory=list)
    user: str | None = None  # the app's end-user id, as the request's `user` gave it
    metadata: dict[str, str] | None = None  # the request's `metadata` tags  # "target: outcome" for each failed attempt

    @property
    def billable_tokens(self) -> int:
        return 0 if self.cache_hit else self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CacheEntry:
    key: str
    payload: dict[str, Any]
    ttl_seconds: int


@dataclass(frozen=True)
class TargetHealth:
    failures: int
    window_started: float
    cooldown_until: float


class GatewayStore(Protocol):
    def app_settings(self, app_id: str) -> AppSettings | None: ...

    def admit(self, app_id: str, limits: Limits, now: datetime) -> Admission: ...

    def record(self, usage: UsageRecord, admission: Admission | None, cache: CacheEntry | None = None) -> None: ...

    def cached(self, app_id: str, key: str, now: datetime) -> dict[str, Any] | None: ...

    def target_health(self) -> dict[str, TargetHealth]: ...

    def target_failed(self, target_id: str, now: float, *, threshold: int, window: float, cooldown: float) -> None: ...

    def target_recovered(self, target_id: str) -> None: ...


def latency_bucket(latency_ms: int | float) -> int:
    """The histogram bucket of a latency (under 1 ms counts as 1 ms)."""
    return math.floor(math.log2(max(1.0, float(latency_ms))) * LATENCY_BUCKETS_PER_DOUBLING)


def latency_bucket_bounds(bucket: int) -> tuple[float, float]:
    """[low, high) of a bucket, in milliseconds."""
    return 2 ** (bucket / LATENCY_BUCKETS_PER_DOUBLING), 2 ** ((bucket + 1) / LATENCY_BUCKETS_PER_DOUBLING)


def _n(value: int | float | Decimal) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _seconds_to_next(now: datetime, unit: str) -> int:
    now = now.astimezone(UTC)
    if unit == "minute":
        boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    elif unit == "day":
        boundary = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    else:
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        boundary = (first + timedelta(days=32)).replace(day=1)
    return max(1, int((boundary - now).total_seconds() + 0.999))


class _Check(NamedTuple):
    limit: int  # 0: no limit
    counter: str  # the counter attribute of the current window
    window: str  # minute | day | month: when the counter starts again
    code: str
    message: str


def _limit_checks(limits: Limits, windows: Windows) -> list[_Check]:
    """The app's limits against their counters, in the order a refused caller should hear about them; the first
    one counts requests (admission adds 1 to it)."""
    return [
        _Check(limits.requests_per_minute, windows.requests_minute, "minute", "requests_per_minute_exceeded",
               f"rate limit reached: {limits.requests_per_minute} requests per minute for this app"),
        _Check(limits.tokens_per_minute, windows.tokens_minute, "minute", "tokens_per_minute_exceeded",
               f"rate limit reached: {limits.tokens_per_minute} tokens per minute for this app"),
        _Check(limits.tokens_per_day, windows.tokens_day, "day", "tokens_per_day_exceeded",
               f"daily token limit reached: {limits.tokens_per_day} tokens per day (UTC) for this app"),
        _Check(int(limits.monthly_budget_usd * MICROS), windows.cost_month, "month", "monthly_budget_exceeded",
               f"monthly budget reached: {limits.monthly_budget_usd:g} USD for this app this month (UTC)"),
    ]  # fmt: skip


class DynamoGatewayStore:
    def __init__(
        self,
        client: Any,
        table: str,
        usage_table: str,
        *,
        usage_retention_days: int = 90,
        counter_retention_days: int = 400,
    ) -> None:
        self.client = client
        self.table = table
        self.usage_table = usage_table
        self.usage_retention = usage_retention_days * 86400
        self.counter_retention = counter_retention_days * 86400

    # -- settings ------------------------------------------------------------------------------------------------
    def app_settings(self, app_id: str) -> AppSettings | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": _s(f"APP#{app_id}"), "sk": _s("SETTINGS")}).get(
            "Item"
        )
        return settings_from_item(item) if item else None

    def put_app_settings(self, app_id: str, settings: AppSettings) -> None:
        self.client.put_item(TableName=self.table, Item=settings_item(app_id, settings))

    # -- limits --------------------------------------------------------------------------------------------------
    def admit(self, app_id: str, limits: Limits, now: datetime) -> Admission:
        """Count this request in the current minute if every limit still has room; RateLimited naming the first
        exhausted limit otherwise. One conditional UpdateItem: concurrent requests cannot overshoot."""
        windows = Windows.at(now)
        checks = _limit_checks(limits, windows)
        names = {f"#c{i}": check.counter for i, check in enumerate(checks)}
        values: dict[str, Any] = {":one": _n(1)}
        conditions = []
        for i, check in enumerate(checks):
            if check.limit > 0:
                conditions.append(f"(attribute_not_exists(#c{i}) OR #c{i} < :l{i})")
                values[f":l{i}"] = _n(check.limit)
        used = {name for name in names if any(name in c for c in conditions)} | {"#c0"}
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": _s(f"APP#{app_id}"), "sk": _s("LIMITS")},
            "UpdateExpression": "ADD #c0 :one",  # checks[0] counts the minute's requests
            "ExpressionAttributeNames": {k: v for k, v in names.items() if k in used},
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            item = self._with_conflict_retry(lambda: self.client.update_item(**request))["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise self._refusal(app_id, checks, now, exc) from None
        current = {check.counter for check in checks}
        stale = tuple(k for k in item if k.startswith(_LIMIT_ATTRIBUTE_PREFIXES) and k not in current)
        return Admission(windows, stale)

    def _refusal(self, app_id: str, checks: list[_Check], now: datetime, exc: ClientError) -> RateLimited:
        item = exc.response.get("Item")
        if item is None:  # older DynamoDB emulators do not return the item: read it (refusals only)
            item = self.client.get_item(
                TableName=self.table, Key={"pk": _s(f"APP#{app_id}"), "sk": _s("LIMITS")}, ConsistentRead=True
            ).get("Item", {})

        def count(name: str) -> int:
            return int(Decimal(item.get(name, {}).get("N", "0")))

        exhausted = [c for c in checks if c.limit and count(c.counter) >= c.limit] or checks[-1:]
        check = exhausted[0]
        wait = _seconds_to_next(now, check.window)
        return RateLimited(f"{check.message}; retry in {wait} s", retry_after_seconds=wait, code=check.code)

    # -- usage ---------------------------------------------------------------------------------------------------
    def record(self, usage: UsageRecord, admission: Admission | None, cache: CacheEntry | None = None) -> None:
        """Write the usage record, charge the app's counters and the daily per-model counters, and store the
        cache entry: one transaction, so a record and its charge exist together or not at all."""
        started = usage.started_at.astimezone(UTC)
        epoch = int(started.timestamp())
        windows = admission.windows if admission else Windows.at(started)
        cost_micros = 0 if usage.cache_hit else round(usage.cost_usd * MICROS)
        record: dict[str, Any] = {
            "pk": _s(usage.app_id),
            "sk": _s(f"{started.isoformat().replace('+00:00', 'Z')}#{usage.request_id}"),
            "request_id": _s(usage.request_id),
            "alias": _s(usage.alias),
            "kind": _s(usage.kind),
            "status": _n(usage.status),
            "latency_ms": _n(usage.latency_ms),
            "prompt_tokens": _n(usage.prompt_tokens),
            "completion_tokens": _n(usage.completion_tokens),
            "cached_tokens": _n(usage.cached_tokens),
            "cost_usd": _n(Decimal(cost_micros) / MICROS),
            "cache_hit": {"BOOL": usage.cache_hit},
            "stream": {"BOOL": usage.stream},
            "expires_at": _n(epoch + self.usage_retention),
        }
        optional = {
            "target": usage.target,
            "prompt_name": usage.prompt_name,
            "error_code": usage.error_code,
            "user": usage.user,
        }
        record.update({k: _s(v) for k, v in optional.items() if v})
        if usage.prompt_version is not None:
            record["prompt_version"] = _n(usage.prompt_version)
        if usage.metadata:
            record["metadata"] = {"M": {k: _s(v) for k, v in usage.metadata.items()}}
        if usage.attempts:
            record["attempts"] = {"L": [_s(a) for a in usage.attempts[:10]]}
        ok = usage.status < 400
        items: list[dict[str, Any]] = [{"Put": {"TableName": self.usage_table, "Item": record}}]
        items.append(
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": _s(f"APP#{usage.app_id}"), "sk": _s(f"DAY#{windows.day}#MODEL#{usage.alias}")},
                    "UpdateExpression": "ADD requests :one, errors :err, prompt_tokens :pt, completion_tokens :ct, "
                    "cached_tokens :cached, cost_micros :cost, cache_hits :hit, latency_ms_sum :lat, #bucket :one "
                    "SET expires_at = if_not_exists(expires_at, :exp), usage_month = :month",
                    "ExpressionAttributeNames": {
                        "#bucket": f"{LATENCY_BUCKET_PREFIX}{latency_bucket(usage.latency_ms)}"
                    },
                    "ExpressionAttributeValues": {
                        ":one": _n(1),
                        ":err": _n(0 if ok else 1),
                        ":pt": _n(usage.prompt_tokens),
                        ":ct": _n(usage.completion_tokens),
                        ":cached": _n(usage.cached_tokens),
                        ":cost": _n(cost_micros),
                        ":hit": _n(1 if usage.cache_hit else 0),
                        ":lat": _n(usage.latency_ms),
                        ":exp": _n(epoch + self.counter_retention),
                        ":month": _s(windows.day[:7]),
                    },
                }
            }
        )
        tokens = usage.billable_tokens
        if admission is not None and (tokens or cost_micros or admission.stale):
            sets = []
            values: dict[str, Any] = {}
            names: dict[str, str] = {}
            if tokens or cost_micros:
                names.update({"#tk": windows.tokens_minute, "#td": windows.tokens_day, "#mc": windows.cost_month})
                values.update({":t": _n(tokens), ":c": _n(cost_micros)})
                sets.append("ADD #tk :t, #td :t, #mc :c")
            if admission.stale:
                removed = {f"#old{i}": name for i, name in enumerate(admission.stale[:50])}
                names.update(removed)
                sets.append("REMOVE " + ", ".join(removed))
            update: dict[str, Any] = {
                "TableName": self.table,
                "Key": {"pk": _s(f"APP#{usage.app_id}"), "sk": _s("LIMITS")},
                "UpdateExpression": " ".join(sets),
                "ExpressionAttributeNames": names,
            }
            if values:
                update["ExpressionAttributeValues"] = values
            items.append({"Update": update})
        if cache is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": _s(f"CACHE#{usage.app_id}"),
                            "sk": _s(cache.key),
                            "payload": _s(json.dumps(cache.payload, separators=(",", ":"))),
                            "expires_at": _n(epoch + cache.ttl_seconds),
                        },
                    }
                }
            )
        self._with_conflict_retry(
            lambda: self.client.transact_write_items(TransactItems=items, ClientRequestToken=f"{usage.request_id}"[:36])
        )

    # -- cache ---------------------------------------------------------------------------------------------------
    def cached(self, app_id: str, key: str, now: datetime) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": _s(f"CACHE#{app_id}"), "sk": _s(key)}).get("Item")
        # DynamoDB deletes expired items lazily (within days): the expiry is checked here.
        if not item or int(item["expires_at"]["N"]) <= now.timestamp():
            return None
        payload: dict[str, Any] = json.loads(item["payload"]["S"])
        return payload

    # -- target health -------------------------------------------------------------------------------------------
    def target_health(self) -> dict[str, TargetHealth]:
        health: dict[str, TargetHealth] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s("TARGET")},
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                health[item["sk"]["S"]] = TargetHealth(
                    failures=int(item.get("failures", {}).get("N", "0")),
                    window_started=float(item.get("window_started", {}).get("N", "0")),
                    cooldown_until=float(item.get("cooldown_until", {}).get("N", "0")),
                )
            if "LastEvaluatedKey" not in page:
                return health
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def target_failed(self, target_id: str, now: float, *, threshold: int, window: float, cooldown: float) -> None:
        """Count a failure; the `threshold`-th within `window` seconds starts a cool-down of `cooldown` seconds."""
        key = {"pk": _s("TARGET"), "sk": _s(target_id)}
        try:
            item = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="ADD failures :one",
                ConditionExpression="window_started > :since",
                ExpressionAttributeValues={":one": _n(1), ":since": _n(now - window)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # No failure window open: this failure opens one.
            item = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET failures = :one, window_started = :now",
                ExpressionAttributeValues={":one": _n(1), ":now": _n(now)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        if int(item["failures"]["N"]) >= threshold:
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET cooldown_until = :until, failures = :zero, window_started = :now",
                ExpressionAttributeValues={":until": _n(now + cooldown), ":zero": _n(0), ":now": _n(now)},
            )

    def target_recovered(self, target_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": _s("TARGET"), "sk": _s(target_id)})

    # -- helpers -------------------------------------------------------------------------------------------------
    @staticmethod
    def _with_conflict_retry(call: Any, attempts: int = 8) -> Any:
        """DynamoDB refuses a write to an item that a concurrent transaction holds (TransactionConflict); the
        counters item is hot by design, so such refusals are retried after a short jittered pause."""
        for attempt in range(attempts):
            try:
                return call()
            except ClientError as exc:
                error = exc.response["Error"]["Code"]
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                conflict = error == "TransactionConflictException" or (
                    error == "TransactionCanceledException" and "TransactionConflict" in reasons
                )
                if not conflict or attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))
        raise AssertionError("unreachable")
