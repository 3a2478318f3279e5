"""HTTP wiring shared by every API function: the resolver, body guards, and the one error mapping.

This is the only module that knows about HTTP status codes. Domain errors (`genai_core.errors`) and request
validation failures become the OpenAI error envelope, so OpenAI SDKs parse them:
`{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}`, with the request id in `x-request-id`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from genai_core.config import get_settings
from genai_core.errors import (
    Conflict,
    GenAIError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
    UpstreamError,
)
from genai_core.identity import Caller, caller_from_event
from genai_core.observability import logger

REQUEST_ID_HEADER = "x-request-id"

# Domain error class -> (HTTP status, OpenAI error type). Looked up along the MRO, most specific first.
_STATUS: dict[type[GenAIError], tuple[HTTPStatus, str]] = {
    InvalidRequest: (HTTPStatus.BAD_REQUEST, "invalid_request_error"),
    Unauthenticated: (HTTPStatus.UNAUTHORIZED, "authentication_error"),
    PermissionDenied: (HTTPStatus.FORBIDDEN, "permission_error"),
    NotFound: (HTTPStatus.NOT_FOUND, "not_found_error"),
    Conflict: (HTTPStatus.CONFLICT, "invalid_request_error"),
    PayloadTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request_error"),
    UnsupportedMediaType: (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "invalid_request_error"),
    RateLimited: (HTTPStatus.TOO_MANY_REQUESTS, "rate_limit_error"),
    UpstreamError: (HTTPStatus.BAD_GATEWAY, "api_error"),
}

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def error_body(message: str, *, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(exc: GenAIError) -> Response:
    status, type_ = next(
        (_STATUS[cls] for cls in type(exc).__mro__ if cls in _STATUS),
        (HTTPStatus.INTERNAL_SERVER_ERROR, "api_error"),
    )
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(exc.message, type_=type_, code=exc.code, param=exc.param),
        headers=headers,
    )


def _describe_validation(exc: RequestValidationError) -> InvalidRequest:
    """Turn pydantic/Powertools validation errors into one message naming each offending field."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidRequest("the request body is not valid JSON", code="invalid_json")
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        parts.append(f"{field}: {e.get('msg', 'is invalid')}")
    first = next((str(p) for p in errors[0].get("loc", ())[1:]), None) if errors else None
    return InvalidRequest("invalid request: " + "; ".join(parts), code="invalid_parameter", param=first)


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """The single place where exceptions become HTTP responses."""

    @app.exception_handler(GenAIError)
    def _domain(exc: GenAIError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        return error_response(_describe_validation(exc))

    @app.not_found
    def _not_found(_exc: NotFoundError) -> Response:
        event = app.current_event
        return error_response(NotFound(f"no route for {event.http_method} {event.path}", code="route_not_found"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        request_id = app.current_event.request_context.request_id
        logger.exception("unhandled error", extra={"request_id": request_id})
        return Response(
            status_code=HTTPStatus.INTERNAL_SERVER_ERROR.value,
            content_type=content_types.APPLICATION_JSON,
            body=error_body(
                f"internal error; quote request id {request_id} when reporting it",
                type_="api_error",
                code="internal_error",
            ),
        )


def _body_size(body: str, is_base64: bool) -> int:
    if is_base64:
        try:
            return len(base64.b64decode(body))
        except (binascii.Error, ValueError):
            raise InvalidRequest("the request body is not valid base64") from None
    return len(body.encode())


def guard_body(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """Refuse oversized and non-JSON bodies before any route code runs."""
    event = app.current_event
    body = event.body
    if body:
        size = _body_size(body, bool(event.is_base64_encoded))
        limit = get_settings().max_body_bytes
        if size > limit:
            raise PayloadTooLarge(f"the request body is {size} bytes; the limit is {limit} bytes")
        if event.http_method.upper() in _BODY_METHODS:
            content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").lower()
            if content_type.split(";")[0].strip() != "application/json":
                shown = content_type or "no Content-Type header"
                raise UnsupportedMediaType(f"send the request body as application/json (got {shown})")
    return next_middleware(app)


def create_app() -> APIGatewayRestResolver:
    """A REST resolver with validation, the body guards and the error mapping wired in."""
    app = APIGatewayRestResolver(enable_validation=True)
    app.use(middlewares=[guard_body])
    register_error_handlers(app)
    return app


def current_caller(app: APIGatewayRestResolver) -> Caller:
    return caller_from_event(app.current_event.raw_event)


def handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve the event and stamp the API Gateway request id on the response, success or error alike."""
    response = app.resolve(event, context)
    request_id = (event.get("requestContext") or {}).get("requestId") or getattr(context, "aws_request_id", "")
    if "multiValueHeaders" in response:
        response["multiValueHeaders"][REQUEST_ID_HEADER] = [request_id]
    else:
        response.setdefault("headers", {})[REQUEST_ID_HEADER] = request_id
    return response


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
