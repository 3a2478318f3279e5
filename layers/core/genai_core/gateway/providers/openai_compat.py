"""Any server that speaks OpenAI's chat completions and embeddings API: OpenAI, Azure OpenAI, Ollama, vLLM,
llama.cpp's server and the offline runtime's local model endpoint.

The request already is OpenAI's shape, so the work is transport: one keep-alive urllib3 pool (botocore has loaded
urllib3 already, so this costs no import time), the target's key from Secrets Manager, SSE parsing for streams, and
mapping the upstream's failures onto the gateway's three error classes.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit, urlunsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError, LocationValueError, NewConnectionError, ProtocolError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from genai_core import aws
from genai_core.gateway.catalogue import Target
from genai_core.gateway.expiring import Expiring
from genai_core.gateway.models import ChatCompletionRequest
from genai_core.gateway.providers.base import ProviderRejected, ProviderRetryable, ProviderUnavailable
from genai_core.gateway.types import (
    ChatResult,
    EmbeddingResult,
    FinishReason,
    StreamEvent,
    ToolCall,
    Usage,
    stream_of,
)

SECRET_MAX_AGE_SECONDS = 300.0
MAX_CONNECT_SECONDS = 5.0
# Upstream error texts reach logs and (for 400s) the caller: enough to act on, not a whole HTML error page.
MAX_MESSAGE_CHARS = 500

# One pool for the process: a warm Lambda reuses its TLS connections across invocations. Retries are off because
# the gateway retries, backs off and falls back itself, and must see every throttle.
_HTTP = urllib3.PoolManager(num_pools=16, maxsize=8, retries=False)

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "tool_calls",  # the deprecated functions API, still sent by some servers
}
# 409 is OpenAI's answer to a request racing another on the same resource, and 425 a proxy's "too early": both
# pass. 402 is a billing problem of the target, never of the request.
_RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
_UNAVAILABLE_STATUSES = frozenset({401, 402, 403, 404})
_SECRET_UNAVAILABLE_CODES = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure", "InvalidRequestException"}
)


def _read_secret_from_aws(secret_id: str) -> str:
    return str(aws.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString") or "")


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(
        self,
        *,
        http: urllib3.PoolManager | None = None,
        read_secret: Callable[[str], str] = _read_secret_from_aws,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http or _HTTP
        self._read_secret = read_secret
        self._keys = Expiring(SECRET_MAX_AGE_SECONDS, clock)  # secret id -> key

    def unsupported(self, target: Target, request: ChatCompletionRequest) -> list[str]:
        # The gateway answers with a single choice, whatever the upstream could do.
        return ["n"] if request.n is not None and request.n > 1 else []

    def chat(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> ChatResult:
        body = _chat_body(target, request)
        body["stream"] = False
        body.pop("stream_options", None)
        return _chat_result(self._call(target, "/chat/completions", body, timeout), target, body)

    def chat_stream(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> Iterator[StreamEvent]:
        """Sends the request and checks the status before returning, so that a target that cannot answer fails
        here, while the gateway can still fall back, rather than once the caller's stream has begun."""
        body = _chat_body(target, request)
        # Usage arrives in a final chunk only when asked for, and every call is billed.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        key = self._api_key(target)
        response = self._post(target, "/chat/completions", body, key, timeout=timeout, stream=True)
        if response.status != 200:
            self._raise_for_status(target, response.status, _read_all(response, target, timeout), key)
        content_type = str(response.headers.get("content-type", "")).lower()
        if content_type.startswith("application/json"):
            # A server that ignores `stream` answers with one whole completion; it still makes a valid stream.
            result = _chat_result(_json_object(_read_all(response, target, timeout), target), target, body)
            return iter(stream_of(result))
        return _events(response, target, timeout, key)

    def embed(self, target: Target, texts: list[str], *, dimensions: int | None, timeout: float) -> EmbeddingResult:
        body: dict[str, Any] = {"model": target.model, "input": texts, "encoding_format": "float"}
        if dimensions is not None:
            body["dimensions"] = dimensions
        return _embedding_result(self._call(target, "/embeddings", body, timeout), texts, target)

    def _call(self, target: Target, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        """POST `body`, read the whole answer, and return its JSON object (or raise the provider error)."""
        key = self._api_key(target)
        response = self._post(target, path, body, key, timeout=timeout, stream=False)
        data = _read_all(response, target, timeout)
        if response.status != 200:
            self._raise_for_status(target, response.status, data, key)
        return _json_object(data, target)

    # -- transport ---------------------------------------------------------------------------------------------

    def _post(
        self, target: Target, path: str, body: dict[str, Any], key: str | None, *, timeout: float, stream: bool
    ) -> urllib3.BaseHTTPResponse:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if key is not None:
            if target.api_key_header.lower() == "authorization":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers[target.api_key_header] = key
        try:
            return self._http.request(
                "POST",
                _url(target, path),
                body=json.dumps(body, separators=(",", ":")).encode(),
                headers=headers,
                timeout=urllib3.Timeout(connect=min(MAX_CONNECT_SECONDS, timeout), read=timeout),
                retries=False,
                preload_content=False,
                redirect=False,
            )
        except HTTPError as exc:
            raise _transport_error(exc, target, timeout) from exc

    def _raise_for_status(self, target: Target, status: int, data: bytes, key: str | None) -> NoReturn:
        message = _scrub(_upstream_message(data), key)
        where = f"{_host(target)} answered {status}"
        if status in (401, 403) and target.api_key_secret:
            # The key may have been rotated since it was cached: the next call reads the secret again.
            self._keys.drop(target.api_key_secret)
        if status == 429 and _error_code(data) == "insufficient_quota":
            # OpenAI's "no credit left" is a 429 too, but no backoff will cure it: move on to the next target.
            raise ProviderUnavailable(f"{where}: {message}", status=status)
        if status in _RETRYABLE_STATUSES or status >= 500:
            raise ProviderRetryable(f"{where}: {message}", status=status)
        if status in _UNAVAILABLE_STATUSES or status < 400:
            # < 400 here is a redirect (not followed): base_url points at the wrong place.
            raise ProviderUnavailable(f"{where}: {message}", status=status)
        # The caller sees this one, so it carries the upstream's words only, not our endpoint's name.
        raise ProviderRejected(message or f"the model refused the request ({status})", status=status)

    # -- API key -----------------------------------------------------------------------------------------------

    def _api_key(self, target: Target) -> str | None:
        secret_id = target.api_key_secret
        if not secret_id:
            return None
        key: str = self._keys.get(secret_id, lambda: _key_from_secret(self._fetch_secret(secret_id), secret_id))
        return key

    def _fetch_secret(self, secret_id: str) -> str:
        try:
            return self._read_secret(secret_id)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _SECRET_UNAVAILABLE_CODES:
                raise ProviderUnavailable(f"cannot read the API key secret {secret_id!r}: {code}") from None
            raise ProviderRetryable(f"cannot read the API key secret {secret_id!r} now: {code}") from None
        except BotoCoreError as exc:
            raise ProviderRetryable(f"cannot reach Secrets Manager for {secret_id!r}: {type(exc).__name__}") from None


def _key_from_secret(value: str, secret_id: str) -> str:
    text = value.strip()
    if text.startswith("{"):
        # `from None` throughout: a JSONDecodeError keeps the whole secret text in its `doc` attribute.
        try:
            document = json.loads(text)
        except ValueError:
            raise ProviderUnavailable(f"secret {secret_id!r} looks like JSON but does not parse") from None
        key = document.get("api_key") if isinstance(document, dict) else None
        if not isinstance(key, str) or not key.strip():
            raise ProviderUnavailable(f"secret {secret_id!r} is a JSON object without an 'api_key' string") from None
        return key.strip()
    if not text:
        raise ProviderUnavailable(f"secret {secret_id!r} is empty (or binary)")
    return text


def _read_all(response: urllib3.BaseHTTPResponse, target: Target, timeout: float) -> bytes:
    try:
        data = response.read()
    except HTTPError as exc:
        response.close()
        raise _transport_error(exc, target, timeout) from exc
    response.release_conn()
    return data


def _scrub(message: str, key: str | None) -> str:
    # Some servers echo the credential they refused; it must not reach logs or callers.
    if key:
        message = message.replace(key, "[redacted]")
    return message


# -- request -----------------------------------------------------------------------------------------------------


def _chat_body(target: Target, request: ChatCompletionRequest) -> dict[str, Any]:
    # `prompt` and `cache` are the gateway's own extensions: an upstream would refuse them, or worse, act on them.
    # `metadata` tags the call in the gateway's usage record; OpenAI refuses it unless `store` is on.
    body = request.model_dump(mode="json", exclude_none=True, by_alias=True, exclude={"prompt", "cache", "metadata"})
    body["model"] = target.model
    return body


def _url(target: Target, path: str) -> str:
    parts = urlsplit(str(target.base_url))
    query = "&".join(part for part in (parts.query, urlencode(target.query or {})) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))


