"""The local API Gateway: routes every `Api` event of the template to its function as a REST proxy event.

What API Gateway does before and after the function is done here too: the Cognito authorizer's checks
(401/403), unknown routes, the 10 MB payload limit, Lambda errors and timeouts (502/504), each answered with
the template's own `GatewayResponses` so local and deployed errors look the same. The local OAuth2 token
endpoint and JWKS are served beside the API.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from offline.auth import AuthorizerDenied, ClientLookup, OAuthError, TokenService
from offline.functions import FunctionError, FunctionPool, FunctionTimeout
from offline.hosted_ui import HostedUi
from offline.local_models import LocalModels
from offline.portal import Portal
from offline.sam import Route

log = logging.getLogger("offline.gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit

# API Gateway's default status and message per gateway response type.
_DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "BAD_REQUEST_BODY": 400,
    "THROTTLED": 429,
    "INTEGRATION_TIMEOUT": 504,
    "INTEGRATION_FAILURE": 504,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
}
# A Lambda proxy function that raises or answers malformed: API Gateway renders DEFAULT_5XX but with 502.
_LAMBDA_ERROR = 502


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    specificity: tuple[int, int, int]


def compile_routes(routes: list[Route]) -> list[CompiledRoute]:
    """Most specific first, as API Gateway matches: literal segments beat `{param}`, which beats `{proxy+}`."""
    compiled = []
    for route in routes:
        regex, params, greedy = "", 0, 0
        for segment in route.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"/(?P<{segment[1:-2]}>.+)"
                greedy += 1
            elif segment.startswith("{") and segment.endswith("}"):
                regex += f"/(?P<{segment[1:-1]}>[^/]+)"
                params += 1
            elif segment:
                regex += "/" + re.escape(segment)
        pattern = re.compile(f"^{regex or '/'}$")
        compiled.append(CompiledRoute(route, pattern, (greedy, params, -len(route.path))))
    return sorted(compiled, key=lambda c: c.specificity)


class GatewayResponses:
    """Renders API Gateway's own responses from the template's `GatewayResponses` (or AWS's defaults)."""

    def __init__(self, responses: dict[str, dict[str, Any]]) -> None:
        self.responses = responses

    def render(
        self, response_type: str, message: str, request_id: str, status: int | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """`status` is API Gateway's own status where it differs from the type's default (502 for a Lambda error)."""
        status = status or _DEFAULT_STATUS.get(response_type, 500)
        fallback = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        spec = self.responses.get(response_type) or self.responses.get(fallback) or {}
        context = {
            "context.requestId": request_id,
            "context.error.responseType": response_type,
            "context.error.message": message,
        }
        status = int(spec.get("StatusCode", status))
        headers = {"content-type": "application/json"}
        for name, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
            value = str(value)
            headers[name] = value.strip("'") if value.startswith("'") else context.get(value, "")
        template = (spec.get("ResponseTemplates") or {}).get("application/json")
        if template is None:
            return status, headers, json.dumps({"message": message}).encode()
        body = (
            template.replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.responseType", response_type)
            .replace("$context.requestId", request_id)
        )
        return status, headers, body.encode()


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class LocalApi:
    """Everything behind the HTTP server, callable without sockets (and so testable)."""

    def __init__(
        self,
        *,
        routes: list[Route],
        pool: FunctionPool,
        tokens: TokenService,
        pool_ids: dict[str, str],
        gateway_responses: dict[str, dict[str, dict[str, Any]]],
        stage: str,
        account_id: str,
        client_lookup: ClientLookup,
        hosted_ui: HostedUi | None = None,
        access_log: Callable[[str], None] = log.info,
        local_models: LocalModels | None = None,
        runtime_hooks: dict[tuple[str, str], Callable[[bytes], tuple[int, dict[str, Any]]]] | None = None,
        portal: Portal | None = None,
    ) -> None:
        self.routes = compile_routes(routes)
        self.pool = pool
        self.tokens = tokens
        self.pool_ids = pool_ids  # logical id of a user pool -> its physical id
        self.gateway = {api: GatewayResponses(r) for api, r in gateway_responses.items()}
        self.stage = stage
        self.account_id = account_id
        self.client_lookup = client_lookup  # a client of any pool with a domain, by client id
        self.hosted_ui = hosted_ui
        self.access_log = access_log
        self.local_models = local_models  # the runtime's own OpenAI-compatible models, outside the template
        # The runtime's own endpoints under /_offline/ (e.g. Textract results to hand out), outside the template.
        self.runtime_hooks = runtime_hooks or {}
        self.portal = portal  # the admin portal's static files and config.json at /admin/, outside the template

    def _gateway(
        self, api_id: str | None, response_type: str, message: str, request_id: str, status: int | None = None
    ) -> Reply:
        renderer = self.gateway.get(api_id or "") or next(iter(self.gateway.values()), GatewayResponses({}))
        status, headers, body = renderer.render(response_type, message, request_id, status)
        return Reply(status, [*headers.items(), ("x-amzn-RequestId", request_id)], body)

    # -- dispatch ----------------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, client_ip: str) -> Reply:
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        path = unquote(split.path) or "/"
        lower = {k.lower(): v for k, v in headers}
        if path == "/oauth2/token":
            return self._token(method, lower, body)
        if self.hosted_ui is not None and (method, path) in (("GET", "/oauth2/authorize"), ("POST", "/login")):
            status, page_headers, page = (
                self.hosted_ui.authorize(split.query) if method == "GET" else self.hosted_ui.login(body)
            )
            return Reply(status, page_headers, page)
        if self.portal is not None:
            served = self.portal.handle(method, path)
            if served is not None:
                return Reply(*served)
        if path.endswith("/.well-known/jwks.json") and method == "GET":
            return _json_reply(200, self.tokens.jwks())
        if len(body) > MAX_PAYLOAD_BYTES:
            return self._gateway(None, "REQUEST_TOO_LARGE", "Request Too Long", request_id)
        hook = self.runtime_hooks.get((method, path))
        if hook is not None:
            status, payload = hook(body)
            return _json_reply(status, payload)
        if self.local_models is not None and path.startswith("/local-models/"):
            status, model_headers, answer = self.local_models.handle(method, path, lower, body)
            return Reply(status, [*model_headers.items(), ("x-request-id", request_id)], answer)
        match = self._match(method, path)
        if match is None:
            return self._gateway(None, "MISSING_AUTHENTICATION_TOKEN", f"No route for {method} {path}", request_id)
        compiled, path_params = match
        route = compiled.route
        claims = None
        if route.authorizer is not None:
            try:
                pool_id = self.pool_ids[route.user_pool_id or ""]
                claims = self.tokens.authorize(lower.get("authorization"), pool_id, route.scopes)
            except AuthorizerDenied as denied:
                return self._gateway(route.api_id, denied.response_type, denied.message, request_id)
        event = self._event(route, method, path, split.query, headers, body, path_params, claims, request_id, client_ip)
        try:
            result = self.pool.invoke(route.function_id, event, request_id=request_id)
        except FunctionTimeout:
            return self._gateway(route.api_id, "INTEGRATION_TIMEOUT", "Endpoint request timed out", request_id)
        except FunctionError as exc:
            log.error("%s failed: %s", route.function_id, exc)
            return self._gateway(route.api_id, "DEFAULT_5XX", "Internal server error", request_id, _LAMBDA_ERROR)
        reply = _proxy_reply(result)
        if reply is None:
            log.error("%s returned a malformed Lambda proxy response", route.function_id)
            return self._gateway(route.api_id, "DEFAULT_5XX", "Internal server error", request_id, _LAMBDA_ERROR)
        reply.headers.append(("x-amzn-RequestId", request_id))
        return reply

    def _match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if found and compiled.route.method in (method, "ANY"):
                return compiled, found.groupdict()
        return None

    def _token(self, method: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST":
            return _json_reply(405, {"error": "invalid_request", "error_description": "use POST"})
        try:
            payload = self.tokens.token_response(headers, body, self.client_lookup)
        except OAuthError as err:
            return _json_reply(err.status, err.body())
        return _json_reply(200, payload)

    def _event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        path_params: dict[str, str],
        claims: dict[str, Any] | None,
        request_id: str,
        client_ip: str,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        # API Gateway tells the function how the client reached it (the OpenAPI document's server URL uses it).
        present = {k.lower() for k in multi_headers}
        for name, value in (("X-Forwarded-For", client_ip), ("X-Forwarded-Proto", "http")):
            if name.lower() not in present:
                multi_headers[name] = [value]
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            multi_query.setdefault(name, []).append(value)
        try:
            text, is_b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        context: dict[str, Any] = {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            # The path as the client called it: the execute-api URL carries the stage, the local API does not.
            "path": path,
            "accountId": self.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": client_ip,
                "userAgent": next((v for k, v in headers if k.lower() == "user-agent"), None),
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "accessKey": None,
            },
            "domainName": "localhost",
            "apiId": "local",
        }
        if claims is not None:
            context["authorizer"] = {"claims": claims}
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": text if body else None,
            "isBase64Encoded": is_b64,
        }


def _json_reply(status: int, payload: Any) -> Reply:
    return Reply(
        status, [("content-type", "application/json"), ("cache-control", "no-store")], json.dumps(payload).encode()
    )


def _proxy_reply(result: Any) -> Reply | None:
    """A Lambda proxy integration response -> HTTP; None when it is malformed (API Gateway answers 502)."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return None
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    body = result.get("body") or ""
    if not isinstance(body, str):
        return None
    try:
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    except binascii.Error:
        return None
    return Reply(result["statusCode"], headers, data)


# RFC 9110 5.6.2: a method is a token. Any token is served (and answered like API Gateway answers a method
# no route declares); anything else is a malformed request line.
_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_METHOD = re.compile(_TCHAR + "+")
_MAX_LINE = 65536  # the request line, as the stdlib server allows
# The chunked transfer coding (RFC 9112 7.1): chunk-size [ chunk-ext ] CRLF, where
# chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ); and trailer fields after the last.
_TOKEN_B = _TCHAR.encode() + b"+"
_QUOTED_B = rb'"(?:[^"\\\r\n]|\\[^\r\n])*"'
_CHUNK_EXT = rb"[ \t]*;[ \t]*" + _TOKEN_B + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN_B + b"|" + _QUOTED_B + b"))?"
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)(?:" + _CHUNK_EXT + rb")*")
_TRAILER_FIELD = re.compile(_TOKEN_B + rb":[^\r\n\x00]*")
_CONTENT_LENGTH = re.compile(r"[0-9]+")
_MAX_CHUNK_LINE = 8192  # a chunk-size line with its extensions, or one trailer field
_MAX_TRAILER_FIELDS = 100  # as many as http.client allows header fields


class _Refused(Exception):
    """A request refused while reading its framing or body: answered with a gateway response, then closed."""

    def __init__(self, status: int, response_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.response_type = response_type
        self.message = message


def _too_large() -> _Refused:
    return _Refused(413, "REQUEST_TOO_LARGE", "Request Too Long")


def _bad_chunked(problem: str) -> _Refused:
    return _Refused(400, "BAD_REQUEST_BODY", f"Malformed chunked request body: {problem}")


def _content_length(values: list[str]) -> int:
    """The body's length from its Content-Length field(s) (RFC 9110 8.6): one decimal number; a list of the same
    number, repeated, is that number. Anything else (a sign, hex, disagreeing values) is a 400."""
    found = {value.strip() for field in values for value in field.split(",")}
    if len(found) != 1 or not _CONTENT_LENGTH.fullmatch(next(iter(found))):
        shown = ", ".join(values)
        raise _Refused(400, "DEFAULT_4XX", f"Invalid Content-Length {shown!r}: expected one decimal number")
    digits = next(iter(found)).lstrip("0") or "0"
    if len(digits) > len(str(MAX_PAYLOAD_BYTES)):
        raise _too_large()  # without int(): a thousands-digit value would raise, not compare
    return int(digits)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 in front of `LocalApi.handle`; every answer, the HTTP layer's own errors too, is JSON."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed ACK stalls each
    # response by ~40 ms.
    disable_nagle_algorithm = True
    server: ApiServer
    _expect_100 = False  # the request asked for 100 Continue, not sent yet (see handle_expect_100)

    def handle_one_request(self) -> None:
        """The stdlib's loop step, except that every method reaches `_serve` (it answers unknown ones with a
        501 HTML page of its own, and only for methods that have a `do_<METHOD>` attribute)."""
        try:
            self.raw_requestline = self.rfile.readline(_MAX_LINE + 1)
            if len(self.raw_requestline) > _MAX_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return  # the error has been answered
            self._serve()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def parse_request(self) -> bool:
        self._expect_100 = False
        words = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n").split()
        if len(words) == 2:
            # HTTP/0.9 ("GET /path", no version, no headers): the stdlib would answer it without a status line or
            # headers; nothing today speaks it, so it is refused like any other malformed request line.
            self.command, self.path = words
            self.requestline, self.request_version = " ".join(words), "HTTP/0.9"
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not supported; send HTTP/1.1")
            return False
        if not super().parse_request():
            return False
        if not _METHOD.fullmatch(self.command):
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request method ({self.command!r})")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The errors the HTTP layer finds itself (request line, version, headers), in the gateway's envelope.

        The stdlib writes an HTML page here; clients of this API parse JSON errors, so they get the template's
        DEFAULT_4XX/DEFAULT_5XX response with the stdlib's status. The connection is closed after it: after a
        malformed request the rest of the stream cannot be trusted to start a request.
        """
        status = HTTPStatus(code)
        text = message or status.phrase
        if explain:
            text = f"{text} ({explain})"
        if getattr(self, "request_version", "") not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"  # else the stdlib writes neither the status line nor the headers
        self.close_connection = True
        response_type = "DEFAULT_4XX" if code < 500 else "DEFAULT_5XX"
        self._send(self.server.api._gateway(None, response_type, text, str(uuid.uuid4()), code), time.perf_counter())

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except _Refused as refused:
            # Do not read on: the rest of the body is unread or its framing is lost. Answer, then close.
            self.close_connection = True
            request_id = str(uuid.uuid4())
            reply = self.server.api._gateway(None, refused.response_type, refused.message, request_id, refused.status)
        else:
            reply = self.server.api.handle(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0]
            )
        self._send(reply, started)

    # -- the request body -------------------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        """The body as RFC 9112 6.3 frames it, at most MAX_PAYLOAD_BYTES (a 413 before reading more than that)."""
        encodings = self.headers.get_all("transfer-encoding") or []
        lengths = self.headers.get_all("content-length") or []
        if encodings:
            # Both framings in one request is how requests are smuggled past a proxy; RFC 9112 6.3 lets a server
            # refuse it outright (or let Transfer-Encoding win) and close. This one refuses.
            if lengths:
                raise _Refused(400, "DEFAULT_4XX", "A request must not have both Content-Length and Transfer-Encoding")
            if self.request_version == "HTTP/1.0":  # RFC 9112 6.1: its framing is faulty
                raise _Refused(400, "DEFAULT_4XX", "Transfer-Encoding needs HTTP/1.1")
            codings = [c.strip().lower() for field in encodings for c in field.split(",") if c.strip()]
            if not codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
                raise _Refused(400, "DEFAULT_4XX", "Transfer-Encoding must end with chunked, applied once")
            if len(codings) > 1:
                unsupported = ", ".join(codings[:-1])
                raise _Refused(501, "DEFAULT_5XX", f"Transfer-Encoding {unsupported} is not supported; use chunked")
            self._continue()
            return self._read_chunked()
        length = _content_length(lengths) if lengths else 0
        if length > MAX_PAYLOAD_BYTES:
            raise _too_large()
        if length == 0:
            return b""
        self._continue()
        body = self.rfile.read(length)
        if len(body) < length:
            raise _Refused(400, "BAD_REQUEST_BODY", f"The body ended after {len(body)} of its {length} bytes")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self._chunk_line()
            size_line = _CHUNK_SIZE.fullmatch(line)
            if size_line is None:
                raise _bad_chunked(f"bad chunk size line {line[:40]!r}")
            digits = size_line.group(1).lstrip(b"0") or b"0"
            if len(digits) > 8 or len(body) + int(digits, 16) > MAX_PAYLOAD_BYTES:
                raise _too_large()  # before reading the chunk
            size = int(digits, 16)
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) < size:
                raise _bad_chunked("the body ended inside a chunk")
            body += data
            if self._chunk_line() != b"":
                raise _bad_chunked("a chunk is longer than its size")
        for _ in range(_MAX_TRAILER_FIELDS + 1):
            line = self._chunk_line()
            if not line:
                # Trailer fields are read and dropped, as API Gateway passes none to the function.
                return bytes(body)
            if not _TRAILER_FIELD.fullmatch(line):
                raise _bad_chunked(f"bad trailer field {line[:40]!r}")
        raise _bad_chunked(f"more than {_MAX_TRAILER_FIELDS} trailer fields")

    def _chunk_line(self) -> bytes:
        """One line of the chunked coding, without its CRLF (a bare LF is accepted, as for header lines)."""
        raw = self.rfile.readline(_MAX_CHUNK_LINE + 1)
        if len(raw) > _MAX_CHUNK_LINE:
            raise _bad_chunked(f"a chunk size or trailer line is longer than {_MAX_CHUNK_LINE} bytes")
        if not raw.endswith(b"\n"):
            raise _bad_chunked("the body ended before its last chunk")
        return raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue` is answered once the body's framing and size are known to be acceptable, so a
        client announcing 20 MB gets its 413 instead of an invitation to send them."""
        self._expect_100 = True
        return True

    def _continue(self) -> None:
        if self._expect_100:
            self._expect_100 = False
            self.send_response_only(HTTPStatus.CONTINUE)
            self.end_headers()

    # -- the response -----------------------------------------------------------------------------------------------
    def _send(self, reply: Reply, started: float) -> None:
        self.send_response(reply.status)
        sent = {k.lower() for k, _ in reply.headers}
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in sent:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # A request refused before its request line was understood is logged by that line.
        what = f"{self.command} {self.path}" if self.command else repr(getattr(self, "requestline", "")[:200])
        self.server.api.access_log(f"{what} -> {reply.status} ({elapsed_ms:.0f} ms)")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one access line per request is written by _send


class ListenError(Exception):
    """The API cannot listen on its address: the port is taken, not allowed, or the host is not this machine's."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        self.host, self.port = host, port
        self.in_use = error.errno == errno.EADDRINUSE
        if self.in_use:
            message = f"port {port} on {host} is already in use"
        else:
            message = f"cannot listen on {host}:{port}: {error.strerror or error}"
        super().__init__(message)


class ApiServer(ThreadingHTTPServer):
    """Binds and listens when constructed, so the port is held from then on; `start(api)` begins answering.

    Connections that arrive in between wait in the listen queue and are answered once serving starts.
    """

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of new connections (a test suite, a load script, a
    # browser) overflowed it and the rest were dropped or reset. The kernel caps this at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, host: str, port: int, api: LocalApi | None = None) -> None:
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise ListenError(host, port, exc) from exc
        self._api = api
        self._thread: threading.Thread | None = None

    @property
    def api(self) -> LocalApi:
        if self._api is None:
            raise RuntimeError("the API server was not given its API (start(api))")
        return self._api

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, api: LocalApi | None = None) -> None:
        if api is not None:
            self._api = api
        assert self.api  # before any request needs it
        self._thread = threading.Thread(target=self.serve_forever, name="api-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread:  # shutdown() waits for serve_forever, forever if it never ran
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()
