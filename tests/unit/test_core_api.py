"""The shared HTTP wiring, seen from the client: status, the OpenAI error envelope, and headers.

Each test builds a small app with `create_app()` and calls `handle()` with a REST proxy event shaped like
`sam local generate-event apigateway aws-proxy`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

from genai_core.api import create_app, current_caller, handle
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

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
CONTEXT = SimpleNamespace(aws_request_id="lambda-request-id", function_name="fn")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STAGE", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("MAX_BODY_BYTES", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def proxy_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    content_type: str | None = "application/json",
    query: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event, as API Gateway sends it."""
    headers = {
        "Accept": "application/json",
        "Host": "1234567890.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "pytest",
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Proto": "https",
    }
    if content_type is not None:
        headers["Content-Type"] = content_type
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "resourceId": "123456",
        "stage": "test",
        "requestId": REQUEST_ID,
        "requestTime": "09/Apr/2015:12:34:56 +0000",
        "requestTimeEpoch": 1428582896000,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
        "path": f"/test{path}",
        "resourcePath": path,
        "httpMethod": method,
        "apiId": "1234567890",
        "protocol": "HTTP/1.1",
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "body": body,
        "resource": path,
        "path": path,
        "httpMethod": method,
        "isBase64Encoded": is_base64,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
    }


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, case-insensitively, whichever of the two header maps holds it."""
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[-1]
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def error_of(response: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(response["body"])
    assert set(body) == {"error"}
    return body["error"]


class Item(BaseModel):
    name: str
    size: int = 1


class Unmapped(GenAIError):
    """A domain error without its own HTTP mapping."""

    code = "something_odd"


class TooManyPrompts(InvalidRequest):
    """A subclass of a mapped error: must map like its parent."""

    code = "too_many_prompts"


@pytest.fixture
def app() -> APIGatewayRestResolver:
    app = create_app()

    @app.post("/items")
    def create_item(item: Item) -> dict[str, Any]:
        return {"name": item.name, "size": item.size}

    @app.get("/items")
    def list_items(limit: int = 10) -> dict[str, Any]:
        return {"limit": limit}

    @app.post("/ping")
    def ping() -> dict[str, Any]:
        return {"pong": True}

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"app_id": current_caller(app).app_id}

    @app.get("/boom")
    def boom() -> dict[str, Any]:
        raise RuntimeError("connection to db-internal.cluster:5432 refused")

    errors: dict[str, GenAIError] = {
        "invalid": InvalidRequest("name must not be empty", param="name"),
        "unauthenticated": Unauthenticated("send a token"),
        "forbidden": PermissionDenied("not yours"),
        "missing": NotFound("no prompt named greeting", code="prompt_not_found", param="name"),
        "conflict": Conflict("version 3 already exists"),
        "too-large": PayloadTooLarge("too big"),
        "media": UnsupportedMediaType("send JSON"),
        "limited": RateLimited("requests per minute exceeded", retry_after_seconds=42),
        "upstream": UpstreamError("the model provider failed"),
        "unmapped": Unmapped("odd"),
        "subclass": TooManyPrompts("at most 100 prompts per app"),
    }

    @app.get("/fail/<kind>")
    def fail(kind: str) -> dict[str, Any]:
        raise errors[kind]

    return app


# -- success and the request id ---------------------------------------------------------------------------------


def test_a_successful_route_returns_its_json_with_the_request_id_header(app: APIGatewayRestResolver) -> None:
    # GIVEN a valid POST
    event = proxy_event("POST", "/items", body=json.dumps({"name": "a", "size": 3}))

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the route's result comes back with API Gateway's request id stamped on it
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"name": "a", "size": 3}
    assert header(response, "x-request-id") == REQUEST_ID


def test_the_request_id_header_is_stamped_on_errors_too(app: APIGatewayRestResolver) -> None:
    # GIVEN a route that fails with a domain error
    # WHEN it is handled
    response = handle(app, proxy_event("GET", "/fail/missing"), CONTEXT)

    # THEN the error response also carries the request id
    assert response["statusCode"] == 404
    assert header(response, "x-request-id") == REQUEST_ID


def test_without_a_request_context_the_lambda_request_id_is_used(app: APIGatewayRestResolver) -> None:
    # GIVEN an event without API Gateway's request id (e.g. a hand-written test event)
    event = proxy_event("GET", "/items")
    del event["requestContext"]["requestId"]

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the Lambda invocation's id is stamped instead
    assert header(response, "x-request-id") == "lambda-request-id"


# -- the error mapping --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (
            "invalid",
            400,
            {
                "message": "name must not be empty",
                "type": "invalid_request_error",
                "param": "name",
                "code": "invalid_request",
            },
        ),
        (
            "unauthenticated",
            401,
            {"message": "send a token", "type": "authentication_error", "param": None, "code": "unauthorized"},
        ),
        ("forbidden", 403, {"message": "not yours", "type": "permission_error", "param": None, "code": "forbidden"}),
        (
            "missing",
            404,
            {
                "message": "no prompt named greeting",
                "type": "not_found_error",
                "param": "name",
                "code": "prompt_not_found",
            },
        ),
        (
            "conflict",
            409,
            {
                "message": "version 3 already exists",
                "type": "invalid_request_error",
                "param": None,
                "code": "conflict",
            },
        ),
        (
            "too-large",
            413,
            {"message": "too big", "type": "invalid_request_error", "param": None, "code": "payload_too_large"},
        ),
        (
            "media",
            415,
            {"message": "send JSON", "type": "invalid_request_error", "param": None, "code": "unsupported_media_type"},
        ),
        (
            "limited",
            429,
            {
                "message": "requests per minute exceeded",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limited",
            },
        ),
        (
            "upstream",
            502,
            {"message": "the model provider failed", "type": "api_error", "param": None, "code": "upstream_error"},
        ),
    ],
)
def test_each_domain_error_maps_to_its_status_and_the_openai_envelope(
    app: APIGatewayRestResolver, kind: str, status: int, expected: dict[str, Any]
) -> None:
    # GIVEN a route raising a domain error
    # WHEN it is handled
    response = handle(app, proxy_event("GET", f"/fail/{kind}"), CONTEXT)

    # THEN the status is the error's and the body is exactly the OpenAI envelope, as JSON
    assert response["statusCode"] == status
    assert error_of(response) == expected
    assert header(response, "content-type") == "application/json"


def test_a_subclass_of_a_mapped_error_maps_like_its_parent_with_its_own_code(app: APIGatewayRestResolver) -> None:
    # GIVEN a route raising a subclass of InvalidRequest
    # WHEN it is handled
    response = handle(app, proxy_event("GET", "/fail/subclass"), CONTEXT)

    # THEN it is a 400 of type invalid_request_error with the subclass's code
    assert response["statusCode"] == 400
    assert error_of(response)["type"] == "invalid_request_error"
    assert error_of(response)["code"] == "too_many_prompts"


def test_a_domain_error_without_a_mapping_is_a_500_that_keeps_its_code(app: APIGatewayRestResolver) -> None:
    # GIVEN a route raising a GenAIError subclass absent from the mapping
    # WHEN it is handled
    response = handle(app, proxy_event("GET", "/fail/unmapped"), CONTEXT)

    # THEN it is a 500 api_error in the envelope
    assert response["statusCode"] == 500
    assert error_of(response) == {"message": "odd", "type": "api_error", "param": None, "code": "something_odd"}


def test_rate_limited_responses_say_when_to_retry(app: APIGatewayRestResolver) -> None:
    # GIVEN a route refusing with RateLimited(retry_after_seconds=42)
    # WHEN it is handled
    response = handle(app, proxy_event("GET", "/fail/limited"), CONTEXT)

    # THEN the client gets a Retry-After header in seconds
    assert response["statusCode"] == 429
    assert header(response, "Retry-After") == "42"


def test_an_unknown_route_is_a_404_in_the_envelope_naming_method_and_path(app: APIGatewayRestResolver) -> None:
    # GIVEN no route for DELETE /items
    # WHEN it is called
    response = handle(app, proxy_event("DELETE", "/items"), CONTEXT)

    # THEN a 404 names what was asked for
    assert response["statusCode"] == 404
    assert error_of(response) == {
        "message": "no route for DELETE /items",
        "type": "not_found_error",
        "param": None,
        "code": "route_not_found",
    }


def test_an_unexpected_exception_is_an_opaque_500_quoting_the_request_id(app: APIGatewayRestResolver) -> None:
    # GIVEN a route failing with an unexpected exception whose text holds internals
    # WHEN it is handled
    response = handle(app, proxy_event("GET", "/boom"), CONTEXT)

    # THEN the client sees a 500 quoting the request id and nothing of the exception
    assert response["statusCode"] == 500
    assert error_of(response) == {
        "message": f"internal error; quote request id {REQUEST_ID} when reporting it",
        "type": "api_error",
        "param": None,
        "code": "internal_error",
    }
    assert "db-internal" not in response["body"]
    assert "Traceback" not in response["body"]


# -- validation ---------------------------------------------------------------------------------------------------


def test_a_missing_body_field_is_a_400_naming_the_field(app: APIGatewayRestResolver) -> None:
    # GIVEN a body without the required `name`
    event = proxy_event("POST", "/items", body=json.dumps({"size": 2}))

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN a 400 names the field, in the message and in `param`
    assert response["statusCode"] == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_parameter"
    assert error["param"] == "name"
    assert error["message"].startswith("invalid request: name: ")


def test_a_wrongly_typed_body_field_is_a_400_naming_the_field(app: APIGatewayRestResolver) -> None:
    # GIVEN `size` that is not a number
    event = proxy_event("POST", "/items", body=json.dumps({"name": "a", "size": "big"}))

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the 400 names `size`
    assert response["statusCode"] == 400
    assert error_of(response)["param"] == "size"
    assert "size: " in error_of(response)["message"]


def test_a_bad_query_parameter_is_a_400_naming_it(app: APIGatewayRestResolver) -> None:
    # GIVEN ?limit=ten on a route taking an integer limit
    event = proxy_event("GET", "/items", query={"limit": "ten"})

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the 400 names `limit`
    assert response["statusCode"] == 400
    assert error_of(response)["param"] == "limit"
    assert error_of(response)["message"].startswith("invalid request: limit: ")


def test_a_body_that_is_not_json_is_a_400_saying_so(app: APIGatewayRestResolver) -> None:
    # GIVEN a JSON content type with a broken body
    event = proxy_event("POST", "/items", body='{"name": ')

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN a 400 says the body is not valid JSON
    assert response["statusCode"] == 400
    assert error_of(response) == {
        "message": "the request body is not valid JSON: Expecting value (at character 9)",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_json",
    }


# -- body guards --------------------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413_stating_size_and_limit(
    app: APIGatewayRestResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 100-byte limit and a 120-byte valid JSON body
    monkeypatch.setenv("MAX_BODY_BYTES", "100")
    get_settings.cache_clear()
    body = json.dumps({"name": "x" * 108})
    assert len(body) == 120

    # WHEN it is posted
    response = handle(app, proxy_event("POST", "/items", body=body), CONTEXT)

    # THEN it is refused with 413, saying by how much
    assert response["statusCode"] == 413
    assert error_of(response) == {
        "message": "the request body is larger than the limit of 100 bytes (it is 120 bytes)",
        "type": "invalid_request_error",
        "param": None,
        "code": "payload_too_large",
    }


def test_an_oversized_body_is_refused_before_it_is_parsed(
    app: APIGatewayRestResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 100-byte limit and a 200-byte body that is not even JSON
    monkeypatch.setenv("MAX_BODY_BYTES", "100")
    get_settings.cache_clear()

    # WHEN it is posted to a route with a body model
    response = handle(app, proxy_event("POST", "/items", body="x" * 200), CONTEXT)

    # THEN the size is what is reported (413), not a parse error
    assert response["statusCode"] == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_body_at_the_limit_is_accepted(app: APIGatewayRestResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a body exactly as large as the limit
    body = json.dumps({"name": "x" * 8})
    monkeypatch.setenv("MAX_BODY_BYTES", str(len(body)))
    get_settings.cache_clear()

    # WHEN it is posted
    response = handle(app, proxy_event("POST", "/items", body=body), CONTEXT)

    # THEN it goes through
    assert response["statusCode"] == 200


def test_the_limit_counts_decoded_bytes_of_a_base64_body(
    app: APIGatewayRestResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 100-byte limit and a 120-byte body sent base64-encoded (160 characters on the wire)
    monkeypatch.setenv("MAX_BODY_BYTES", "100")
    get_settings.cache_clear()
    raw = json.dumps({"name": "x" * 108}).encode()
    event = proxy_event("POST", "/items", body=base64.b64encode(raw).decode(), is_base64=True)

    # WHEN it is posted
    response = handle(app, event, CONTEXT)

    # THEN the decoded size is reported
    assert response["statusCode"] == 413
    assert "is 120 bytes" in error_of(response)["message"]


def test_a_body_flagged_base64_that_is_not_base64_is_a_400(app: APIGatewayRestResolver) -> None:
    # GIVEN isBase64Encoded with a body that cannot be decoded
    event = proxy_event("POST", "/ping", body="@@@not-base64@@@!", is_base64=True)

    # WHEN it is posted
    response = handle(app, event, CONTEXT)

    # THEN it is a 400 saying so
    assert response["statusCode"] == 400
    assert error_of(response)["message"] == "the request body is not valid base64"


def test_a_post_body_that_is_not_json_is_a_415_naming_the_content_type(app: APIGatewayRestResolver) -> None:
    # GIVEN a POST with a text/plain body to a route without a body model
    event = proxy_event("POST", "/ping", body="hello", content_type="text/plain")

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN it is a 415 that says what to send and what was got
    assert response["statusCode"] == 415
    assert error_of(response) == {
        "message": "send the request body as application/json (got text/plain)",
        "type": "invalid_request_error",
        "param": None,
        "code": "unsupported_media_type",
    }


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_non_json_body_to_a_route_with_a_body_model_is_a_415(app: APIGatewayRestResolver, content_type: str) -> None:
    # GIVEN a POST with a non-JSON content type to a route that validates its body
    event = proxy_event("POST", "/items", body="name=a", content_type=content_type)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN it is a 415 (the client's fault), not a 400 parse error or a 500
    assert response["statusCode"] == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert content_type in error_of(response)["message"]


def test_a_post_body_without_a_content_type_is_a_415(app: APIGatewayRestResolver) -> None:
    # GIVEN a POST body with no Content-Type header at all
    event = proxy_event("POST", "/ping", body="{}", content_type=None)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the 415 says the header is missing
    assert response["statusCode"] == 415
    assert "no Content-Type header" in error_of(response)["message"]


def test_a_json_content_type_with_a_charset_is_accepted(app: APIGatewayRestResolver) -> None:
    # GIVEN application/json with a charset parameter
    event = proxy_event(
        "POST", "/items", body=json.dumps({"name": "a"}), content_type="application/json; charset=utf-8"
    )

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN it is accepted
    assert response["statusCode"] == 200


def test_a_post_without_the_body_its_route_needs_is_a_400_saying_so(app: APIGatewayRestResolver) -> None:
    # GIVEN a POST to a route with a body model, without any body
    event = proxy_event("POST", "/items", content_type=None)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN a 400 says a JSON body is needed
    assert response["statusCode"] == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == ("body_required", "this route needs a JSON request body")


def test_a_post_without_a_body_is_not_asked_for_a_content_type(app: APIGatewayRestResolver) -> None:
    # GIVEN a POST without body or Content-Type
    event = proxy_event("POST", "/ping", content_type=None)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the route runs
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"pong": True}


# -- the caller ---------------------------------------------------------------------------------------------------


def test_current_caller_reads_the_authorizer_claims(app: APIGatewayRestResolver) -> None:
    # GIVEN a request authorised for app "app-7"
    event = proxy_event("GET", "/whoami", claims={"client_id": "app-7", "scope": "genai/invoke"})

    # WHEN the route asks who is calling
    response = handle(app, event, CONTEXT)

    # THEN it is that app
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"app_id": "app-7"}


def test_a_route_needing_a_caller_without_claims_is_a_401(app: APIGatewayRestResolver) -> None:
    # GIVEN a request that came without authorizer claims
    # WHEN the route asks who is calling
    response = handle(app, proxy_event("GET", "/whoami"), CONTEXT)

    # THEN it is a 401 authentication_error
    assert response["statusCode"] == 401
    assert error_of(response)["type"] == "authentication_error"


# -- hostile bodies and paths (review findings 2, 3, 4, 6) --------------------------------------------------------
def test_a_body_that_is_not_utf8_is_a_400_naming_the_byte(app: APIGatewayRestResolver) -> None:
    # GIVEN a JSON body with the bytes FF FE in a string, which API Gateway passes on base64-encoded
    raw = b'{"name": "x\xff\xfe"}'
    event = proxy_event("POST", "/items", body=base64.b64encode(raw).decode(), is_base64=True)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN a 400 (not a 500 from Powertools' decoding) says it is not UTF-8 and where
    assert response["statusCode"] == 400
    assert error_of(response) == {
        "message": "the request body is not valid UTF-8 (byte 0xff at offset 11); send JSON encoded as UTF-8",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_utf8",
    }


def test_a_base64_body_that_is_utf8_json_is_accepted(app: APIGatewayRestResolver) -> None:
    # GIVEN a valid JSON body that arrives base64-encoded
    event = proxy_event("POST", "/items", body=base64.b64encode(b'{"name": "caf\xc3\xa9"}').decode(), is_base64=True)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN it is decoded once and reaches the route
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"name": "café", "size": 1}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 50_000 + "]" * 50_000, "JSON nested deeper than 64 levels"),
        ('{"a":' * 65 + "1" + "}" * 65, "JSON nested deeper than 64 levels"),
        ('{"name": "x", "size": ' + "9" * 40 + "}", "out of range: integers must fit in 64 bits"),
        ('{"name": "x", "size": ' + "9" * 5000 + "}", "out of range: integers must fit in 64 bits"),
        ('{"name": "x", "size": 1e999}', "the number 1e999 is out of range"),
        ('{"name": "x", "size": NaN}', "NaN is not valid JSON; send a number or null"),
        ('{"name": "x", "size": -Infinity}', "-Infinity is not valid JSON; send a number or null"),
        ('[{"name": "x"}, [{}, 3.4e-80]]', "the body must be a JSON object, not list"),
        ('"just a string"', "the body must be a JSON object, not str"),
        ('{"name": "a\\ud83db"}', "a string holds a lone surrogate escape"),
        ('{"name": "\\udc00"}', "a string holds a lone surrogate escape"),
        ('{"name": "x", "name": "y"}', "the key 'name' appears twice in one object"),
    ],
    ids=[
        "nested-50000",
        "nested-65",
        "int-40-digits",
        "int-5000-digits",
        "float-overflow",
        "nan",
        "infinity",
        "top-level-array",
        "top-level-string",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "duplicate-key",
    ],
)
def test_hostile_json_is_a_400_saying_what_is_wrong(app: APIGatewayRestResolver, body: str, reason: str) -> None:
    # GIVEN a body that Python's json module would choke on (RecursionError) or accept but storage would not
    event = proxy_event("POST", "/items", body=body)

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN a 400 invalid_json names the reason, never a 500
    assert response["statusCode"] == 400, response["body"]
    error = error_of(response)
    assert error["code"] == "invalid_json"
    assert reason in error["message"]


def test_json_nested_64_deep_is_still_accepted(app: APIGatewayRestResolver) -> None:
    # GIVEN a body nested exactly at the limit inside a field the route ignores... the model forbids nothing extra
    nested = '{"name": "x", "size": 1, "extra": ' + "[" * 63 + "]" * 63 + "}"

    # WHEN it is handled
    response = handle(app, proxy_event("POST", "/items", body=nested), CONTEXT)

    # THEN parsing succeeds (Item ignores unknown fields), so the limit is not off by one
    assert response["statusCode"] == 200


@pytest.mark.parametrize("segment", ["🙂", 'a"b', "a#b", "a?b", "naïve", "a\\b", "a`b"])
def test_any_path_segment_reaches_the_route(app: APIGatewayRestResolver, segment: str) -> None:
    # GIVEN a path parameter with characters outside Powertools' default "safe URI" set
    event = proxy_event("GET", f"/fail/{segment}")

    # WHEN it is handled
    response = handle(app, event, CONTEXT)

    # THEN the route runs (here it looks the kind up and fails with its own 500), instead of a 404 route_not_found
    assert error_of(response)["code"] != "route_not_found"


# -- route security declared once (genai_core.scopes) ---------------------------------------------------------------
@pytest.fixture
def secured_app() -> APIGatewayRestResolver:
    from genai_core.scopes import ADMIN, PROMPTS_READ, needs

    app = create_app()

    @app.get("/secured", security=needs(PROMPTS_READ))
    def secured() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/admin-only", security=ADMIN)
    def admin_only() -> dict[str, Any]:
        return {"ok": True}

    return app


def test_a_route_refuses_a_token_without_its_declared_scope(secured_app: APIGatewayRestResolver) -> None:
    # GIVEN claims of a token with another scope (as if the authorizer had been misconfigured)
    claims = {"client_id": "app-1", "scope": "genai/invoke", "token_use": "access"}

    # WHEN the route declaring genai/prompts.read is called
    response = handle(secured_app, proxy_event("GET", "/secured", claims=claims), CONTEXT)

    # THEN the function itself refuses with 403 insufficient_scope
    assert response["statusCode"] == 403
    assert error_of(response)["code"] == "insufficient_scope"


def test_a_route_accepts_a_token_with_its_declared_scope(secured_app: APIGatewayRestResolver) -> None:
    claims = {"client_id": "app-1", "scope": "genai/prompts.read", "token_use": "access"}
    response = handle(secured_app, proxy_event("GET", "/secured", claims=claims), CONTEXT)
    assert response["statusCode"] == 200


def test_a_secured_route_without_claims_is_a_401(secured_app: APIGatewayRestResolver) -> None:
    response = handle(secured_app, proxy_event("GET", "/secured"), CONTEXT)
    assert response["statusCode"] == 401


@pytest.mark.parametrize(("groups", "status"), [("admins", 200), ("[admins ops]", 200), ("ops", 403), (None, 403)])
def test_an_admin_route_needs_the_scope_and_the_admins_group(
    secured_app: APIGatewayRestResolver, groups: str | None, status: int
) -> None:
    # GIVEN an admin-pool access token with genai/admin, in or out of the admins group
    claims = {"client_id": "portal", "scope": "openid genai/admin", "token_use": "access", "username": "ada"}
    if groups is not None:
        claims["cognito:groups"] = groups

    # WHEN the admin route is called
    response = handle(secured_app, proxy_event("GET", "/admin-only", claims=claims), CONTEXT)

    # THEN only members of admins get through
    assert response["statusCode"] == status
