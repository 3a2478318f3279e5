"""Operators' views of the platform (usage, invocations, totals, documents by status) and the model catalogue.

Usage comes from the gateway's daily per-app per-model counters, never from the per-call records: a report over
30 days and 10 apps is ~1 index Query per month plus one Query per app, whatever the number of calls (see README).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, get_args

from pydantic import Field, ValidationError

from genai_core import aws
from genai_core.config import Settings, load_area_settings
from genai_core.errors import InvalidRequest, NotFound
from genai_core.gateway.catalogue import ModelEntry
from genai_core.gateway.models import ALIAS_PATTERN
from genai_core.gateway.store import MICROS, latency_bucket_bounds
from genai_core.knowledge.models import Status
from genai_core.observability import logger
from genai_core.operations.audit import AuditTrail, default_audit_trail
from genai_core.operations.models import (
    DEFAULT_RANGE_DAYS,
    MAX_RANGE_DAYS,
    DocumentListing,
    DocumentSummary,
    Failure,
    GroupBy,
    Invocation,
    InvocationListing,
    ModelEntryBody,
    PeriodTotals,
    PlatformTotals,
    PromptRef,
    Tokens,
    UsageFigures,
    UsageReport,
    UsageRow,
)
from genai_core.operations.repository import (
    CatalogueStore,
    DailyCounters,
    DocumentIndex,
    DynamoCatalogueStore,
    DynamoDocumentIndex,
    DynamoUsageCounters,
    DynamoUsageRecords,
    UsageCounters,
    UsageRecords,
)
from genai_core.pagination import decode_token, encode_token

DOCUMENT_STATUSES: tuple[str, ...] = get_args(Status)
DOCUMENT_COUNT_CAP = 1000
GROUP_KEYS: tuple[str, ...] = get_args(GroupBy)
_ALIAS = re.compile(ALIAS_PATTERN)


class OperationsSettings(Settings):
    catalogue_table: str = Field(alias="CATALOGUE_TABLE", min_length=1)
    gateway_table: str = Field(alias="GATEWAY_TABLE", min_length=1)
    usage_table: str = Field(alias="USAGE_TABLE", min_length=1)
    documents_table: str = Field(alias="DOCUMENTS_TABLE", min_length=1)


# -- aggregation -------------------------------------------------------------------------------------------------
@dataclass
class _Sum:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micros: int = 0

    def __post_init__(self) -> None:
        self.latency: dict[int, int] = {}
        self.apps: set[str] = set()

    def add(self, row: DailyCounters) -> None:
        self.requests += row.requests
        self.errors += row.errors
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        self.cached_tokens += row.cached_tokens
        self.cost_micros += row.cost_micros
        for bucket, calls in row.latency.items():
            self.latency[bucket] = self.latency.get(bucket, 0) + calls
        if row.requests:
            self.apps.add(row.app_id)

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": round(self.cost_micros / MICROS, 6),
            "latency_p50_ms": percentile(self.latency, 0.50),
            "latency_p95_ms": percentile(self.latency, 0.95),
        }


def percentile(histogram: dict[int, int], q: float) -> int | None:
    """The q-quantile of a latency histogram, interpolated geometrically inside its bucket; None when empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank, seen = q * total, 0
    for bucket in sorted(histogram):
        calls = histogram[bucket]
        if calls and seen + calls >= rank:
            low, high = latency_bucket_bounds(bucket)
            fraction = max(0.0, (rank - seen) / calls)
            return round(low * (high / low) ** fraction)
        seen += calls
    low, high = latency_bucket_bounds(max(histogram))
    return round(high)