def _host(target: Target) -> str:
    # The netloc only: no query string (Azure's, or anything someone put in base_url) in messages.
    return urlsplit(str(target.base_url)).netloc


def _transport_error(exc: Exception, target: Target, timeout: float) -> Exception:
    where = _host(target)
    if isinstance(exc, LocationValueError):
        return ProviderUnavailable(f"invalid base_url for {where}: {exc}")
    if isinstance(exc, NewConnectionError):
        return ProviderRetryable(f"cannot connect to {where}")
    if isinstance(exc, Urllib3Timeout):
        return ProviderRetryable(f"{where} did not answer within {timeout:g}s")
    if isinstance(exc, ProtocolError):
        return ProviderRetryable(f"connection to {where} broke: {exc}")
    return ProviderRetryable(f"request to {where} failed: {type(exc).__name__}: {exc}")


# -- responses ---------------------------------------------------------------------------------------------------


def _json_object(data: bytes, target: Target) -> dict[str, Any]:
    # A 200 that is not an OpenAI JSON object is a misconfigured endpoint (base_url without /v1, a web UI, a proxy's
    # login page), not a passing fault: a truncated body surfaces as a ProtocolError (retryable) before this point.
    # Retrying the same target would burn the backoff budget, so it is ProviderUnavailable: the next target is tried.
    try:
        document = json.loads(data)
    except ValueError:
        raise _malformed(target, "a body that is not JSON") from None
    if not isinstance(document, dict):
        raise _malformed(target, "JSON that is not an object")
    return document


