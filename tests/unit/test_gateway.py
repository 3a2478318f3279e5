"""The local API Gateway, driven without sockets: routing, the authorizer, proxy events and gateway responses.

Functions are a fake pool (no subprocesses); tokens come from a real TokenService.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from offline.auth import TokenService
from offline.functions import FunctionError, FunctionTimeout
from offline.gateway import MAX_PAYLOAD_BYTES, GatewayResponses, LocalApi, Reply, compile_routes
from offline.sam import Route

POOL_ID = "eu-west-1_AppPool1"
CLIENT_ID = "reportsclient123"
SECRET = "s3cr3t-value"
STAGE = "dev"
ACCOUNT = "123456789012"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# A GatewayResponses section as template.yaml would declare it (already resolved), in the OpenAI envelope.
ENVELOPE = (
    '{"error": {"message": $context.error.messageString, "type": "%s", "param": null, '
    '"code": "$context.error.responseType", "request_id": "$context.requestId"}}'
)
TEMPLATE_RESPONSES: dict[str, dict[str, Any]] = {
    "UNAUTHORIZED": {
        "StatusCode": 401,
        "ResponseTemplates": {"application/json": ENVELOPE % "authentication_error"},
        "ResponseParameters": {
            "Headers": {"WWW-Authenticate": "'Bearer'", "x-request-id": "context.requestId"},
        },
    },
    "MISSING_AUTHENTICATION_TOKEN": {
        "StatusCode": 404,
        "ResponseTemplates": {"application/json": ENVELOPE % "not_found_error"},
    },
    "DEFAULT_4XX": {"ResponseTemplates": {"application/json": ENVELOPE % "invalid_request_error"}},
    "DEFAULT_5XX": {"ResponseTemplates": {"application/json": ENVELOPE % "api_error"}},
}


def route(
    method: str, path: str, function_id: str = "Fn", *, scopes: tuple[str, ...] = ("genai/invoke",), auth: bool = True
) -> Route:
    return Route(
        method=method,
        path=path,
        function_id=function_id,
        api_id="Api",
        authorizer="CognitoAuthorizer" if auth else None,
        user_pool_id="AppPool" if auth else None,
        scopes=scopes if auth else (),
    )


class FakePool:
    """Stands in for FunctionPool: records each invocation and answers with a result or raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.result: Any = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}
        self.error: Exception | None = None

    def invoke(self, function_id: str, event: dict[str, Any], request_id: str = "") -> Any:
        self.calls.append((function_id, event, request_id))
        if self.error is not None:
            raise self.error
        return self.result

    @property
    def event(self) -> dict[str, Any]:
        assert len(self.calls) == 1
        return self.calls[0][1]


ROUTES = [
    route("GET", "/v1/health", "HealthFunction", auth=False),
    route("POST", "/v1/chat/completions", "GatewayFunction"),
    route("GET", "/v1/prompts/{name}", "PromptsFunction", scopes=("genai/prompts.read", "genai/prompts.write")),
    route("GET", "/v1/prompts/search", "SearchFunction", scopes=("genai/prompts.read",)),
    route("ANY", "/v1/files/{proxy+}", "FilesFunction"),
]


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


@pytest.fixture
def make_api(
    pool: FakePool,
    tokens: TokenService,
    cognito_client: Callable[..., dict[str, Any]],
    lookup_of: Callable[..., Any],
) -> Callable[..., LocalApi]:
    lookup = lookup_of(cognito_client())

    def build(responses: dict[str, dict[str, Any]] | None = None) -> LocalApi:
        return LocalApi(
            routes=ROUTES,
            pool=pool,  # type: ignore[arg-type]
            tokens=tokens,
            pool_ids={"AppPool": POOL_ID},
            gateway_responses={"Api": responses or {}},
            stage=STAGE,
            account_id=ACCOUNT,
            client_lookup=lookup,
            access_log=lambda line: None,
        )

    return build