def parse_day(value: str | None, param: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{param} must be a date as YYYY-MM-DD, got {value!r}", param=param) from None


def parse_group_by(value: str | None) -> list[str]:
    keys = [k.strip() for k in (value or "day").split(",") if k.strip()]
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown or not keys or len(set(keys)) != len(keys):
        raise InvalidRequest(
            f"group_by must be one or more of {', '.join(GROUP_KEYS)}, comma-separated, each once; got {value!r}",
            param="group_by",
        )
    return [k for k in GROUP_KEYS if k in keys]


# -- the service -------------------------------------------------------------------------------------------------
class OperationsService:
    def __init__(
        self,
        counters: UsageCounters,
        records: UsageRecords,
        documents: DocumentIndex,
        catalogue: CatalogueStore,
        audit: AuditTrail,
        *,
        stage: str,
        region: str,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.counters = counters
        self.records = records
        self.documents = documents
        self.catalogue = catalogue
        self.audit = audit
        self.stage = stage
        self.region = region
        self.today = today

    # -- usage -------------------------------------------------------------------------------------------------------
    def usage(
        self,
        *,
        from_: str | None = None,
        to: str | None = None,
        app_id: str | None = None,
        model: str | None = None,
        group_by: str | None = None,
    ) -> UsageReport:
        """Sums and latency percentiles per group (day, model, app, or a combination) over a UTC date range."""
        keys = parse_group_by(group_by)
        last = parse_day(to, "to") or self.today()
        first = parse_day(from_, "from") or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if first > last:
            raise InvalidRequest(f"from ({first}) is after to ({last})", param="from")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise InvalidRequest(
                f"the range {first}..{last} spans {(last - first).days + 1} days; at most {MAX_RANGE_DAYS}",
                param="from",
            )
        groups: dict[tuple[str, ...], _Sum] = {}
        total = _Sum()
        for row in self.counters.daily(first, last, app_id or None):
            if model and row.model != model:
                continue
            values = {"day": row.day, "model": row.model, "app": row.app_id}
            groups.setdefault(tuple(values[k] for k in keys), _Sum()).add(row)
            total.add(row)
        data = []
        for group in sorted(groups):
            named = dict(zip(keys, group, strict=True))
            data.append(
                UsageRow(
                    day=named.get("day"), model=named.get("model"), app_id=named.get("app"), **groups[group].figures()
                )
            )
        return UsageReport.model_validate(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "group_by": keys,
                "data": data,
                "totals": UsageFigures(**total.figures()),
            }
        )

    def totals(self) -> PlatformTotals:
        """Today's and this month's (UTC) platform totals, and documents by status."""
        today = self.today()
        month, day = _Sum(), _Sum()
        for row in self.counters.daily(today.replace(day=1), today, None):
            month.add(row)
            if row.day == today.isoformat():
                day.add(row)
        counts = {status: self.documents.count(status, DOCUMENT_COUNT_CAP) for status in DOCUMENT_STATUSES}
        return PlatformTotals(
            today=_period(today.isoformat(), day),
            month=_period(today.strftime("%Y-%m"), month),
            documents=counts,
            documents_counted_up_to=DOCUMENT_COUNT_CAP,
        )

    # -- invocations -------------------------------------------------------------------------------------------------
    def invocations(self, app_id: str, *, limit: int, next_token: str | None) -> InvocationListing:
        """An app's recent calls, newest first, as its usage records keep them (no prompt or completion text)."""
        page = self.records.recent(app_id, limit, decode_token(next_token))
        return InvocationListing(
            app_id=app_id, data=[_invocation(item) for item in page.items], next_token=encode_token(page.next_key)
        )

    # -- documents ---------------------------------------------------------------------------------------------------
    def documents_by_status(self, status: str, *, limit: int, next_token: str | None) -> DocumentListing:
        page = self.documents.by_status(status, limit, decode_token(next_token))
        return DocumentListing(
            status=status, data=[self._document(item) for item in page.items], next_token=encode_token(page.next_key)
        )

    def _document(self, item: dict[str, Any]) -> DocumentSummary:
        failure = None
        if item.get("status") == "FAILED":
            failure = Failure(
                step=item.get("failed_step"), error=item.get("error"), message=item.get("cause") or item.get("error")
            )
        arn = item.get("execution_arn")
        return DocumentSummary(
            app_id=item["app_id"],
            document_id=item["document_id"],
            collection_id=item["collection_id"],
            filename=item.get("filename", ""),
            status=item["status"],
            failure=failure,
            execution_arn=arn,
            execution_console_url=execution_console_url(arn) if arn else None,
            updated_at=item.get("updated_at", ""),
        )

    # -- catalogue ---------------------------------------------------------------------------------------------------
    def list_models(self) -> list[ModelEntry]:
        return [entry for _, entry in sorted(self.catalogue.load().items())]

    def get_model(self, alias: str) -> ModelEntry:
        entry = self.catalogue.get(check_alias(alias))
        if entry is None:
            raise NotFound(f"the catalogue has no model {alias!r}", code="model_not_found")
        return entry

    def put_model(self, actor: str, alias: str, body: ModelEntryBody) -> tuple[ModelEntry, bool]:
        """Create or replace an entry (True when created); the gateway sees it within its catalogue cache age."""
        check_alias(alias)
        if body.alias is not None and body.alias != alias:
            raise InvalidRequest(f"the body's alias {body.alias!r} differs from the path's {alias!r}", param="alias")
        try:
            entry = ModelEntry.model_validate({**body.model_dump(exclude_none=True), "alias": alias})
        except ValidationError as exc:  # the body was valid as ModelEntryBody; kept for safety
            raise InvalidRequest(str(exc), param="body") from None
        check_usable(entry, self.stage)
        before = self.catalogue.get(alias)
        self.catalogue.put(entry)
        self._audit(actor, "model.replace" if before else "model.create", alias, before, entry)
        return entry, before is None

    def delete_model(self, actor: str, alias: str) -> None:
        before = self.get_model(alias)
        self.catalogue.delete(alias)
        self._audit(actor, "model.delete", alias, before, None)

    def _audit(self, actor: str, action: str, alias: str, before: ModelEntry | None, after: ModelEntry | None) -> None:
        def dump(entry: ModelEntry | None) -> dict[str, Any] | None:
            return entry.model_dump(mode="json", exclude_none=True) if entry else None

        try:
            self.audit.record(actor, action, f"model/{alias}", dump(before), dump(after))
        except Exception:  # the change is made: a trail that cannot be written is an alarm, not the caller's error
            logger.exception("could not record a catalogue change in the audit trail", extra={"action": action})


def _period(period: str, figures: _Sum) -> PeriodTotals:
    return PeriodTotals(
        period=period,
        requests=figures.requests,
        errors=figures.errors,
        tokens=figures.prompt_tokens + figures.completion_tokens,
        prompt_tokens=figures.prompt_tokens,
        completion_tokens=figures.completion_tokens,
        cost_usd=round(figures.cost_micros / MICROS, 6),
        apps_with_traffic=len(figures.apps),
    )


def _invocation(item: dict[str, Any]) -> Invocation:
    prompt = PromptRef(name=item["prompt_name"], version=item.get("prompt_version")) if "prompt_name" in item else None
    return Invocation(
        request_id=item.get("request_id", ""),
        at=str(item["sk"]).split("#", 1)[0],
        model=item.get("alias", ""),
        kind=item.get("kind", "chat"),
        target=item.get("target"),
        prompt=prompt,
        tokens=Tokens(
            prompt=item.get("prompt_tokens", 0),
            completion=item.get("completion_tokens", 0),
            cached=item.get("cached_tokens", 0),
        ),
        cost_usd=float(item.get("cost_usd", 0)),
        latency_ms=item.get("latency_ms", 0),
        status=item.get("status", 0),
        error_code=item.get("error_code"),
        cache=bool(item.get("cache_hit", False)),
        stream=bool(item.get("stream", False)),
    )


def execution_console_url(arn: str) -> str | None:
    """The Step Functions console page of an execution (its region is the ARN's)."""
    parts = arn.split(":")
    if len(parts) < 4 or not parts[3]:
        return None
    region = parts[3]
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"


def check_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias):
        raise InvalidRequest(f"{alias!r} is not a model alias (letters, digits and ._:/-)", param="alias")
    return alias


