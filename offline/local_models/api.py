"""The OpenAI-compatible HTTP surface of the local models, under `/local-models/v1/`.

Like Ollama's, it is a local endpoint on 127.0.0.1: any Authorization header, or none, is accepted.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from typing import Any

from offline.local_models import echo, minilm
from offline.local_models.errors import ApiError, ModelUnavailable, bad_request

log = logging.getLogger("offline.local_models")

PREFIX = "/local-models/v1"
MAX_EMBEDDING_INPUTS = 2048  # OpenAI's limit per request
SYSTEM_FINGERPRINT = "fp_offline_echo"
OWNER = "offline"
ARGUMENT_PIECE = 16  # characters of tool-call arguments per streamed delta

Response = tuple[int, dict[str, str], bytes]


class LocalModels:
    """`offline-echo` (chat) and `minilm` (embeddings), callable without sockets."""

    def __init__(self, embedder: minilm.MiniLM | None = None) -> None:
        self.embedder = embedder or minilm.MiniLM()
        self.models = {echo.NAME: "chat", minilm.NAME: "embeddings"}

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        try:
            return self._route(method.upper(), path, body)
        except ApiError as err:
            return _json(err.status, err.envelope())
        except ModelUnavailable as exc:
            return _json(503, ApiError(503, str(exc), type="server_error", code="model_unavailable").envelope())
        except Exception:
            log.exception("local model request %s %s failed", method, path)
            failed = ApiError(500, "The local model failed; see the runtime's log", type="server_error")
            return _json(500, failed.envelope())

    def _route(self, method: str, path: str, body: bytes) -> Response:
        route = path[len(PREFIX) :] if path.startswith(PREFIX + "/") else None
        if route == "/models":
            _allow(method, "GET", path)
            return _json(200, {"object": "list", "data": [self._model(name) for name in self.models]})
        if route is not None and route.startswith("/models/"):
            _allow(method, "GET", path)
            name = route[len("/models/") :]
            if name not in self.models:
                raise _no_model(name)
            return _json(200, self._model(name))
        if route == "/chat/completions":
            _allow(method, "POST", path)
            return self._chat(_body(body))
        if route == "/embeddings":
            _allow(method, "POST", path)
            return self._embeddings(_body(body))
        raise ApiError(404, f"Invalid URL ({method} {path})", code="unknown_url")

    def _model(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": OWNER}

    def _check_model(self, body: dict[str, Any], kind: str) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("you must provide a model parameter", "model")
        if model not in self.models:
            raise _no_model(model)
        if self.models[model] != kind:
            raise bad_request(f"{model} is an {self.models[model]} model, not a {kind} model", "model", "wrong_model")
        return model

    # -- chat --------------------------------------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> Response:
        model = self._check_model(body, "chat")
        request = echo.ChatRequest.parse(body)
        done = echo.complete(request)
        meta = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        if request.stream:
            return 200, {"content-type": "text/event-stream", "cache-control": "no-cache"}, _sse(done, meta, request)
        message: dict[str, Any] = {"role": "assistant", "content": done.content, "refusal": None, "annotations": []}
        if done.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in done.tool_calls
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": done.finish_reason}
        return _json(200, {**meta, "object": "chat.completion", "choices": [choice], "usage": _usage(done)})

    # -- embeddings --------------------------------------------------------------------------------------------------
    def _embeddings(self, body: dict[str, Any]) -> Response:
        model = self._check_model(body, "embeddings")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            # Token arrays are refused: their ids belong to OpenAI's tokenizer, not to MiniLM's WordPiece.
            raise bad_request("'input' must be a non-empty string or a non-empty array of non-empty strings", "input")
        if len(texts) > MAX_EMBEDDING_INPUTS:
            raise bad_request(f"'input' may hold at most {MAX_EMBEDDING_INPUTS} strings", "input")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise bad_request("'encoding_format' must be float or base64", "encoding_format")
        dimensions = body.get("dimensions")
        if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= minilm.DIMENSIONS
        ):
            raise bad_request(f"'dimensions' must be an integer from 1 to {minilm.DIMENSIONS}", "dimensions")
        embedded = self.embedder.embed(texts)
        vectors = embedded.vectors
        if dimensions is not None and dimensions < minilm.DIMENSIONS:
            # Matryoshka-style shortening, as OpenAI's text-embedding-3 does: keep the leading components and
            # re-normalise. MiniLM was not trained for it, so short vectors lose more than text-embedding-3's do.
            vectors = minilm.normalise(vectors[:, :dimensions])
        data = [{"object": "embedding", "index": i, "embedding": _vector(v, encoding)} for i, v in enumerate(vectors)]
        usage = {"prompt_tokens": embedded.tokens, "total_tokens": embedded.tokens}
        return _json(200, {"object": "list", "data": data, "model": model, "usage": usage})


def _sse(done: echo.Completion, meta: dict[str, Any], request: echo.ChatRequest) -> bytes:
    events: list[dict[str, Any]] = []

    def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
        event = {**meta, "object": "chat.completion.chunk"}
        event["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if request.include_usage:
            event["usage"] = None  # as OpenAI: every chunk has the key, only the last one a value
        events.append(event)

    if done.tool_calls:
        chunk({"role": "assistant", "content": None})
        for index, call in enumerate(done.tool_calls):
            head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            chunk({"tool_calls": [head]})
            for start in range(0, len(call.arguments), ARGUMENT_PIECE):
                piece = call.arguments[start : start + ARGUMENT_PIECE]
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    else:
        chunk({"role": "assistant", "content": "", "refusal": None})
        # A word and the whitespace after it per delta: joined, the pieces are the content exactly.
        for piece in re.findall(r"\S*\s*", done.content or ""):
            if piece:
                chunk({"content": piece})
    chunk({}, done.finish_reason)
    if request.include_usage:
        events.append({**meta, "object": "chat.completion.chunk", "choices": [], "usage": _usage(done)})
    lines = [f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def _vector(vector: Any, encoding: str) -> str | list[float]:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()  # little-endian float32, as OpenAI's
    return vector.tolist()


def _usage(done: echo.Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _body(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("We could not parse the JSON body of your request: it is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise bad_request("The request body must be a JSON object")
    return parsed


def _allow(method: str, allowed: str, path: str) -> None:
    if method != allowed:
        raise ApiError(405, f"Method {method} is not allowed for {path}; use {allowed}", code="method_not_allowed")


def _no_model(name: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{name}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def _json(status: int, payload: dict[str, Any]) -> Response:
    return status, {"content-type": "application/json"}, json.dumps(payload, ensure_ascii=False).encode()