def _malformed(target: Target, what: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"{_host(target)} answered 200 with {what}")


def _upstream_message(data: bytes) -> str:
    """The human part of an error body in the shapes seen in the wild: OpenAI's {"error": {"message"}},
    {"error": "text"} (Ollama), {"message"} (older vLLM), {"detail"} (FastAPI), else the raw text."""
    text = data.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return text[:MAX_MESSAGE_CHARS]
    message: Any = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or document.get("message") or document.get("detail")
    if message is None:
        return text[:MAX_MESSAGE_CHARS]
    return (message if isinstance(message, str) else json.dumps(message))[:MAX_MESSAGE_CHARS]


def _error_code(data: bytes) -> str | None:
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _finish_reason(value: Any, *, tool_calls: bool) -> FinishReason:
    reason = _FINISH_REASONS.get(value, "stop") if isinstance(value, str) else "stop"
    if tool_calls and reason == "stop":
        # Some Ollama and llama.cpp versions say "stop" after calling tools; clients loop on "tool_calls".
        return "tool_calls"
    return reason


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def estimate_tokens(text: str) -> int:
    """About four characters a token: only for servers that report no usage, so that a call is never billed 0."""
    return math.ceil(len(text) / 4)


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    details = value.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(
        prompt_tokens=_int(value.get("prompt_tokens")),
        completion_tokens=_int(value.get("completion_tokens")),
        cached_tokens=cached,
    )


def _text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as a few servers answer
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _tool_calls(value: Any, target: Target) -> list[ToolCall]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(target, "tool_calls that are not a list")
    calls = []
    for item in value:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _malformed(target, "a tool call without a function name")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            # Ollama's native shape (an object) leaks into some of its OpenAI answers; callers expect JSON text.
            arguments = json.dumps(arguments if arguments is not None else {})
        call_id = item.get("id")
        calls.append(
            ToolCall(
                # The caller must echo an id in its tool message; a few local servers send none.
                id=call_id if isinstance(call_id, str) and call_id else f"call_{uuid.uuid4().hex[:24]}",
                name=function["name"],
                arguments=arguments,
            )
        )
    return calls


