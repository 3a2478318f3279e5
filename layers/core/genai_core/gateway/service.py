"""One gateway call, start to end: resolve the alias, check the request against the model, admit it against the
app's limits, answer from the cache or the provider chain (retries, fallbacks, cool-downs), then record usage.

Everything a caller can get wrong is checked before admission, so a refused request is never billed nor counted.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError

from genai_core import aws
from genai_core.config import Settings, load_area_settings
from genai_core.errors import (
    GenAIError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from genai_core.gateway import tokens
from genai_core.gateway.catalogue import Catalogue, DynamoCatalogue, ModelEntry, Target
from genai_core.gateway.expiring import Expiring
from genai_core.gateway.models import (
    AssistantMessage,
    ChatCompletionRequest,
    EmbeddingsRequest,
    ImagePart,
    KnowledgeReference,
    ResponseFormatJsonSchema,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from genai_core.gateway.providers.base import (
    Provider,
    ProviderRejected,
    ProviderRetryable,
    ProviderUnavailable,
    get_provider,
)
from genai_core.gateway.store import (
    Admission,
    AppSettings,
    CacheEntry,
    DynamoGatewayStore,
    GatewayStore,
    Limits,
    TargetHealth,
    UsageRecord,
)
from genai_core.gateway.types import ChatResult, EmbeddingResult, StreamEvent, ToolCall, Usage, stream_of
from genai_core.observability import logger

T = TypeVar("T")
CacheStatus = Literal["hit", "miss", "off"]
# Fields that change neither the answer nor who may see it: left out of the cache key.
_NOT_IN_CACHE_KEY = {"stream", "stream_options", "user", "metadata", "cache", "prompt"}


class GatewaySettings(Settings):
    catalogue_table: str = Field(alias="CATALOGUE_TABLE", min_length=1)
    gateway_table: str = Field(alias="GATEWAY_TABLE", min_length=1)
    usage_table: str = Field(alias="USAGE_TABLE", min_length=1)
    catalogue_defaults: str = Field(default="aws", alias="CATALOGUE_DEFAULTS")
    # Limits of an app that has none of its own (0 = unlimited).
    requests_per_minute: int = Field(default=600, alias="DEFAULT_REQUESTS_PER_MINUTE", ge=0)
    tokens_per_minute: int = Field(default=400_000, alias="DEFAULT_TOKENS_PER_MINUTE", ge=0)
    tokens_per_day: int = Field(default=10_000_000, alias="DEFAULT_TOKENS_PER_DAY", ge=0)
    monthly_budget_usd: float = Field(default=100.0, alias="DEFAULT_MONTHLY_BUDGET_USD", ge=0)
    attempts_per_target: int = Field(default=3, alias="GATEWAY_ATTEMPTS_PER_TARGET", ge=1, le=10)
    # API Gateway ends a request after 29 s: every attempt together must end before that.
    deadline_seconds: float = Field(default=25.0, alias="GATEWAY_DEADLINE_SECONDS", gt=0)
    failure_threshold: int = Field(default=3, alias="GATEWAY_FAILURE_THRESHOLD", ge=1)
    failure_window_seconds: float = Field(default=60.0, alias="GATEWAY_FAILURE_WINDOW_SECONDS", gt=0)
    cooldown_seconds: float = Field(default=30.0, alias="GATEWAY_COOLDOWN_SECONDS", gt=0)
    # How long a container trusts what it read of the catalogue, app settings and target health.
    config_max_age_seconds: float = Field(default=30.0, alias="GATEWAY_CONFIG_MAX_AGE_SECONDS", ge=0)
    health_max_age_seconds: float = Field(default=5.0, alias="GATEWAY_HEALTH_MAX_AGE_SECONDS", ge=0)
    usage_retention_days: int = Field(default=90, alias="USAGE_RETENTION_DAYS", ge=1)

    @property
    def default_limits(self) -> Limits:
        return Limits(self.requests_per_minute, self.tokens_per_minute, self.tokens_per_day, self.monthly_budget_usd)


@dataclass(frozen=True)
class PromptUse:
    name: str
    version: int


@dataclass(frozen=True)
class Source:
    """A retrieved chunk put into the prompt for `knowledge`; the response cites it by `index` ([1], [2], ...)."""

    index: int
    collection_id: str
    document_id: str
    filename: str | None
    chunk_id: str
    pages: tuple[int, ...]
    heading_path: tuple[str, ...]
    score: float
    text: str


# (app id, the request's knowledge reference, the query text) -> the sources, best first.
Retriever = Callable[[str, KnowledgeReference, str], list[Source]]


@dataclass
class CallContext:
    app_id: str
    request_id: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    provider_seconds: float = 0.0
    target: str | None = None
    attempts: list[str] = field(default_factory=list)
    prompt: PromptUse | None = None
    cache: CacheStatus = "off"
    user: str | None = None
    metadata: dict[str, str] | None = None
    sources: list[Source] | None = None  # with `knowledge`: what the answer may cite

    @property
    def elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)

    @property
    def overhead_ms(self) -> float:
        """The gateway's own time: everything but waiting for providers."""
        return max(0.0, (time.perf_counter() - self.started - self.provider_seconds) * 1000)


