"""The provider interface, its errors, and the registry.

A provider translates the gateway's OpenAI-shaped request for one backend. It raises:
- `ProviderRetryable` for throttling, 5xx and timeouts (the gateway retries with backoff, then the next target);
- `ProviderUnavailable` when the target cannot serve at all (bad credentials, model access not granted, unknown model
  id): no retry on this target, the next one is tried, and the target counts as failing;
- `ProviderRejected` when the backend refused the request itself (a 400): returned to the caller as a 400, no retry
  and no fallback, since every target would refuse it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from importlib import import_module
from typing import Protocol

from genai_core.gateway.catalogue import Target
from genai_core.gateway.models import ChatCompletionRequest
from genai_core.gateway.types import ChatResult, EmbeddingResult, StreamEvent


class ProviderError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ProviderRetryable(ProviderError):
    """Throttled, 5xx, or timed out: worth another attempt after a backoff."""


class ProviderUnavailable(ProviderError):
    """This target cannot serve (credentials, access, unknown model): skip it, try the next."""


class ProviderRejected(ProviderError):
    """The backend refused the request as invalid: the caller's to fix."""


class Provider(Protocol):
    name: str

    def unsupported(self, target: Target, request: ChatCompletionRequest) -> list[str]:
        """Request parameters this target cannot honour (names as in the request); empty when all are fine."""
        ...

    def chat(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> ChatResult: ...

    def chat_stream(
        self, target: Target, request: ChatCompletionRequest, *, timeout: float
    ) -> Iterator[StreamEvent]: ...

    def embed(self, target: Target, texts: list[str], *, dimensions: int | None, timeout: float) -> EmbeddingResult: ...


# provider name -> "module:factory"; imported on first use so a function only loads the providers it calls.
_REGISTRY: dict[str, str] = {
    "bedrock": "genai_core.gateway.providers.bedrock:BedrockProvider",
    "openai": "genai_core.gateway.providers.openai_compat:OpenAICompatibleProvider",
}


def register(name: str, factory: str) -> None:
    """Add a provider ("module:callable" returning a `Provider`)."""
    _REGISTRY[name] = factory
    get_provider.cache_clear()


@cache
def get_provider(name: str) -> Provider:
    try:
        module_name, _, attr = _REGISTRY[name].partition(":")
    except KeyError:
        raise ProviderUnavailable(f"unknown provider {name!r}") from None
    factory: Callable[[], Provider] = getattr(import_module(module_name), attr)
    return factory()