def _chat_result(data: dict[str, Any], target: Target, body: dict[str, Any]) -> ChatResult:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _malformed(target, "no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _malformed(target, "a choice without a message")
    content = _text(message.get("content"))
    tool_calls = _tool_calls(message.get("tool_calls"), target)
    refusal = message.get("refusal")
    usage = _usage(data.get("usage"))
    if usage is None:
        answer = (content or "") + "".join(call.arguments for call in tool_calls)
        usage = Usage(
            prompt_tokens=estimate_tokens(json.dumps(body["messages"])), completion_tokens=estimate_tokens(answer)
        )
    return ChatResult(
        content=content,
        tool_calls=tool_calls,
        finish_reason=_finish_reason(choices[0].get("finish_reason"), tool_calls=bool(tool_calls)),
        usage=usage,
        refusal=refusal if isinstance(refusal, str) else None,
    )


def _embedding_result(data: dict[str, Any], texts: list[str], target: Target) -> EmbeddingResult:
    items = data.get("data")
    if not isinstance(items, list) or len(items) != len(texts):
        raise _malformed(target, f"not one embedding per input ({len(texts)} sent)")
    try:
        # Servers may answer a batch out of order; `index` is the only link back to the input.
        ordered = sorted(items, key=lambda item: int(item["index"]))
        vectors = [[float(x) for x in item["embedding"]] for item in ordered]
    except (KeyError, TypeError, ValueError):
        raise _malformed(target, "embeddings without index or float vectors") from None
    usage = data.get("usage")
    prompt_tokens = _int(usage.get("prompt_tokens")) if isinstance(usage, dict) else 0
    if prompt_tokens == 0:
        # Some Ollama versions report no usage for embeddings; an estimate keeps the call from being free.
        prompt_tokens = sum(estimate_tokens(text) for text in texts)
    return EmbeddingResult(vectors=vectors, prompt_tokens=prompt_tokens)


# -- streaming ---------------------------------------------------------------------------------------------------


def _lines(response: urllib3.BaseHTTPResponse, target: Target, timeout: float) -> Iterator[str]:
    # read1 returns whatever has arrived: read(n) and stream() would wait for n bytes on a stream without chunked
    # encoding, holding back tokens the caller should already see.
    pending = b""
    while True:
        try:
            data = response.read1(65536)
        except HTTPError as exc:
            raise _transport_error(exc, target, timeout) from exc
        if not data:
            break
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


def _sse_payloads(response: urllib3.BaseHTTPResponse, target: Target, timeout: float) -> Iterator[tuple[str, str]]:
    """(event name, data) per server-sent event, following the SSE rules: a blank line ends an event, `data:` lines
    join with newlines, `:` starts a comment."""
    event = ""
    data: list[str] = []
    for line in _lines(response, target, timeout):
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:  # the last event, when the server closed without its blank line
        yield event, "\n".join(data)


def _events(
    response: urllib3.BaseHTTPResponse, target: Target, timeout: float, key: str | None
) -> Iterator[StreamEvent]:
    finished = False
    try:
        yield from _stream_events(_sse_payloads(response, target, timeout), target, key)
        finished = True
    finally:
        if finished:
            # Whatever follows [DONE] (the chunked terminator) must be read before the connection is reused.
            response.drain_conn()
            response.release_conn()
        else:
            # Left mid-stream (an error, or the consumer stopped reading): unread chunks make it unusable.
            response.close()


def _stream_events(payloads: Iterator[tuple[str, str]], target: Target, key: str | None) -> Iterator[StreamEvent]:
    saw_tool_calls = False
    finished = False
    for event, payload in payloads:
        if payload.strip() == "[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise _malformed(target, "a stream event that is not JSON") from None
        if not isinstance(chunk, dict):
            raise _malformed(target, "a stream event that is not a JSON object")
        if event == "error" or "error" in chunk:
            # Raised mid-answer (overload, a worker lost): the next attempt may well succeed.
            message = _scrub(_upstream_message(payload.encode()), key)
            raise ProviderRetryable(f"{_host(target)} failed mid-stream: {message}")
        usage = _usage(chunk.get("usage"))
        choice = _first_choice(chunk.get("choices"))
        delta: dict[str, Any] = {}
        finish: FinishReason | None = None
        if choice is not None:
            raw_delta = choice.get("delta")
            delta = raw_delta if isinstance(raw_delta, dict) else {}
            saw_tool_calls = saw_tool_calls or bool(delta.get("tool_calls"))
            if choice.get("finish_reason") is not None:
                finish = _finish_reason(choice.get("finish_reason"), tool_calls=saw_tool_calls)
                finished = True
        if delta or finish is not None or usage is not None:
            yield StreamEvent(delta=delta, finish_reason=finish, usage=usage)
    if not finished:
        raise ProviderRetryable(f"{_host(target)} ended the stream before the answer finished")


def _first_choice(choices: Any) -> dict[str, Any] | None:
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return None