@dataclass(frozen=True)
class ChatOutcome:
    alias: str
    result: ChatResult
    events: list[StreamEvent] | None  # when the request streamed
    context: CallContext


@dataclass(frozen=True)
class EmbeddingOutcome:
    alias: str
    result: EmbeddingResult
    context: CallContext


Renderer = Callable[[str, str, dict[str, Any], int | None, str | None], Any]


class GatewayService:
    def __init__(
        self,
        catalogue: Catalogue,
        store: GatewayStore,
        settings: GatewaySettings,
        *,
        render_prompt: Renderer | None = None,
        retrieve: Retriever | None = None,
        provider: Callable[[str], Provider] = get_provider,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.catalogue = catalogue
        self.store = store
        self.settings = settings
        self.render_prompt = render_prompt
        self.retrieve = retrieve
        self.provider = provider
        self.wall_clock = wall_clock
        self.sleep = sleep
        self._apps = Expiring(settings.config_max_age_seconds, clock)
        self._health = Expiring(settings.health_max_age_seconds, clock)

    # -- models --------------------------------------------------------------------------------------------------
    def models(self, app_id: str) -> list[ModelEntry]:
        """The aliases this app may call."""
        allowed = self._app(app_id).allowed_models
        return [e for alias, e in sorted(self.catalogue.entries().items()) if allowed is None or alias in allowed]

    def model(self, app_id: str, alias: str) -> ModelEntry:
        """One alias this app may call; 404 otherwise (a model the app may not use is not shown to exist)."""
        found = next((e for e in self.models(app_id) if e.alias == alias), None)
        if found is None:
            raise _model_not_found(alias)
        return found

    # -- chat ----------------------------------------------------------------------------------------------------
    def chat(self, context: CallContext, request: ChatCompletionRequest) -> ChatOutcome:
        alias = request.model or ""
        context.user, context.metadata = request.user, request.metadata
        try:
            if request.prompt is not None:
                request = self._inject_prompt(context, request)
                alias = request.model or ""
            if request.knowledge is not None:
                request = self._inject_sources(context, request)
            app = self._app(context.app_id)
            entry = self._entry(app, alias, "chat")
            self._check_chat(entry, request)
        except GenAIError as exc:
            self._record_failure(context, alias, "chat", exc, stream=request.stream)
            raise
        admission = self._admit(context, app, entry, "chat", request.stream)
        use_cache = request.cache if request.cache is not None else entry.cache.enabled
        key = _cache_key(entry.alias, request) if use_cache else None
        if key is not None:
            payload = self.store.cached(context.app_id, key, datetime.now(UTC))
            if payload is not None:
                context.cache = "hit"
                result = _result_from_payload(payload)
                self._record(
                    context, entry.alias, "chat", 200, result.usage, admission, stream=request.stream, hit=True
                )
                return ChatOutcome(entry.alias, result, stream_of(result) if request.stream else None, context)
            context.cache = "miss"
        try:
            if request.stream:
                events = self._chain(
                    context, entry, request, lambda p, t, s: list(p.chat_stream(t, request, timeout=s))
                )
                result = _result_from_events(events, request)
            else:
                events = None
                result = self._chain(context, entry, request, lambda p, t, s: p.chat(t, request, timeout=s))
        except GenAIError as exc:
            self._record_failure(context, entry.alias, "chat", exc, admission, stream=request.stream)
            raise
        cache = CacheEntry(key, _payload_of(result), entry.cache.ttl_seconds) if key is not None else None
        self._record(
            context, entry.alias, "chat", 200, result.usage, admission, entry=entry, stream=request.stream, cache=cache
        )
        return ChatOutcome(entry.alias, result, events, context)

    # -- embeddings ----------------------------------------------------------------------------------------------
    def embed(self, context: CallContext, request: EmbeddingsRequest) -> EmbeddingOutcome:
        context.user = request.user
        try:
            app = self._app(context.app_id)
            entry = self._entry(app, request.model, "embeddings")
            texts = request.texts
            self._check_embeddings(entry, request, texts)
        except GenAIError as exc:
            self._record_failure(context, request.model, "embeddings", exc)
            raise
        admission = self._admit(context, app, entry, "embeddings", False)
        try:
            result = self._chain(
                context, entry, None, lambda p, t, s: p.embed(t, texts, dimensions=request.dimensions, timeout=s)
            )
        except GenAIError as exc:
            self._record_failure(context, entry.alias, "embeddings", exc, admission)
            raise
        self._record(context, entry.alias, "embeddings", 200, Usage(result.prompt_tokens, 0), admission, entry=entry)
        return EmbeddingOutcome(entry.alias, result, context)

    # -- checks --------------------------------------------------------------------------------------------------
    def _app(self, app_id: str) -> AppSettings:
        settings: AppSettings | None = self._apps.get(app_id, lambda: self.store.app_settings(app_id))
        defaults = self.settings.default_limits
        return settings.with_default_limits(defaults) if settings is not None else AppSettings(defaults)

    def _entry(self, app: AppSettings, alias: str, kind: str) -> ModelEntry:
        entry = self.catalogue.get(alias)
        if entry is None:
            raise _model_not_found(alias)
        allowed = app.allowed_models
        if allowed is not None and alias not in allowed:
            raise PermissionDenied(f"this app may not use the model {alias!r}", code="model_not_allowed")
        if entry.kind != kind:
            route = "/v1/embeddings" if entry.kind == "embeddings" else "/v1/chat/completions"
            raise InvalidRequest(
                f"{alias!r} is a model for {entry.kind}: call it through {route}",
                code="model_not_supported",
                param="model",
            )
        return entry

    def _check_chat(self, entry: ModelEntry, request: ChatCompletionRequest) -> None:
        caps = set(entry.capabilities)
        if request.n is not None and request.n > 1:
            raise InvalidRequest(
                "n: the gateway returns one choice; send n: 1 or leave it out", code="unsupported_parameter", param="n"
            )
        if request.tools and "tools" not in caps:
            raise InvalidRequest(f"{entry.alias!r} does not support tools", code="unsupported_parameter", param="tools")
        if isinstance(request.response_format, ResponseFormatJsonSchema) and "json_schema" not in caps:
            raise InvalidRequest(
                f"{entry.alias!r} does not support response_format json_schema (json_object works)",
                code="unsupported_parameter",
                param="response_format",
            )
        images = any(
            isinstance(m, UserMessage)
            and isinstance(m.content, list)
            and any(isinstance(p, ImagePart) for p in m.content)
            for m in request.messages
        )
        if images and "vision" not in caps:
            raise InvalidRequest(
                f"{entry.alias!r} does not take images", code="unsupported_parameter", param="messages"
            )
        _check_tool_results(request)
        limit = request.output_limit
        if limit is not None and entry.max_output_tokens is not None and limit > entry.max_output_tokens:
            name = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
            raise InvalidRequest(
                f"{name} is {limit}, above the {entry.max_output_tokens} output tokens {entry.alias!r} can give",
                code="max_tokens_too_large",
                param=name,
            )
        room = entry.context_window - (limit or 0)
        needed = tokens.prompt_tokens(request, at_most=room)
        if needed > room:
            raise InvalidRequest(
                f"this request needs about {needed} prompt tokens"
                + (f" plus {limit} output tokens" if limit else "")
                + f", more than the context window of {entry.alias!r} ({entry.context_window} tokens); "
                "shorten the messages or lower max_tokens",
                code="context_length_exceeded",
                param="messages",
            )
        unsupported = self.provider(entry.targets[0].provider).unsupported(entry.targets[0], request)
        if unsupported:
            raise InvalidRequest(
                f"{entry.alias!r} cannot honour: {', '.join(unsupported)}; leave them out",
                code="unsupported_parameter",
                param=unsupported[0],
            )

    @staticmethod
    def _check_embeddings(entry: ModelEntry, request: EmbeddingsRequest, texts: list[str]) -> None:
        dimensions = request.dimensions or entry.dimensions or DEFAULT_EMBEDDING_DIMENSIONS
        most = MAX_RESPONSE_FLOATS[request.encoding_format] // dimensions
        if len(texts) > most:
            raise InvalidRequest(
                f"{len(texts)} inputs of {dimensions} dimensions would not fit in one response (Lambda answers at "
                f"most 6 MB): send at most {most} inputs per request"
                + (", or use encoding_format base64" if request.encoding_format == "float" else ""),
                code="too_many_inputs",
                param="input",
            )
        if request.dimensions is not None and entry.dimensions is not None and request.dimensions > entry.dimensions:
            raise InvalidRequest(
                f"dimensions is {request.dimensions}, above the {entry.dimensions} of {entry.alias!r}",
                code="unsupported_parameter",
                param="dimensions",
            )
        for index, text in enumerate(texts):
            needed = tokens.text_tokens(text, at_most=entry.context_window)
            if needed > entry.context_window:
                raise InvalidRequest(
                    f"input[{index}] has about {needed} tokens, more than {entry.alias!r} takes "
                    f"({entry.context_window}); split it",
                    code="context_length_exceeded",
                    param="input",
                )

    def _inject_sources(self, context: CallContext, request: ChatCompletionRequest) -> ChatCompletionRequest:
        """Search the collections with the last user message; the chunks found go in a system message just before
        it, numbered so that the answer can cite them."""
        reference = request.knowledge
        assert reference is not None
        if self.retrieve is None:
            raise InvalidRequest("knowledge is not available here", code="unsupported_parameter", param="knowledge")
        question = next((m for m in reversed(request.messages) if isinstance(m, UserMessage)), None)
        query = _text_of(question.content) if question is not None else ""
        if not query.strip():
            raise InvalidRequest(
                "knowledge searches with the last user message's text: add a user message with text",
                code="invalid_request",
                param="knowledge",
            )
        context.sources = self.retrieve(context.app_id, reference, query)
        if not context.sources:
            return request
        position = max(i for i, m in enumerate(request.messages) if isinstance(m, UserMessage))
        messages = list(request.messages)
        messages.insert(position, SystemMessage(role="system", content=sources_prompt(context.sources)))
        return request.model_copy(update={"messages": messages, "knowledge": None})

    def _inject_prompt(self, context: CallContext, request: ChatCompletionRequest) -> ChatCompletionRequest:
        """Render the managed prompt and put it before the request's messages; the prompt's model and parameters
        apply where the request sets none."""
        reference = request.prompt
        assert reference is not None
        if self.render_prompt is None:
            raise InvalidRequest("managed prompts are not available here", code="unsupported_parameter", param="prompt")
        rendered = self.render_prompt(
            context.app_id, reference.name, reference.variables, reference.version, reference.label
        )
        version = rendered.version
        context.prompt = PromptUse(version.name, version.version)
        if rendered.messages is not None:
            injected = list(rendered.messages)
        elif request.messages:
            injected = [{"role": "system", "content": rendered.text}]
        else:
            injected = [{"role": "user", "content": rendered.text}]
        data = {k: v for k, v in (version.parameters or {}).items() if v is not None}
        if version.model and request.model is None:
            data["model"] = version.model
        data.update(request.model_dump(exclude_unset=True, by_alias=True, exclude={"prompt", "messages"}))
        data["messages"] = injected + [m.model_dump(exclude_none=True, by_alias=True) for m in request.messages]
        try:
            return ChatCompletionRequest.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'prompt'}: {e['msg']}" for e in exc.errors())
            raise InvalidRequest(
                f"prompt {version.name!r} version {version.version} does not make a valid request: {problems}",
                code="invalid_prompt_parameters",
                param="prompt",
            ) from None

    # -- limits, providers and records ---------------------------------------------------------------------------
    def _admit(self, context: CallContext, app: AppSettings, entry: ModelEntry, kind: str, stream: bool) -> Admission:
        try:
            return self.store.admit(context.app_id, app.limits, context.started_at)
        except RateLimited as exc:
            self._record_failure(context, entry.alias, kind, exc, stream=stream)
            raise

    def _chain(
        self,
        context: CallContext,
        entry: ModelEntry,
        request: ChatCompletionRequest | None,
        call: Callable[[Provider, Target, float], T],
    ) -> T:
        """Each target in order: retried with jittered backoff on throttling, 5xx and timeouts; skipped while it
        cools down; a refusal of the request itself ends the chain at once (every target would refuse it)."""
        settings = self.settings
        deadline = time.monotonic() + settings.deadline_seconds
        health: dict[str, TargetHealth] = self._health.get("targets", self.store.target_health)
        now = self.wall_clock()
        cooling = [t for t in entry.targets if health.get(t.id, _HEALTHY).cooldown_until > now]
        for index, target in enumerate(entry.targets):
            if target in cooling:
                context.attempts.append(f"{target.id}: skipped, cooling down")
                continue
            provider = self.provider(target.provider)
            if index > 0 and request is not None and provider.unsupported(target, request):
                context.attempts.append(f"{target.id}: skipped, cannot honour the request")
                continue
            for attempt in range(settings.attempts_per_target):
                remaining = deadline - time.monotonic()
                if remaining <= 0.5:
                    break
                started = time.perf_counter()
                try:
                    value = call(provider, target, min(target.timeout_seconds, remaining))
                except ProviderRejected as exc:
                    raise InvalidRequest(
                        f"the model provider refused the request: {exc.message}", code="provider_rejected_request"
                    ) from None
                except ProviderUnavailable as exc:
                    context.attempts.append(f"{target.id}: unavailable: {exc.message}")
                    break
                except ProviderRetryable as exc:
                    context.attempts.append(f"{target.id}: {exc.message}")
                    if attempt + 1 < settings.attempts_per_target:
                        self.sleep(min(2.0, random.uniform(0, 0.25 * 2**attempt)))
                    continue
                finally:
                    context.provider_seconds += time.perf_counter() - started
                context.target = target.id
                if target.id in health:
                    self._recovered(target.id)
                return value
            self._failed(target.id)
        if cooling and len(cooling) == len(entry.targets):
            wait = max(1, round(min(health[t.id].cooldown_until for t in cooling) - now))
            raise ServiceUnavailable(
                f"every target of {entry.alias!r} is cooling down after repeated failures; retry in {wait} s",
                retry_after_seconds=wait,
                code="model_unavailable",
            )
        raise UpstreamError(
            f"{entry.alias!r} is not answering: every target failed ({len(context.attempts)} attempts); retry later",
            code="model_unavailable",
        )

    def _failed(self, target_id: str) -> None:
        logger.warning("model target failed; trying the next one if any", extra={"target": target_id})
        s = self.settings
        try:
            self.store.target_failed(
                target_id,
                self.wall_clock(),
                threshold=s.failure_threshold,
                window=s.failure_window_seconds,
                cooldown=s.cooldown_seconds,
            )
            self._health.put("targets", self.store.target_health())
        except Exception:  # health bookkeeping must not turn a provider failure into a crash
            logger.exception("could not record a target failure", extra={"target": target_id})

    def _recovered(self, target_id: str) -> None:
        try:
            self.store.target_recovered(target_id)
            self._health.put("targets", self.store.target_health())
        except Exception:
            logger.exception("could not record a target recovery", extra={"target": target_id})

    def _record(
        self,
        context: CallContext,
        alias: str,
        kind: str,
        status: int,
        usage: Usage,
        admission: Admission | None,
        *,
        entry: ModelEntry | None = None,
        stream: bool = False,
        hit: bool = False,
        cache: CacheEntry | None = None,
        error_code: str | None = None,
    ) -> None:
        """Write the call's usage record and charge its counters. A failure to record is logged and counted in a
        metric, never turned into an error for a caller whose model call has already been made."""
        record = UsageRecord(
            app_id=context.app_id,
            request_id=context.request_id,
            alias=alias,
            kind=kind,
            status=status,
            started_at=context.started_at,
            latency_ms=context.elapsed_ms,
            target=context.target,
            prompt_name=context.prompt.name if context.prompt else None,
            prompt_version=context.prompt.version if context.prompt else None,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=entry.cost_usd(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
            if entry is not None and not hit
            else 0.0,
            cache_hit=hit,
            stream=stream,
            error_code=error_code,
            attempts=context.attempts,
            user=context.user,
            metadata=context.metadata,
        )
        recorded = True
        try:
            self.store.record(record, admission, cache)
        except Exception:
            logger.exception("could not write a usage record", extra={"request_id": context.request_id})
            recorded = False
        _emit_metrics(record, recorded=recorded)

    def _record_failure(
        self,
        context: CallContext,
        alias: str,
        kind: str,
        exc: GenAIError,
        admission: Admission | None = None,
        *,
        stream: bool = False,
    ) -> None:
        """A call that ended in an error: recorded with its status and code, never billed. Without an admission
        (refused before any model was called) it counts against no limit."""
        # The HTTP status is the API layer's knowledge; usage records keep it so operators read it as callers saw it.
        from genai_core.api import status_of

        if alias:
            self._record(
                context, alias, kind, status_of(exc), Usage(0, 0), admission, stream=stream, error_code=exc.code
            )


_HEALTHY = TargetHealth(0, 0.0, 0.0)
# Embeddings per response: Lambda returns at most 6 MB. A float is up to ~22 characters of JSON, or 5.33 of base64.
MAX_RESPONSE_FLOATS = {"float": 250_000, "base64": 1_000_000}
DEFAULT_EMBEDDING_DIMENSIONS = 1536  # when the catalogue entry does not say


def _model_not_found(alias: str) -> NotFound:
    return NotFound(
        f"the model {alias!r} does not exist; GET /v1/models lists the models this app may use",
        code="model_not_found",
        param="model",
    )


def _check_tool_results(request: ChatCompletionRequest) -> None:
    """Every tool message answers a tool call of an earlier assistant message."""
    offered: set[str] = set()
    for index, message in enumerate(request.messages):
        if isinstance(message, AssistantMessage):
            offered.update(call.id for call in message.tool_calls or [])
        elif isinstance(message, ToolMessage) and message.tool_call_id not in offered:
            raise InvalidRequest(
                f"messages[{index}].tool_call_id {message.tool_call_id!r} matches no tool call of an earlier "
                "assistant message",
                code="invalid_tool_call_id",
                param=f"messages[{index}].tool_call_id",
            )


def _cache_key(alias: str, request: ChatCompletionRequest) -> str:
    normal = request.model_dump(mode="json", exclude_none=True, by_alias=True, exclude=_NOT_IN_CACHE_KEY)
    normal["model"] = alias
    text = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _payload_of(result: ChatResult) -> dict[str, Any]:
    return {
        "content": result.content,
        "tool_calls": [call.__dict__ for call in result.tool_calls],
        "finish_reason": result.finish_reason,
        "refusal": result.refusal,
        "usage": result.usage.__dict__,
    }


def _result_from_payload(payload: dict[str, Any]) -> ChatResult:
    return ChatResult(
        content=payload.get("content"),
        tool_calls=[ToolCall(**call) for call in payload.get("tool_calls", [])],
        finish_reason=payload.get("finish_reason", "stop"),
        usage=Usage(**payload["usage"]),
        refusal=payload.get("refusal"),
    )


def _result_from_events(events: list[StreamEvent], request: ChatCompletionRequest) -> ChatResult:
    """The whole answer a stream carried (to bill it, cache it and count it when the provider sent no usage)."""
    content: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finish: Any = "stop"
    usage: Usage | None = None
    refusal: list[str] = []
    for event in events:
        delta = event.delta
        if delta.get("content"):
            content.append(delta["content"])
        if delta.get("refusal"):
            refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or []:
            slot = calls.setdefault(int(call.get("index", len(calls))), {"id": "", "name": "", "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            function = call.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"] += function.get("arguments") or ""
        if event.finish_reason:
            finish = event.finish_reason
        if event.usage is not None:
            usage = event.usage
    text = "".join(content)
    if usage is None:
        usage = Usage(tokens.prompt_tokens(request), tokens.count(text) if text else 0)
    return ChatResult(
        content=text or None,
        tool_calls=[ToolCall(**calls[i]) for i in sorted(calls)],
        finish_reason=finish,
        usage=usage,
        refusal="".join(refusal) or None,
    )


def _emit_metrics(record: UsageRecord, *, recorded: bool) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from genai_core.observability import metrics

    metrics.add_dimension(name="model", value=record.alias)
    if not recorded:
        metrics.add_metric(name="GatewayUsageRecordErrors", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="GatewayRequests", unit=MetricUnit.Count, value=1)
    if record.status >= 400:
        metrics.add_metric(name="GatewayErrors", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="GatewayPromptTokens", unit=MetricUnit.Count, value=record.prompt_tokens)
        metrics.add_metric(name="GatewayCompletionTokens", unit=MetricUnit.Count, value=record.completion_tokens)
        metrics.add_metric(name="GatewayCachedTokens", unit=MetricUnit.Count, value=record.cached_tokens)
        metrics.add_metric(name="GatewayCostMicroUSD", unit=MetricUnit.Count, value=round(record.cost_usd * 1e6))
        metrics.add_metric(name="GatewayCacheHits", unit=MetricUnit.Count, value=1 if record.cache_hit else 0)
    metrics.add_metric(name="GatewayLatency", unit=MetricUnit.Milliseconds, value=record.latency_ms)


SOURCES_INSTRUCTION = (
    "Answer using the numbered sources below where they are relevant, and cite each source you use by its number "
    "in square brackets, e.g. [1]. If the sources do not contain the answer, say so."
)


def sources_prompt(sources: list[Source]) -> str:
    parts = [SOURCES_INSTRUCTION]
    for source in sources:
        where = [source.filename or source.document_id]
        if source.pages:
            where.append(
                f"page {source.pages[0]}" if len(source.pages) == 1 else f"pages {source.pages[0]}-{source.pages[-1]}"
            )
        if source.heading_path:
            where.append(" > ".join(source.heading_path))
        parts.append(f"[{source.index}] {', '.join(where)}\n{source.text}")
    return "\n\n".join(parts)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


@lru_cache(maxsize=1)
def get_gateway_service() -> GatewayService:
    settings = load_area_settings(GatewaySettings)
    dynamodb = aws.client("dynamodb")
    catalogue = Catalogue(
        DynamoCatalogue(dynamodb, settings.catalogue_table),
        defaults=settings.catalogue_defaults or None,
        max_age=settings.config_max_age_seconds,
    )
    store = DynamoGatewayStore(
        dynamodb, settings.gateway_table, settings.usage_table, usage_retention_days=settings.usage_retention_days
    )
    return GatewayService(catalogue, store, settings, render_prompt=_prompt_renderer(), retrieve=_knowledge_retriever())


def _knowledge_retriever() -> Retriever | None:
    """Search through the knowledge service in-process (the function needs the documents table and the vector
    store); the query's embedding is a gateway call of its own, recorded like any other."""
    import os

    if not os.environ.get("DOCUMENTS_TABLE"):
        return None

    def retrieve(app_id: str, reference: KnowledgeReference, query: str) -> list[Source]:
        from genai_core.knowledge.service import get_knowledge_service

        try:
            found = get_knowledge_service().search(
                app_id, reference.collection_ids, query, reference.k, reference.mode, reference.filter
            )
        except GenAIError as exc:  # name the request's own fields
            if exc.param in {"collection_id", "filter"}:
                exc.param = "knowledge.collection_ids" if exc.param == "collection_id" else "knowledge.filter"
            raise
        return [
            Source(
                index=i,
                collection_id=item.collection_id,
                document_id=item.hit.document_id,
                filename=item.filename,
                chunk_id=item.hit.chunk_id,
                pages=item.hit.pages,
                heading_path=item.hit.heading_path,
                score=item.hit.score,
                text=item.hit.text,
            )
            for i, item in enumerate(found, start=1)
        ]

    return retrieve


def _prompt_renderer() -> Renderer | None:
    import os

    if not os.environ.get("PROMPTS_TABLE"):
        return None

    def render(app_id: str, name: str, variables: dict[str, Any], version: int | None, label: str | None) -> Any:
        from genai_core.prompts.service import get_prompt_service

        return get_prompt_service().render(app_id, name, variables, version=version, label=label)

    return render