@pytest.fixture
def api(make_api: Callable[..., LocalApi]) -> LocalApi:
    return make_api()


def bearer(tokens: TokenService, *scopes: str) -> tuple[str, str]:
    return ("Authorization", "Bearer " + tokens.issue_access_token(POOL_ID, CLIENT_ID, frozenset(scopes), 600))


def header(reply: Reply, name: str) -> str | None:
    values = [v for k, v in reply.headers if k.lower() == name.lower()]
    return values[-1] if values else None


def body_of(reply: Reply) -> Any:
    return json.loads(reply.body)


# -- route matching -----------------------------------------------------------------------------------------------


def test_compiled_routes_are_ordered_literal_then_param_then_greedy() -> None:
    # GIVEN routes declared greedy first, then param, then literal
    routes = [
        route("GET", "/v1/{proxy+}", "Greedy"),
        route("GET", "/v1/prompts/{name}", "Param"),
        route("GET", "/v1/prompts/search", "Literal"),
    ]

    # WHEN they are compiled
    compiled = compile_routes(routes)

    # THEN the literal route is tried first and the greedy one last
    assert [c.route.function_id for c in compiled] == ["Literal", "Param", "Greedy"]


@pytest.mark.parametrize(
    ("path", "function_id"),
    [
        ("/v1/prompts/search", "SearchFunction"),
        ("/v1/prompts/greeting", "PromptsFunction"),
    ],
)
def test_a_literal_segment_beats_a_path_parameter(
    api: LocalApi, pool: FakePool, tokens: TokenService, path: str, function_id: str
) -> None:
    # GIVEN /v1/prompts/search declared after /v1/prompts/{name}
    # WHEN a request is routed
    reply = api.handle("GET", path, [bearer(tokens, "genai/prompts.read")], b"", "127.0.0.1")

    # THEN the most specific route's function gets it
    assert reply.status == 200
    assert pool.calls[0][0] == function_id


def test_a_greedy_path_parameter_takes_the_rest_of_the_path(
    api: LocalApi, pool: FakePool, tokens: TokenService
) -> None:
    # GIVEN an ANY /v1/files/{proxy+} route
    # WHEN a nested DELETE path is requested
    api.handle("DELETE", "/v1/files/a/b/c.txt", [bearer(tokens, "genai/invoke")], b"", "127.0.0.1")

    # THEN the greedy parameter holds the rest of the path, slashes included
    assert pool.event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert pool.event["resource"] == "/v1/files/{proxy+}"


def test_an_unknown_route_is_a_403_missing_authentication_token_by_default(api: LocalApi, pool: FakePool) -> None:
    # GIVEN no template gateway responses
    # WHEN a path no route matches is requested
    reply = api.handle("GET", "/v1/nothing-here", [], b"", "127.0.0.1")

    # THEN API Gateway's default answer comes back, with a request id, and no function runs
    assert reply.status == 403
    assert set(body_of(reply)) == {"message"}
    assert UUID.match(header(reply, "x-amzn-RequestId") or "")
    assert pool.calls == []


def test_a_known_path_with_another_method_is_also_missing_authentication_token(api: LocalApi) -> None:
    # GIVEN GET /v1/health only
    # WHEN it is called with DELETE
    reply = api.handle("DELETE", "/v1/health", [], b"", "127.0.0.1")

    # THEN it is the same 403
    assert reply.status == 403


def test_an_unknown_route_uses_the_templates_mapping_when_given(make_api: Callable[..., LocalApi]) -> None:
    # GIVEN the template maps MISSING_AUTHENTICATION_TOKEN to a 404 in the OpenAI envelope
    api = make_api(TEMPLATE_RESPONSES)

    # WHEN an unknown route is called
    reply = api.handle("GET", "/v1/nothing-here", [], b"", "127.0.0.1")

    # THEN the template's status and body are used
    assert reply.status == 404
    error = body_of(reply)["error"]
    assert error["type"] == "not_found_error"
    assert error["code"] == "MISSING_AUTHENTICATION_TOKEN"
    assert error["request_id"] == header(reply, "x-amzn-RequestId")


