"""Domain errors. Plain exceptions with a stable machine-readable `code`; no HTTP here.

`genai_core.api` maps each class to an HTTP status and the OpenAI error envelope, in one place.
"""

from __future__ import annotations


class GenAIError(Exception):
    """Base of every error the platform reports to a caller."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code:
            self.code = code


class InvalidRequest(GenAIError):
    """The caller sent something we cannot accept; the message says what to change."""

    code = "invalid_request"


class Unauthenticated(GenAIError):
    code = "unauthorized"


class PermissionDenied(GenAIError):
    code = "forbidden"


class NotFound(GenAIError):
    code = "not_found"


class Conflict(GenAIError):
    code = "conflict"


class PayloadTooLarge(GenAIError):
    code = "payload_too_large"


class UnsupportedMediaType(GenAIError):
    code = "unsupported_media_type"


class RateLimited(GenAIError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds


class UpstreamError(GenAIError):
    """A dependency (model provider, AWS service) failed after retries."""

    code = "upstream_error"


class ServiceUnavailable(GenAIError):
    """Nothing can serve the request right now (e.g. every target of a model is cooling down); retry later."""

    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds
