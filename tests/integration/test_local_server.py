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
import requests

from offline.auth import TokenService
from offline.cfn import Stack, load_template
from offline.gateway import MAX_PAYLOAD_BYTES, ApiServer, ListenError, LocalApi
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
        client_lookup=lambda client_id: None,
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


# -- chunked request bodies (finding 7) ---------------------------------------------------------------------------


def test_a_chunked_body_with_extensions_and_trailers_reaches_the_function_whole(
    server: ApiServer, pool: EchoPool, auth: str
) -> None:
    # GIVEN a JSON body sent in three chunks, one with chunk extensions, and a trailer field after the last chunk
    body = b'{"name": "greeting", "template": "Hello {{who}}"}'
    parts = [body[:10], body[10:30], body[30:]]
    chunks = (
        f"{len(parts[0]):x}\r\n".encode()
        + parts[0]
        + b"\r\n"
        + f"{len(parts[1]):X};name=value;flag\r\n".encode()
        + parts[1]
        + b"\r\n"
        + f'{len(parts[2]):x} ; quoted="a;b"\r\n'.encode()
        + parts[2]
        + b"\r\n0\r\nX-Checksum: abc123\r\n\r\n"
    )

    # WHEN it is posted on a keep-alive connection, and another request follows on the same connection
    with connect(server) as sock:
        sock.sendall(post_chunked("/v1/prompts", auth, chunks))
        first = read_reply(sock)
        first_body = first.read()
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: local\r\n\r\n")
        second = read_reply(sock)
        second.read()

    # THEN the function gets the whole body, exactly, and the connection stays usable
    assert first.status == 200, first_body
    assert pool.events[0]["body"] == body.decode()
    assert json.loads(first_body) == len(body)
    assert second.status == 200


def test_a_streamed_upload_from_requests_is_read_like_a_sized_one(server: ApiServer, pool: EchoPool, auth: str) -> None:
    # GIVEN a client library streaming a body from a generator (it sends Transfer-Encoding: chunked)
    body = json.dumps({"name": "streamed", "template": "x" * 100_000}).encode()
    stream = (body[i : i + 7000] for i in range(0, len(body), 7000))

    # WHEN it posts it
    response = requests.post(
        f"http://127.0.0.1:{server.server_address[1]}/v1/prompts",
        data=stream,
        headers={"Authorization": auth, "Content-Type": "application/json"},
        timeout=10,
    )

    # THEN the function gets all of it (before: an empty body, and the handler's 400 body_required)
    assert response.status_code == 200, response.text
    assert pool.events[0]["body"] == body.decode()


def test_a_chunked_chunk_over_10_mb_is_a_413_without_reading_it(server: ApiServer, pool: EchoPool, auth: str) -> None:
    # GIVEN a chunked request whose first chunk announces one byte over API Gateway's 10 MB limit
    announce = f"{MAX_PAYLOAD_BYTES + 1:x}\r\n".encode()

    # WHEN only the chunk's size line is sent (the client holds the 10 MB back)
    with connect(server) as sock:
        sock.sendall(post_chunked("/v1/prompts", auth, announce))
        reply = read_reply(sock)
        error = assert_error_envelope(reply, reply.read(), 413)

        # THEN the answer is a 413 at once, the function never runs, and the server closes the connection
        assert error["code"] == "payload_too_large"
        assert pool.events == []
        assert closed_by_server(sock)


def test_chunks_adding_up_to_more_than_10_mb_are_a_413(server: ApiServer, pool: EchoPool, auth: str) -> None:
    # GIVEN ten chunks of 1 MiB (exactly the limit) and then the size line of one more small chunk
    mib = b"x" * (1024 * 1024)
    chunks = (b"100000\r\n" + mib + b"\r\n") * 10 + b"10\r\n"

    # WHEN they are posted
    with connect(server) as sock:
        sock.sendall(post_chunked("/v1/prompts", auth, chunks))
        reply = read_reply(sock)

        # THEN the limit holds for the sum of the chunks
        error = assert_error_envelope(reply, reply.read(), 413)
        assert error["code"] == "payload_too_large"
        assert pool.events == []
        assert closed_by_server(sock)


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_an_upload_over_10_mb_from_requests_gets_the_413(
    server: ApiServer, pool: EchoPool, auth: str, framing: str
) -> None:
    # GIVEN a client sending 12 MB, streamed or sized (requests sends all of it before it reads the answer)
    mib = b"x" * (1024 * 1024)
    data: Any = (mib for _ in range(12)) if framing == "chunked" else mib * 12

    # WHEN it posts it
    response = requests.post(
        f"http://127.0.0.1:{server.server_address[1]}/v1/prompts",
        data=data,
        headers={"Authorization": auth, "Content-Type": "application/json"},
        timeout=10,
    )

    # THEN it reads the 413 (not a reset connection), and no function ran
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert pool.events == []


def test_expect_100_continue_with_a_body_over_10_mb_gets_the_413_at_once(server: ApiServer, pool: EchoPool) -> None:
    # GIVEN a client that announces 20 MB and waits for 100 Continue before sending them (as curl does)
    data = b"POST /v1/prompts HTTP/1.1\r\nHost: local\r\nContent-Length: 20000000\r\nExpect: 100-continue\r\n\r\n"

    # WHEN it sends the headers
    with connect(server) as sock:
        sock.sendall(data)
        first_line = sock.makefile("rb").readline()

    # THEN the first answer is the final 413, not an invitation to send the 20 MB
    assert first_line.startswith(b"HTTP/1.1 413 ")
    assert pool.events == []


def test_expect_100_continue_with_an_acceptable_body_is_invited_and_served(
    server: ApiServer, pool: EchoPool, auth: str
) -> None:
    # GIVEN a client that waits for 100 Continue before sending its body
    body = b'{"name": "x"}'
    head = (
        f"POST /v1/prompts HTTP/1.1\r\nHost: local\r\nAuthorization: {auth}\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with connect(server) as sock:
        sock.sendall(head)

        # WHEN the server invites it and it sends the body
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body)
        reply = read_reply(sock)

        # THEN the function gets the body
        assert reply.status == 200, reply.read()
        assert pool.events[0]["body"] == body.decode()


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX\r\n0\r\n\r\n",
        b"5;=x\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nnot a field\r\n\r\n",
        b"5" + b" " * 9000 + b"\r\nhello\r\n0\r\n\r\n",
    ],
    ids=[
        "size-not-hex",
        "negative-size",
        "0x-prefix",
        "empty-size",
        "data-longer-than-size",
        "bad-extension",
        "bad-trailer",
        "size-line-too-long",
    ],
)
def test_a_malformed_chunked_body_is_a_400_in_the_error_envelope(
    server: ApiServer, pool: EchoPool, auth: str, chunks: bytes
) -> None:
    # GIVEN a chunked body that breaks the chunked coding's grammar
    # WHEN it is posted
    with connect(server) as sock:
        sock.sendall(post_chunked("/v1/prompts", auth, chunks))
        reply = read_reply(sock)

        # THEN it is a 400 in the error envelope, no function runs, and the connection is closed (framing is lost)
        assert_error_envelope(reply, reply.read(), 400)
        assert pool.events == []
        assert closed_by_server(sock)


def test_a_chunked_body_cut_short_is_a_400(server: ApiServer, pool: EchoPool, auth: str) -> None:
    # GIVEN a chunk announcing 10 bytes of which only 3 arrive before the client stops sending
    with connect(server) as sock:
        sock.sendall(post_chunked("/v1/prompts", auth, b"a\r\nabc"))
        sock.shutdown(socket.SHUT_WR)

        # WHEN / THEN the server answers 400 rather than waiting or passing on a partial body
        reply = read_reply(sock)
        assert_error_envelope(reply, reply.read(), 400)
        assert pool.events == []


# -- Content-Length and Transfer-Encoding together, and bad Content-Length values ----------------------------------


def test_content_length_with_transfer_encoding_is_refused_and_the_connection_closed(
    server: ApiServer, pool: EchoPool, auth: str
) -> None:
    # GIVEN a request with both framings (RFC 9112 6.3: a smuggling attempt; this server refuses it)
    data = post_chunked("/v1/prompts", auth, b"5\r\nhello\r\n0\r\n\r\n", extra_headers="Content-Length: 5\r\n")

    # WHEN it is sent
    with connect(server) as sock:
        sock.sendall(data)
        reply = read_reply(sock)

        # THEN it is a 400 and the connection is closed, so nothing after it is read as a request
        error = assert_error_envelope(reply, reply.read(), 400)
        assert "Transfer-Encoding" in error["message"]
        assert pool.events == []
        assert closed_by_server(sock)


