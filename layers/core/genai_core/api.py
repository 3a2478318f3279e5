"""HTTP wiring shared by every API function: the resolver, body guards, and the one error mapping.

This is the only module that knows about HTTP status codes. Domain errors (`genai_core.errors`) and request
validation failures become the OpenAI error envelope, so OpenAI SDKs parse them:
`{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}`, with the request id in `x-request-id`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from genai_core import jsonbody
from genai_core.config import get_settings
from genai_core.errors import (
    Conflict,
    GenAIError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    UpstreamError,
)
from genai_core.identity import Caller, caller_from_event
from genai_core.observability import logger
from genai_core.scopes import ADMIN_AUTHORIZER

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
    ServiceUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "api_error"),
}

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def error_body(message: str, *, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _status(exc: GenAIError) -> tuple[HTTPStatus, str]:
    return next(
        (_STATUS[cls] for cls in type(exc).__mro__ if cls in _STATUS),
        (HTTPStatus.INTERNAL_SERVER_ERROR, "api_error"),
    )


def status_of(exc: GenAIError) -> int:
    """The HTTP status a domain error is answered with (usage records keep it)."""
    return _status(exc)[0].value


def error_response(exc: GenAIError) -> Response:
    status, type_ = _status(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited | ServiceUnavailable):
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
    invalid_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if invalid_json is not None:
        reason = str((invalid_json.get("ctx") or {}).get("error") or "").strip()
        position = next((p for p in invalid_json.get("loc", ())[1:] if isinstance(p, int) and p > 0), None)
        where = f" (at character {position})" if position is not None else ""
        return InvalidRequest(
            "the request body is not valid JSON" + (f": {reason}{where}" if reason else ""), code="invalid_json"
        )
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing" for e in errors):
        return InvalidRequest("this route needs a JSON request body", code="body_required")
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        message = str(e.get("msg", "is invalid")).removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
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

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(exc: RequestUnsupportedContentType) -> Response:
        return error_response(UnsupportedMediaType("send the request body as application/json"))

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


def too_large_message(limit: int) -> str:
    """The one wording of a 413, shared with API Gateway's REQUEST_TOO_LARGE response in the template."""
    return f"the request body is larger than the limit of {limit} bytes"


def _raw_body(event: dict[str, Any], body: str) -> bytes:
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("the request body is not valid base64", code="invalid_body") from None


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"the request body is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "send JSON encoded as UTF-8",
            code="invalid_utf8",
        ) from None


def check_body(event: dict[str, Any]) -> None:
    """Refuse oversized, non-JSON and non-UTF-8 bodies before routing, validation or any route code runs.

    API Gateway base64-encodes a body it cannot pass as text; it is decoded here once and put back as text, so
    nothing later decodes it again (Powertools would raise UnicodeDecodeError on bytes that are not UTF-8).
    """
    body = event.get("body")
    if not body:
        return
    raw = _raw_body(event, body)
    limit = get_settings().max_body_bytes
    if len(raw) > limit:
        raise PayloadTooLarge(too_large_message(limit) + f" (it is {len(raw)} bytes)")
    if str(event.get("httpMethod", "")).upper() in _BODY_METHODS:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        content_type = str(headers.get("content-type") or "").lower()
        if content_type.split(";")[0].strip() != "application/json":
            shown = content_type or "no Content-Type header"
            raise UnsupportedMediaType(f"send the request body as application/json (got {shown})")
    if event.get("isBase64Encoded"):
        event["body"], event["isBase64Encoded"] = _utf8(raw), False


class _Resolver(APIGatewayRestResolver):
    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}$") -> re.Pattern[str]:
        # API Gateway has matched the route and decoded the path before the function runs, so a path parameter is
        # any non-empty segment. Powertools' default admits only URI-safe characters and word characters: any other
        # name ("🙂", 'a"b') answered 404 route_not_found instead of the route's own 400 naming the parameter.
        return re.compile(base_regex.format(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule)))


def _enforce_route_security(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Check the caller against the route's declared `security` (defence in depth behind API Gateway)."""
    route = app.context.get("_route")
    requirements: list[dict[str, list[str]]] = getattr(route, "security", None) or []
    if requirements:
        caller = current_caller(app)
        caller.require_any_scope(*sorted({s for req in requirements for scopes in req.values() for s in scopes}))
        if any(ADMIN_AUTHORIZER in req for req in requirements):
            caller.require_admin()
    return next_middleware(app)


def create_app() -> APIGatewayRestResolver:
    """A REST resolver with strict JSON, validation, route security and the error mapping wired in.

    The body guards run in `handle`, before routing. Each route declares its `security` (`genai_core.scopes`).
    """
    app = _Resolver(enable_validation=True, json_body_deserializer=jsonbody.loads)
    # The document's title, version and security schemes are set where it is generated (tools/openapi.py), so
    # functions do not import Powertools' OpenAPI models at cold start.
    app.use([_enforce_route_security])
    register_error_handlers(app)
    return app


def current_caller(app: APIGatewayRestResolver) -> Caller:
    return caller_from_event(app.current_event.raw_event)


def current_actor(app: APIGatewayRestResolver) -> str:
    """Who an audit entry names: the signed-in admin by the email they sign in with, else the app.

    Access tokens carry the user's Cognito username only, which in the admins pool (email sign-in) is an opaque
    id; the email is looked up once per container (`ADMIN_USER_POOL_ID`), and the username stands when it cannot be.
    """
    caller = current_caller(app)
    if caller.username:
        return _email_of(caller.username)
    return caller.app_id


@functools.lru_cache(maxsize=256)
def _email_of(username: str) -> str:
    import os

    from genai_core import aws

    pool_id = os.environ.get("ADMIN_USER_POOL_ID")
    if not pool_id:
        return username
    try:
        user = aws.client("cognito-idp").admin_get_user(UserPoolId=pool_id, Username=username)
    except Exception:
        logger.warning("could not read the admin's email; the audit names the username", exc_info=True)
        return username
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    return attributes.get("email") or username


def _proxy_error(exc: GenAIError) -> dict[str, Any]:
    response = error_response(exc)
    headers = {"Content-Type": [content_types.APPLICATION_JSON]}
    headers.update({k: [str(v)] for k, v in (response.headers or {}).items()})
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": headers,
        "body": json.dumps(response.body),
        "isBase64Encoded": False,
    }


def check_app_status(event: dict[str, Any]) -> None:
    """Refuse a disabled or deleted app on any route, whatever its token says (`genai_core.admin.status`).

    People of the admin pool (their tokens name a user) and unauthenticated routes are not apps."""
    try:
        caller = caller_from_event(event)
    except Unauthenticated:
        return
    if caller.username is not None:
        return
    from genai_core.admin.status import get_status_check

    check = get_status_check()
    if check is not None:
        check.require_active(caller.app_id)


def handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Guard the body and the app's status, resolve the event, and stamp the request id and `no-store` on the
    response.

    Responses are per caller and change when a label moves, so no cache between the app and the API may keep them.
    """
    try:
        check_app_status(event)
        check_body(event)
    except GenAIError as exc:
        response = _proxy_error(exc)
    else:
        response = app.resolve(event, context)
    request_id = (event.get("requestContext") or {}).get("requestId") or getattr(context, "aws_request_id", "")
    stamped = {REQUEST_ID_HEADER: request_id, "Cache-Control": "no-store"}
    if "multiValueHeaders" in response:
        response["multiValueHeaders"].update({k: [v] for k, v in stamped.items()})
    else:
        response.setdefault("headers", {}).update(stamped)
    return response
