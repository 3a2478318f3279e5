"""The local API's HTTP server over real sockets: framing of request bodies, methods, protocol errors, load.

The server runs in-process on the template's own routes and gateway responses (what `make run` serves); the
functions are a fake pool that records each event and echoes the body's length, so no worker processes start.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from offline.auth import TokenService
from offline.cfn import Stack, load_template
from offline.gateway import ApiServer, LocalApi
from offline.sam import read_application
from tests.conftest import ROOT

POOL_ID = "us-east-1_LocalPool"
REGION = "us-east-1"
ENVELOPE_KEYS = {"message", "type", "param", "code"}


class EchoPool:
    """Stands in for FunctionPool: records each event and answers 200 with the length of the body it got."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def invoke(self, function_id: str, event: dict[str, Any], request_id: str = "") -> Any:
        with self.lock:
            self.events.append(event)
        body = event.get("body") or ""
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(len(body))}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenService:
    return TokenService(tmp_path_factory.mktemp("server") / "signing-key.pem", REGION)


@pytest.fixture(scope="module")
def shared_pool() -> EchoPool:
    return EchoPool()


@pytest.fixture
def pool(shared_pool: EchoPool) -> EchoPool:
    """The server's fake functions, with no events recorded yet."""
    shared_pool.events.clear()
    return shared_pool


@pytest.fixture(scope="module")
def server(shared_pool: EchoPool, tokens: TokenService) -> Iterator[ApiServer]:
    """One server for the module (stopping one waits up to half a second for its serve loop)."""
    stack = Stack(load_template(ROOT / "template.yaml"), ROOT, "genai-test", REGION, "123456789012")
    app = read_application(stack)
    api = LocalApi(
        routes=app.routes,
        pool=shared_pool,  # type: ignore[arg-type]
        tokens=tokens,
        pool_ids={r.user_pool_id: POOL_ID for r in app.routes if r.user_pool_id},
        gateway_responses=app.gateway_responses,
        stage="dev",
        account_id="123456789012",
        token_pool_id=None,
        client_lookup=lambda pool_id, client_id: None,
        access_log=lambda line: None,
    )
    running = ApiServer("127.0.0.1", 0, api)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def auth(tokens: TokenService) -> str:
    scopes = frozenset({"genai/prompts.read", "genai/prompts.write"})
    return "Bearer " + tokens.issue_access_token(POOL_ID, "app", scopes, 600)


def connect(server: ApiServer) -> socket.socket:
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    sock.settimeout(10)  # a test that the server leaves hanging fails instead of blocking the run
    return sock


def read_reply(sock: socket.socket, method: str = "GET") -> http.client.HTTPResponse:
    reply = http.client.HTTPResponse(sock, method=method)
    reply.begin()
    return reply


def request_raw(server: ApiServer, data: bytes, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
    with connect(server) as sock:
        sock.sendall(data)
        reply = read_reply(sock, method)
        return reply, reply.read()


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def assert_error_envelope(reply: http.client.HTTPResponse, body: bytes, status: int) -> dict[str, Any]:
    """What every error looks like to a client: the status, JSON in the OpenAI envelope, a request id."""
    assert reply.status == status, body
    assert reply.getheader("content-type") == "application/json"
    assert b"<html" not in body.lower()
    error = json.loads(body)["error"]
    assert set(error) == ENVELOPE_KEYS
    assert error["param"] is None
    assert isinstance(error["message"], str) and error["message"]
    assert reply.getheader("x-request-id")
    return dict(error)


def post_chunked(path: str, auth: str, chunks: bytes, extra_headers: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: local\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{extra_headers}\r\n"
    ).encode() + chunks


# -- many clients at once (finding 8) -----------------------------------------------------------------------------


def test_150_simultaneous_fresh_connections_are_all_answered(server: ApiServer) -> None:
    # GIVEN 150 clients that each open a new connection at the same instant (loopback only)
    clients = 150
    start = threading.Barrier(clients)
    outcomes: list[str] = []

    def client() -> None:
        start.wait()
        try:
            with socket.create_connection(server.server_address[:2], timeout=10) as sock:
                sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
                reply = read_reply(sock)
                reply.read()
                outcomes.append(str(reply.status))
        except OSError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # WHEN / THEN every one of them gets its answer (before: resets and timeouts past a backlog of 5)
    assert Counter(outcomes) == {"200": clients}


# -- methods and errors of the HTTP layer (finding 11) ------------------------------------------------------------


@pytest.mark.parametrize(
    "request_line",
    [
        "TRACE /v1/health HTTP/1.1",
        "CONNECT 127.0.0.1:443 HTTP/1.1",
        "get /v1/health HTTP/1.1",
        "FOO /v1/prompts HTTP/1.1",
        "Post /v1/prompts HTTP/1.1",
        "PROPFIND /v1/health HTTP/1.1",
    ],
)
def test_any_method_is_answered_as_an_unknown_route_in_the_error_envelope(
    server: ApiServer, pool: EchoPool, request_line: str
) -> None:
    # GIVEN a method no route declares (any token, any case)
    # WHEN it is sent
    reply, body = request_raw(server, f"{request_line}\r\nHost: local\r\n\r\n".encode())

    # THEN API Gateway's unknown-route answer comes back: the template's 404 route_not_found, with a request id
    error = assert_error_envelope(reply, body, 404)
    assert error["code"] == "route_not_found"
    assert error["type"] == "not_found_error"
    assert pool.events == []


def test_a_known_method_still_reaches_its_function(server: ApiServer, pool: EchoPool) -> None:
    # GIVEN GET /v1/health (no authorizer)
    # WHEN / THEN it is served by its function
    reply, _ = request_raw(server, b"GET /v1/health HTTP/1.1\r\nHost: local\r\n\r\n")
    assert reply.status == 200
    assert pool.events[0]["httpMethod"] == "GET"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /v1/health HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /v1/health HTTP/x.y\r\n\r\n", 400),
        (b"GET /v1/health HTTP/2.0\r\n\r\n", 505),
        (b"GET /v1/health\r\n", 400),
        (b"POST /v1/health\r\n", 400),
        (b"G(T /v1/health HTTP/1.1\r\nHost: local\r\n\r\n", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: local\r\n\r\n", 414),
        (b"GET /v1/health HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /v1/health HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431),
    ],
    ids=[
        "one-word",
        "four-words",
        "bad-version",
        "http-2",
        "http-0.9",
        "http-0.9-post",
        "method-not-a-token",
        "uri-too-long",
        "header-line-too-long",
        "too-many-headers",
    ],
)
def test_errors_of_the_http_layer_are_json_in_the_error_envelope(
    server: ApiServer, pool: EchoPool, data: bytes, status: int
) -> None:
    # GIVEN a request the HTTP layer itself refuses, before any route
    # WHEN it is sent
    with connect(server) as sock:
        sock.sendall(data)
        reply = read_reply(sock)

        # THEN the answer is the status with JSON in the error envelope (never an HTML page), and the connection closes
        assert_error_envelope(reply, reply.read(), status)
        assert pool.events == []
        assert closed_by_server(sock)