# -- authorizer ---------------------------------------------------------------------------------------------------


def test_a_scoped_route_without_a_token_is_a_401(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a route behind the Cognito authorizer
    # WHEN it is called without a token
    reply = api.handle("POST", "/v1/chat/completions", [("Content-Type", "application/json")], b"{}", "127.0.0.1")

    # THEN API Gateway answers 401 and the function never runs
    assert reply.status == 401
    assert body_of(reply) == {"message": "Unauthorized"}
    assert pool.calls == []


def test_a_token_without_the_route_scope_is_a_403(api: LocalApi, pool: FakePool, tokens: TokenService) -> None:
    # GIVEN a token with prompts.read only
    headers = [bearer(tokens, "genai/prompts.read"), ("Content-Type", "application/json")]

    # WHEN it calls the invoke-scoped chat route
    reply = api.handle("POST", "/v1/chat/completions", headers, b"{}", "127.0.0.1")

    # THEN it is a 403 naming the scope needed, and the function never runs
    assert reply.status == 403
    assert "genai/invoke" in body_of(reply)["message"]
    assert pool.calls == []


def test_an_authorizer_refusal_is_rendered_with_the_templates_response(
    make_api: Callable[..., LocalApi], pool: FakePool
) -> None:
    # GIVEN the template's UNAUTHORIZED response
    api = make_api(TEMPLATE_RESPONSES)

    # WHEN a scoped route is called without a token
    reply = api.handle("POST", "/v1/chat/completions", [], b"{}", "127.0.0.1")

    # THEN the client gets the OpenAI envelope with the template's headers
    assert reply.status == 401
    assert body_of(reply)["error"]["type"] == "authentication_error"
    assert header(reply, "WWW-Authenticate") == "Bearer"
    assert header(reply, "x-request-id") == header(reply, "x-amzn-RequestId")


def test_a_route_without_an_authorizer_needs_no_token(api: LocalApi, pool: FakePool) -> None:
    # GIVEN GET /v1/health with Authorizer: NONE
    # WHEN it is called without a token
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN the function runs and its event carries no authorizer
    assert reply.status == 200
    assert "authorizer" not in pool.event["requestContext"]


# -- the proxy event ----------------------------------------------------------------------------------------------


def test_an_authorised_request_reaches_the_function_as_a_rest_proxy_event(
    api: LocalApi, pool: FakePool, tokens: TokenService
) -> None:
    # GIVEN a token with the route's scope, a query string with a repeated key, and a repeated header
    headers = [
        bearer(tokens, "genai/prompts.read"),
        ("User-Agent", "pytest-client"),
        ("X-Tag", "one"),
        ("X-Tag", "two"),
    ]

    # WHEN the request is handled
    reply = api.handle("GET", "/v1/prompts/greeting?label=production&tag=a&tag=b&q=x%20y", headers, b"", "10.0.0.9")

    # THEN the function gets API Gateway's REST proxy event
    assert reply.status == 200
    function_id, event, request_id = pool.calls[0]
    assert function_id == "PromptsFunction"
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/v1/prompts/{name}",
        "/v1/prompts/greeting",
        "GET",
    )
    assert event["pathParameters"] == {"name": "greeting"}
    assert event["queryStringParameters"] == {"label": "production", "tag": "b", "q": "x y"}
    assert event["multiValueQueryStringParameters"] == {"label": ["production"], "tag": ["a", "b"], "q": ["x y"]}
    assert event["headers"]["X-Tag"] == "two"
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["authorizer"]["claims"]["client_id"] == CLIENT_ID
    assert context["authorizer"]["claims"]["scope"] == "genai/prompts.read"
    assert (context["stage"], context["path"], context["resourcePath"], context["accountId"]) == (
        STAGE,
        "/v1/prompts/greeting",  # as the client called it: the local API has no stage in its URLs
        "/v1/prompts/{name}",
        ACCOUNT,
    )
    assert context["identity"]["sourceIp"] == "10.0.0.9"
    assert context["identity"]["userAgent"] == "pytest-client"
    # ... and one request id ties the event, the invocation and the response together
    assert context["requestId"] == request_id == header(reply, "x-amzn-RequestId")
    assert UUID.match(request_id)