@pytest.mark.parametrize(
    ("coding", "status"),
    [("gzip, chunked", 501), ("gzip", 400), ("chunked, chunked", 400)],
    ids=["gzip-then-chunked", "chunked-not-final", "chunked-twice"],
)
def test_a_transfer_coding_other_than_chunked_is_refused(
    server: ApiServer, pool: EchoPool, auth: str, coding: str, status: int
) -> None:
    # GIVEN a body with a transfer coding the server does not decode (or without chunked last)
    data = (
        f"POST /v1/prompts HTTP/1.1\r\nHost: local\r\nAuthorization: {auth}\r\nTransfer-Encoding: {coding}\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n"
    ).encode()

    # WHEN it is sent
    reply, body = request_raw(server, data)

    # THEN it is refused (501 for a coding it does not know, 400 when the length cannot be determined)
    assert_error_envelope(reply, body, status)
    assert pool.events == []


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "+5", "5, 6", "0x10", ""])
def test_a_bad_content_length_is_a_400_in_the_error_envelope(
    server: ApiServer, pool: EchoPool, auth: str, value: str
) -> None:
    # GIVEN a Content-Length that is not a plain decimal number (or two that disagree)
    data = (
        f"POST /v1/prompts HTTP/1.1\r\nHost: local\r\nAuthorization: {auth}\r\nContent-Length: {value}\r\n\r\nhello"
    ).encode()

    # WHEN it is sent
    with connect(server) as sock:
        sock.sendall(data)
        reply = read_reply(sock)

        # THEN it is a 400 naming the header, and the connection is closed
        error = assert_error_envelope(reply, reply.read(), 400)
        assert "Content-Length" in error["message"]
        assert pool.events == []
        assert closed_by_server(sock)


def test_repeated_equal_content_lengths_are_one_length(server: ApiServer, pool: EchoPool, auth: str) -> None:
    # GIVEN the same Content-Length twice (RFC 9110 8.6 allows a recipient to accept that)
    body = b'{"name": "x"}'
    data = (
        f"POST /v1/prompts HTTP/1.1\r\nHost: local\r\nAuthorization: {auth}\r\n"
        f"Content-Length: {len(body)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    # WHEN / THEN it is read as one body of that length
    reply, answer = request_raw(server, data)
    assert reply.status == 200, answer
    assert pool.events[0]["body"] == body.decode()


# -- HEAD ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_line", "status"),
    [("HEAD /v1/health HTTP/1.1", 404), ("HEAD /v1/nothing HTTP/1.1", 404)],
)
def test_a_head_response_has_headers_but_no_body(server: ApiServer, request_line: str, status: int) -> None:
    # GIVEN a keep-alive connection
    with connect(server) as sock:
        # WHEN a HEAD request is answered and a GET follows on the same connection
        sock.sendall(f"{request_line}\r\nHost: local\r\n\r\n".encode())
        head = read_reply(sock, "HEAD")
        head.read()
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: local\r\n\r\n")
        get = read_reply(sock)

        # THEN the HEAD answer had a Content-Length but no body bytes: the GET's status line comes next, intact
        assert head.status == status
        assert int(head.getheader("content-length") or 0) > 0
        assert get.status == 200
        assert json.loads(get.read()) == 0


def test_a_head_request_with_a_bad_content_length_gets_a_400_without_body(server: ApiServer) -> None:
    # GIVEN a HEAD with a garbage Content-Length
    data = b"HEAD /v1/health HTTP/1.1\r\nHost: local\r\nContent-Length: nope\r\n\r\n"

    # WHEN it is sent
    with connect(server) as sock:
        sock.sendall(data)
        reply = read_reply(sock, "HEAD")

        # THEN the status says 400 and nothing follows the headers before the server closes
        assert reply.status == 400
        assert reply.getheader("content-type") == "application/json"
        assert closed_by_server(sock)


def test_the_server_holds_its_port_from_construction() -> None:
    # GIVEN a server bound but not yet serving (the runtime binds first, then starts everything else)
    held = ApiServer("127.0.0.1", 0)
    try:
        port = held.server_address[1]

        # WHEN another server tries the same port
        # THEN it cannot take it
        with pytest.raises(ListenError, match=f"port {port} on 127.0.0.1 is already in use"):
            ApiServer("127.0.0.1", port)
    finally:
        held.stop()
