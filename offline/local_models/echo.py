"""`offline-echo`: a deterministic chat model, so the gateway's OpenAI provider can be wired and tested end to end
offline. The same request always gets the same answer; every shape of chat request gets a well-formed one.

- text: `Echo: <last user message>`, with a note of the images (or other parts) it carried;
- tools offered (and tool_choice not "none"): a call of the chosen tool, or else the first, with arguments valid
  for its `parameters` schema; once the last message is a tool result: a text that quotes the results;
- response_format: json_object gives `{"echo": ...}`, json_schema a value valid for the schema;
- stop and max_tokens / max_completion_tokens cut the answer as a model's would, with finish_reason to match;
- usage counted with cl100k_base the way OpenAI's cookbook counts chat messages.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from offline.local_models import tokens
from offline.local_models.errors import bad_request
from offline.local_models.schema_example import SchemaTooLarge, example

NAME = "offline-echo"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MAX_STOP = 4


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Completion:
    content: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: Any
    limit: int | None
    stop: list[str]
    response_format: dict[str, Any] | None
    stream: bool
    include_usage: bool

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ChatRequest:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("'messages' must be a non-empty array of messages", "messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise bad_request(f"messages[{i}] must be an object with a role of {', '.join(ROLES)}", "messages")
        n = body.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise bad_request("'n' must be an integer of at least 1", "n")
        if n is not None and n > 1:
            raise bad_request(f"{NAME} returns one choice per request: n must be 1", "n", "unsupported_value")
        if body.get("logprobs") or body.get("top_logprobs"):
            raise bad_request(
                f"{NAME} returns no log probabilities: leave out logprobs", "logprobs", "unsupported_value"
            )
        stream = body.get("stream") or False
        if not isinstance(stream, bool):
            raise bad_request("'stream' must be a boolean", "stream")
        options = body.get("stream_options")
        if options is not None and not stream:
            raise bad_request("The 'stream_options' parameter is only allowed when 'stream' is true", "stream_options")
        if options is not None and not isinstance(options, dict):
            raise bad_request("'stream_options' must be an object", "stream_options")
        limit = None
        for param in ("max_tokens", "max_completion_tokens"):  # the newer name wins when both are given
            value = body.get(param)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad_request(f"'{param}' must be an integer of at least 1", param)
            limit = value
        return cls(
            messages=messages,
            tools=_tools(body.get("tools")),
            tool_choice=body.get("tool_choice"),
            limit=limit,
            stop=_stop(body.get("stop")),
            response_format=_response_format(body.get("response_format")),
            stream=stream,
            include_usage=bool((options or {}).get("include_usage")),
        )


def _tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not isinstance(function, dict):
            raise bad_request(f"tools[{i}] must be {{'type': 'function', 'function': {{...}}}}", "tools")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise bad_request(f"tools[{i}].function.name must be a non-empty string", "tools")
        if not isinstance(function.get("parameters", {}), dict):
            raise bad_request(f"tools[{i}].function.parameters must be a JSON schema object", "tools")
    return tools


def _stop(stop: Any) -> list[str]:
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > MAX_STOP:
        raise bad_request(f"'stop' must be a string or an array of at most {MAX_STOP} strings", "stop")
    return [s for s in stops if s]


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise bad_request("'response_format.type' must be text, json_object or json_schema", "response_format")
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise bad_request("'response_format.json_schema' needs a name and a schema", "response_format")
        if not isinstance(spec.get("schema", {}), dict):
            raise bad_request("'response_format.json_schema.schema' must be an object", "response_format")
    return value if kind != "text" else None


def complete(request: ChatRequest) -> Completion:
    prompt_tokens = tokens.count_messages(request.messages, request.tools)
    tool = _tool_to_call(request)
    if tool is not None:
        function = tool["function"]
        arguments = json.dumps(
            _example(function.get("parameters") or {"type": "object"}, "value", "tools"), ensure_ascii=False
        )
        arguments, cut = _limit(arguments, request.limit)
        digest = hashlib.sha256(_canonical([function["name"], arguments, request.messages])).hexdigest()
        call = ToolCall(f"call_{digest[:24]}", function["name"], arguments)
        used = tokens.count(call.name) + tokens.count(arguments)
        return Completion(None, "length" if cut else "tool_calls", prompt_tokens, used, [call])
    text = _answer(request)
    if request.response_format is not None:
        text = _formatted(text, request.response_format)
    finish = "stop"
    cuts = [text.find(s) for s in request.stop if s in text]
    if cuts:
        text = text[: min(cuts)]
    text, cut = _limit(text, request.limit)
    if cut:
        finish = "length"
    return Completion(text, finish, prompt_tokens, tokens.count(text))


def _tool_to_call(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if not request.tools or choice == "none" or request.messages[-1].get("role") in ("tool", "function"):
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        for tool in request.tools:
            if tool["function"]["name"] == name:
                return tool
        raise bad_request(f"tool_choice names the function {name!r}, which is not among 'tools'", "tool_choice")
    if choice not in (None, "auto", "required"):
        raise bad_request("'tool_choice' must be none, auto, required or a named function", "tool_choice")
    return request.tools[0]


def _answer(request: ChatRequest) -> str:
    messages = request.messages
    if messages[-1].get("role") in ("tool", "function"):
        return _tool_results(messages)
    user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    if user is None:
        return "Echo: (no user message)"
    text, notes = _content(user.get("content"))
    return " ".join(p for p in ("Echo:", text, notes) if p)


def _content(content: Any) -> tuple[str, str]:
    """The text of a message, and a note of the parts that are not text (`[2 images received]`)."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", ""
    texts, counts = [], {"image": 0, "audio clip": 0, "file": 0}
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part, dict):
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            counts["image"] += 1
        elif kind == "input_audio":
            counts["audio clip"] += 1
        elif kind == "file":
            counts["file"] += 1
    seen = [f"{n} {what}{'s' if n != 1 else ''}" for what, n in counts.items() if n]
    return " ".join(texts), f"[{', '.join(seen)} received]" if seen else ""


def _tool_results(messages: list[dict[str, Any]]) -> str:
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    results = []
    for message in reversed(messages):
        if message.get("role") not in ("tool", "function"):
            break
        name = message.get("name") or names.get(str(message.get("tool_call_id")), "tool")
        text, _ = _content(message.get("content"))
        results.append(f"{name} returned {text}")
    return "Tool results: " + "; ".join(reversed(results))


def _formatted(text: str, response_format: dict[str, Any]) -> str:
    if response_format["type"] == "json_object":
        return json.dumps({"echo": text}, ensure_ascii=False)
    spec = response_format["json_schema"]
    return json.dumps(
        _example(spec.get("schema") or {"type": "object"}, spec["name"], "response_format"), ensure_ascii=False
    )


def _example(schema: Any, name: str, param: str) -> Any:
    try:
        return example(schema, name)
    except SchemaTooLarge as exc:
        raise bad_request(f"offline-echo cannot answer this {param} schema: {exc}", param, "schema_too_large") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # a malformed schema is the caller's
        raise bad_request(f"offline-echo cannot read this {param} schema: {exc}", param, "invalid_schema") from None


def _limit(text: str, limit: int | None) -> tuple[str, bool]:
    return (text, False) if limit is None else tokens.truncate(text, limit)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