_CHAT_ONLY = ("tools", "vision", "json_schema")


def check_usable(entry: ModelEntry, stage: str) -> None:
    """What ModelEntry cannot know: capabilities that make sense together, and provider keys the gateway may read
    (its role reads only secrets named genai/<stage>/providers/...)."""
    if entry.kind == "embeddings":
        extra = [c for c in entry.capabilities if c in _CHAT_ONLY]
        if extra:
            raise InvalidRequest(
                f"an embeddings model cannot have the chat capabilities {', '.join(extra)}", param="capabilities"
            )
    elif entry.dimensions is not None:
        raise InvalidRequest("dimensions is for embeddings models only", param="dimensions")
    prefix = f"genai/{stage}/providers/"
    for i, target in enumerate(entry.targets):
        secret = target.api_key_secret
        if secret and not (secret.startswith(prefix) or f":secret:{prefix}" in secret):
            raise InvalidRequest(
                f"targets.{i}.api_key_secret: the gateway can only read secrets named {prefix}...; got {secret!r}",
                param=f"targets.{i}.api_key_secret",
            )


@lru_cache(maxsize=1)
def get_operations_service() -> OperationsService:
    settings = load_area_settings(OperationsSettings)
    dynamodb = aws.client("dynamodb")
    return OperationsService(
        DynamoUsageCounters(dynamodb, settings.gateway_table),
        DynamoUsageRecords(dynamodb, settings.usage_table),
        DynamoDocumentIndex(dynamodb, settings.documents_table),
        DynamoCatalogueStore(dynamodb, settings.catalogue_table),
        default_audit_trail(),
        stage=settings.stage,
        region=settings.region,
    )
