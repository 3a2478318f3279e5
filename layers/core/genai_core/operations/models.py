"""The operations API's shapes: what the admin routes take and answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from genai_core.gateway.catalogue import ModelEntry
from genai_core.gateway.models import ALIAS_PATTERN

GroupBy = Literal["day", "model", "app"]
MAX_RANGE_DAYS = 92
DEFAULT_RANGE_DAYS = 7


class UsageFigures(BaseModel):
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_p50_ms: int | None = Field(default=None, description="From the daily latency histograms (within ~9%)")
    latency_p95_ms: int | None = None


class UsageRow(UsageFigures):
    """One group of the report; only the keys it is grouped by are present."""

    day: str | None = None
    app_id: str | None = None
    model: str | None = None

    @model_serializer(mode="wrap")
    def _only_grouped_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("day", "app_id", "model"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    group_by: list[GroupBy]
    data: list[UsageRow]
    totals: UsageFigures


class Tokens(BaseModel):
    prompt: int
    completion: int
    cached: int


class PromptRef(BaseModel):
    name: str
    version: int | None


class Invocation(BaseModel):
    """A usage record as operators read it: never any prompt or completion text (the records hold none)."""

    request_id: str
    at: str
    model: str
    kind: str
    target: str | None
    prompt: PromptRef | None
    tokens: Tokens
    cost_usd: float
    latency_ms: int
    status: int
    error_code: str | None
    cache: bool
    stream: bool


class InvocationListing(BaseModel):
    app_id: str
    data: list[Invocation]
    next_token: str | None


class PeriodTotals(BaseModel):
    period: str = Field(description="yyyy-mm-dd (today) or yyyy-mm (this month), UTC")
    requests: int
    errors: int
    tokens: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    apps_with_traffic: int


class PlatformTotals(BaseModel):
    today: PeriodTotals
    month: PeriodTotals
    documents: dict[str, int] = Field(description="Documents by status, across apps")
    documents_counted_up_to: int = Field(description="A status whose count reached this number has at least as many")


class Failure(BaseModel):
    step: str | None
    error: str | None
    message: str | None


class DocumentSummary(BaseModel):
    app_id: str
    document_id: str
    collection_id: str
    filename: str
    status: str
    failure: Failure | None
    execution_arn: str | None
    execution_console_url: str | None = Field(description="The execution in the Step Functions console")
    updated_at: str


class DocumentListing(BaseModel):
    status: str
    data: list[DocumentSummary]
    next_token: str | None


class ModelEntryBody(ModelEntry):
    """A catalogue entry as PUT: the alias comes from the path (a body's alias, if any, must be the same)."""

    alias: str | None = Field(default=None, pattern=ALIAS_PATTERN)  # type: ignore[assignment]


class ModelListing(BaseModel):
    data: list[ModelEntry]
