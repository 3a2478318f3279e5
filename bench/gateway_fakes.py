"""What bench/gateway.py puts around the gateway so that it measures the gateway's own code: a provider that answers
at once, the catalogue entries it serves, and a store and catalogue kept in memory (no AWS client at all).

Imports only what the gateway function imports anyway, so a subprocess can load it after timing the function's import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from genai_core.config import load_area_settings
from genai_core.errors import RateLimited
from genai_core.gateway.catalogue import CacheSetting, Catalogue, ModelEntry, Target
from genai_core.gateway.models import ChatCompletionRequest
from genai_core.gateway.providers.base import register
from genai_core.gateway.service import GatewayService, GatewaySettings
from genai_core.gateway.store import Admission, AppSettings, CacheEntry, Limits, TargetHealth, UsageRecord, Windows
from genai_core.gateway.types import ChatResult, EmbeddingResult, StreamEvent, Usage, stream_of

# The app of events/gateway_chat.json (its token's client_id).
APP_ID = "4m8n2p6q0r4s8t2u6v0w4x8y2z"
# Every limit on (each one is part of the admission's condition), none ever reached by a bench.
LIMITS = Limits(requests_per_minute=1_000_000, tokens_per_minute=10**9, tokens_per_day=10**12, monthly_budget_usd=1e6)
# The catalogue admits only the provider names it knows ("bedrock", "openai"): a target of a new name would be
# skipped as invalid. So the bench's provider is registered under "openai", in the bench's process only.
PROVIDER: Final = "openai"
_TARGET = Target(provider=PROVIDER, base_url="http://bench.invalid/v1", model="echo")
ENTRIES = [
    ModelEntry(alias="bench-chat", targets=[_TARGET], capabilities=["chat"], context_window=8000),
    ModelEntry(
        alias="bench-cached",
        targets=[_TARGET],
        capabilities=["chat"],
        context_window=8000,
        cache=CacheSetting(enabled=True, ttl_seconds=3600),
    ),
]
_ANSWER = ChatResult("Amazon Bedrock is a managed service for foundation models.", [], "stop", Usage(24, 12))


class InstantProvider:
    """Answers every call at once, the same way: the provider's time is zero, all that is left is the gateway's."""

    name = PROVIDER

    def unsupported(self, target: Target, request: ChatCompletionRequest) -> list[str]:
        return []

    def chat(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> ChatResult:
        return _ANSWER

    def chat_stream(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> Iterator[StreamEvent]:
        return iter(stream_of(_ANSWER))

    def embed(self, target: Target, texts: list[str], *, dimensions: int | None, timeout: float) -> EmbeddingResult:
        return EmbeddingResult([[0.0] * 8 for _ in texts], prompt_tokens=len(texts))


def register_instant_provider() -> None:
    """Serve PROVIDER's targets with InstantProvider (through the registry, as the gateway finds providers)."""
    register(PROVIDER, f"{__name__}:InstantProvider")


class MemoryCatalogue:
    """The CatalogueRepository protocol over ENTRIES."""

    def load(self) -> dict[str, ModelEntry]:
        return {entry.alias: entry for entry in ENTRIES}

    def seed(self, entries: list[ModelEntry], *, overwrite: bool = False) -> None:
        pass


class MemoryStore:
    """The GatewayStore protocol in dicts: a request-per-minute count, a usage count, the cache."""

    def __init__(self, limits: Limits = LIMITS) -> None:
        self.settings = AppSettings(limits)
        self.requests: Counter[tuple[str, str]] = Counter()
        self.records = 0
        self.cache: dict[tuple[str, str], dict[str, Any]] = {}

    def app_settings(self, app_id: str) -> AppSettings | None:
        return self.settings

    def admit(self, app_id: str, limits: Limits, now: datetime) -> Admission:
        windows = Windows.at(now)
        key = (app_id, windows.minute)
        if limits.requests_per_minute and self.requests[key] >= limits.requests_per_minute:
            raise RateLimited("rate limit reached", retry_after_seconds=60, code="requests_per_minute_exceeded")
        self.requests[key] += 1
        return Admission(windows)

    def record(self, usage: UsageRecord, admission: Admission | None, cache: CacheEntry | None = None) -> None:
        self.records += 1
        if cache is not None:
            self.cache[(usage.app_id, cache.key)] = cache.payload

    def cached(self, app_id: str, key: str, now: datetime) -> dict[str, Any] | None:
        return self.cache.get((app_id, key))

    def target_health(self) -> dict[str, TargetHealth]:
        return {}

    def target_failed(self, target_id: str, now: float, *, threshold: int, window: float, cooldown: float) -> None:
        pass

    def target_recovered(self, target_id: str) -> None:
        pass


def memory_service() -> GatewayService:
    """The gateway service as the function builds it, on the in-memory catalogue and store."""
    register_instant_provider()
    settings = load_area_settings(GatewaySettings)
    catalogue = Catalogue(MemoryCatalogue(), defaults=None, max_age=settings.config_max_age_seconds)
    return GatewayService(catalogue, MemoryStore(), settings)