def test_each_request_gets_its_own_request_id(api: LocalApi, pool: FakePool) -> None:
    # GIVEN two requests
    first = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")
    second = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # WHEN / THEN their request ids differ
    assert header(first, "x-amzn-RequestId") != header(second, "x-amzn-RequestId")


def test_a_request_without_query_or_headers_has_null_maps(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a bare GET
    api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # WHEN / THEN the maps are null, as API Gateway sends them
    event = pool.event
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    # API Gateway always adds how the client reached it
    assert event["headers"] == {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http"}


def test_a_text_body_is_passed_as_is(api: LocalApi, pool: FakePool, tokens: TokenService) -> None:
    # GIVEN a JSON body
    body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "héllo"}]}).encode()

    # WHEN it is posted
    api.handle("POST", "/v1/chat/completions", [bearer(tokens, "genai/invoke")], body, "127.0.0.1")

    # THEN the function gets the text, not base64
    assert (pool.event["body"], pool.event["isBase64Encoded"]) == (body.decode(), False)


def test_a_binary_body_is_passed_base64_encoded(api: LocalApi, pool: FakePool, tokens: TokenService) -> None:
    # GIVEN bytes that are not UTF-8
    body = b"\x89PNG\r\n\x1a\n\xff\x00"

    # WHEN they are posted
    api.handle("PUT", "/v1/files/logo.png", [bearer(tokens, "genai/invoke")], body, "127.0.0.1")

    # THEN the function gets them base64-encoded and flagged so
    assert pool.event["isBase64Encoded"] is True
    assert base64.b64decode(pool.event["body"]) == body


def test_a_body_over_10_mb_is_a_413_before_any_function_runs(
    api: LocalApi, pool: FakePool, tokens: TokenService
) -> None:
    # GIVEN a body one byte over API Gateway's payload limit
    body = b"x" * (MAX_PAYLOAD_BYTES + 1)

    # WHEN it is posted
    reply = api.handle("POST", "/v1/chat/completions", [bearer(tokens, "genai/invoke")], body, "127.0.0.1")

    # THEN it is refused as API Gateway does
    assert reply.status == 413
    assert body_of(reply) == {"message": "Request Too Long"}
    assert pool.calls == []


# -- the function's answer ----------------------------------------------------------------------------------------


def test_the_functions_status_headers_and_body_are_returned(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a function answering 201 with single and multi-value headers
    pool.result = {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-request-id": "abc"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": '{"id": "p1"}',
    }

    # WHEN it is called
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN the client gets all of it, plus API Gateway's request id header
    assert reply.status == 201
    assert body_of(reply) == {"id": "p1"}
    assert [v for k, v in reply.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert header(reply, "x-request-id") == "abc"
    assert header(reply, "x-amzn-RequestId") == pool.calls[0][2]


def test_a_base64_response_is_decoded_for_the_client(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a function returning binary content base64-encoded
    data = b"\x00\x01binary\xff"
    pool.result = {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(data).decode()}

    # WHEN it is called
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN the client gets the raw bytes
    assert reply.body == data


def test_a_response_without_body_is_empty(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a 204 without a body
    pool.result = {"statusCode": 204}

    # WHEN / THEN the client gets an empty body
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")
    assert (reply.status, reply.body) == (204, b"")


def test_a_function_error_is_a_502_internal_server_error(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a function that raises
    pool.error = FunctionError("HealthFunction", {"errorType": "KeyError", "errorMessage": "'secret'"})

    # WHEN it is called
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN the client gets API Gateway's 502, without the error's details
    assert reply.status == 502
    assert body_of(reply) == {"message": "Internal server error"}
    assert UUID.match(header(reply, "x-amzn-RequestId") or "")


def test_a_function_error_uses_the_templates_default_5xx_body(
    make_api: Callable[..., LocalApi], pool: FakePool
) -> None:
    # GIVEN the template's DEFAULT_5XX response and a failing function
    api = make_api(TEMPLATE_RESPONSES)
    pool.error = FunctionError("HealthFunction", {"errorType": "KeyError", "errorMessage": "'secret'"})

    # WHEN it is called
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN the status stays 502 and the body is the template's envelope
    assert reply.status == 502
    assert body_of(reply)["error"]["type"] == "api_error"
    assert body_of(reply)["error"]["message"] == "Internal server error"


def test_a_function_timeout_is_a_504(api: LocalApi, pool: FakePool) -> None:
    # GIVEN a function that runs past its timeout
    pool.error = FunctionTimeout("HealthFunction", 3.0)

    # WHEN it is called
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN the client gets API Gateway's timeout answer
    assert reply.status == 504
    assert body_of(reply) == {"message": "Endpoint request timed out"}


@pytest.mark.parametrize(
    "result",
    [
        None,
        "just a string",
        {"body": "no status code"},
        {"statusCode": "200", "body": "status as text"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "isBase64Encoded": True, "body": "abc"},
    ],
    ids=["none", "string", "no-status", "text-status", "dict-body", "bad-base64"],
)
def test_a_malformed_proxy_response_is_a_502(api: LocalApi, pool: FakePool, result: Any) -> None:
    # GIVEN a function returning something that is not a Lambda proxy response
    pool.result = result

    # WHEN it is called
    reply = api.handle("GET", "/v1/health", [], b"", "127.0.0.1")

    # THEN API Gateway's 502 is returned
    assert reply.status == 502
    assert body_of(reply) == {"message": "Internal server error"}


# -- gateway responses --------------------------------------------------------------------------------------------


def test_render_fills_the_template_with_message_type_and_request_id() -> None:
    # GIVEN the template's UNAUTHORIZED response
    responses = GatewayResponses(TEMPLATE_RESPONSES)

    # WHEN it is rendered with a message holding quotes
    status, headers, body = responses.render("UNAUTHORIZED", 'token "x" expired', "req-123")

    # THEN status, headers and a valid JSON body are produced from it
    assert status == 401
    assert headers == {"content-type": "application/json", "WWW-Authenticate": "Bearer", "x-request-id": "req-123"}
    assert json.loads(body) == {
        "error": {
            "message": 'token "x" expired',
            "type": "authentication_error",
            "param": None,
            "code": "UNAUTHORIZED",
            "request_id": "req-123",
        }
    }


def test_render_falls_back_to_default_4xx_keeping_the_types_status() -> None:
    # GIVEN a template without ACCESS_DENIED but with DEFAULT_4XX (no status code of its own)
    responses = GatewayResponses(TEMPLATE_RESPONSES)

    # WHEN ACCESS_DENIED is rendered
    status, _, body = responses.render("ACCESS_DENIED", "needs genai/invoke", "req-1")

    # THEN DEFAULT_4XX's body is used with ACCESS_DENIED's 403
    assert status == 403
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    assert json.loads(body)["error"]["code"] == "ACCESS_DENIED"


def test_render_falls_back_to_default_5xx_keeping_the_types_status() -> None:
    # GIVEN a template without INTEGRATION_TIMEOUT but with DEFAULT_5XX
    responses = GatewayResponses(TEMPLATE_RESPONSES)

    # WHEN INTEGRATION_TIMEOUT is rendered
    status, _, body = responses.render("INTEGRATION_TIMEOUT", "Endpoint request timed out", "req-1")

    # THEN DEFAULT_5XX's body is used with the timeout's 504
    assert status == 504
    assert json.loads(body)["error"]["type"] == "api_error"


def test_render_without_any_template_gives_aws_default_message_body() -> None:
    # GIVEN no GatewayResponses at all
    responses = GatewayResponses({})

    # WHEN a response is rendered
    status, headers, body = responses.render("THROTTLED", "Too Many Requests", "req-1")

    # THEN it is AWS's default {"message": ...} with the type's status
    assert status == 429
    assert headers == {"content-type": "application/json"}
    assert json.loads(body) == {"message": "Too Many Requests"}


def test_a_status_code_in_the_template_overrides_the_default() -> None:
    # GIVEN MISSING_AUTHENTICATION_TOKEN mapped to 404 (API Gateway's default is 403)
    # WHEN / THEN the template's status wins
    status, _, _ = GatewayResponses(TEMPLATE_RESPONSES).render("MISSING_AUTHENTICATION_TOKEN", "x", "r")
    assert status == 404


# -- token endpoint and JWKS --------------------------------------------------------------------------------------


def token_request(api: LocalApi, secret: str = SECRET, method: str = "POST") -> Reply:
    credentials = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", f"Basic {credentials}")]
    return api.handle(method, "/oauth2/token", headers, b"grant_type=client_credentials", "127.0.0.1")


def test_the_token_endpoint_issues_a_token_the_api_accepts(api: LocalApi, pool: FakePool) -> None:
    # GIVEN valid client credentials
    # WHEN a token is requested at /oauth2/token
    reply = token_request(api)

    # THEN it is issued, not cached, and works on a scoped route
    assert reply.status == 200
    assert header(reply, "cache-control") == "no-store"
    token = body_of(reply)["access_token"]
    answer = api.handle("POST", "/v1/chat/completions", [("Authorization", f"Bearer {token}")], b"{}", "127.0.0.1")
    assert answer.status == 200


def test_the_token_endpoint_refuses_a_wrong_secret_in_oauth_form(api: LocalApi) -> None:
    # GIVEN a wrong secret
    # WHEN a token is requested
    reply = token_request(api, secret="wrong")

    # THEN the OAuth2 error comes back as JSON with 401
    assert reply.status == 401
    assert body_of(reply)["error"] == "invalid_client"


def test_the_token_endpoint_only_takes_post(api: LocalApi) -> None:
    # GIVEN a GET to the token endpoint
    # WHEN / THEN it is a 405
    assert token_request(api, method="GET").status == 405


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", f"/{POOL_ID}/.well-known/jwks.json"])
def test_the_jwks_is_served_where_cognito_serves_it(api: LocalApi, tokens: TokenService, path: str) -> None:
    # GIVEN the API
    # WHEN the JWKS is fetched at the root or under the pool id (Cognito's issuer URL)
    reply = api.handle("GET", path, [], b"", "127.0.0.1")

    # THEN the signing key is listed
    assert reply.status == 200
    assert tokens.kid in [k["kid"] for k in body_of(reply)["keys"]]


# -- local models ---------------------------------------------------------------------------------------------------


class RecordingModels:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.calls.append((method, path))
        return 200, {"content-type": "text/event-stream"}, b"data: [DONE]\n\n"


def test_local_models_paths_go_to_the_local_models_without_authorization(make_api: Callable[..., LocalApi]) -> None:
    # GIVEN an API with local models mounted
    api = make_api()
    models = RecordingModels()
    api.local_models = models  # type: ignore[assignment]

    # WHEN a request without a token reaches a path under /local-models/
    reply = api.handle("POST", "/local-models/v1/chat/completions?x=1", [], b"{}", "127.0.0.1")

    # THEN the local models answer it, headers and body as they gave them
    assert models.calls == [("POST", "/local-models/v1/chat/completions")]
    assert (reply.status, reply.body) == (200, b"data: [DONE]\n\n")
    assert header(reply, "content-type") == "text/event-stream"


def test_without_local_models_their_paths_are_unknown_routes(api: LocalApi) -> None:
    reply = api.handle("GET", "/local-models/v1/models", [], b"", "127.0.0.1")
    assert reply.status == 403  # API Gateway's answer to a path no route matches
