"""The OpenAI-compatible provider against a local server that speaks OpenAI's API over real HTTP.

What is asserted is what the gateway sees (ChatResult, StreamEvents, EmbeddingResult, the error class and status)
and what the upstream receives (the exact JSON body, headers and query string).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from genai_core import aws
from genai_core.config import get_settings
from genai_core.gateway.catalogue import Target
from genai_core.gateway.models import ChatCompletionRequest
from genai_core.gateway.providers.base import ProviderRejected, ProviderRetryable, ProviderUnavailable
from genai_core.gateway.providers.openai_compat import OpenAICompatibleProvider
from genai_core.gateway.types import ChatResult, StreamEvent, ToolCall, Usage
from tests.conftest import ROOT, free_port, use_mocked_aws
from tests.fixtures.openai_server import (
    DONE,
    OpenAIServer,
    Reply,
    chunk,
    completion,
    embeddings,
    error,
    sse,
    tool_call,
    usage,
)

API_KEY = "sk-test-0123456789abcdef"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def provider() -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider()


def target_of(server: OpenAIServer, **fields: Any) -> Target:
    return Target(provider="openai", model=fields.pop("model", "llama3.1:8b"), base_url=server.url, **fields)


def chat_request(**fields: Any) -> ChatCompletionRequest:
    body: dict[str, Any] = {"model": "chat-default", "messages": [{"role": "user", "content": "Hi"}]}
    body.update(fields)
    return ChatCompletionRequest.model_validate(body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- chat --------------------------------------------------------------------------------------------------------


def test_chat_sends_the_openai_request_with_the_targets_model_and_without_our_extensions(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a request using OpenAI's parameters and both gateway extensions
    request = chat_request(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        temperature=0,
        stop=["END"],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
        prompt={"name": "greeting", "label": "prod"},
        cache=True,
    )
    # WHEN it goes to an OpenAI-compatible target
    result = provider.chat(target_of(server), request, timeout=5)
    # THEN the upstream received exactly OpenAI's JSON: the target's model, temperature 0 kept, no prompt or cache
    assert server.last.method == "POST"
    assert server.last.path == "/v1/chat/completions"
    assert server.last.headers["content-type"] == "application/json"
    assert "authorization" not in server.last.headers
    assert server.last.body == {
        "model": "llama3.1:8b",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        "temperature": 0.0,
        "stop": ["END"],
        "stream": False,
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
    }
    # AND the answer comes back as a ChatResult
    assert result == ChatResult(
        content="Hello from the test server", tool_calls=[], finish_reason="stop", usage=Usage(10, 5)
    )


def test_a_tool_call_answer_becomes_tool_calls(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    # GIVEN the model answers by calling two tools
    server.script(
        Reply(
            json=completion(
                None,
                tool_calls=[
                    tool_call("get_weather", '{"city": "Paris"}', "call_a"),
                    tool_call("get_weather", '{"city": "Lyon"}', "call_b"),
                ],
            )
        )
    )
    # WHEN the gateway asks
    result = provider.chat(target_of(server), chat_request(tools=[WEATHER_TOOL]), timeout=5)
    # THEN both calls arrive in order, with the arguments as JSON text
    assert result.content is None
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [
        ToolCall(id="call_a", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="call_b", name="get_weather", arguments='{"city": "Lyon"}'),
    ]


def test_a_server_that_says_stop_after_calling_tools_still_reports_tool_calls(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a local server (some Ollama versions) that ends a tool call with "stop" and sends arguments as an object
    answer = completion(None, tool_calls=[tool_call("get_weather", "{}")], finish_reason="stop")
    answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = {"city": "Paris"}
    server.script(Reply(json=answer))
    # WHEN the gateway asks
    result = provider.chat(target_of(server), chat_request(tools=[WEATHER_TOOL]), timeout=5)
    # THEN clients looping on finish_reason see "tool_calls", and the arguments are JSON text
    assert result.finish_reason == "tool_calls"
    assert json.loads(result.tool_calls[0].arguments) == {"city": "Paris"}


def test_usage_includes_cached_prompt_tokens(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    # GIVEN an answer that read 1024 prompt tokens from the provider's prompt cache
    server.script(Reply(json=completion("ok", usage_=usage(2000, 12, cached=1024))))
    # WHEN the gateway asks
    result = provider.chat(target_of(server), chat_request(), timeout=5)
    # THEN usage carries the cached tokens, which are billed at their own rate
    assert result.usage == Usage(prompt_tokens=2000, completion_tokens=12, cached_tokens=1024)
    assert result.usage.total_tokens == 2012


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [("length", "length"), ("content_filter", "content_filter"), ("eos", "stop"), (None, "stop")],
)
def test_finish_reasons_are_openais_and_unknown_ones_become_stop(
    server: OpenAIServer, provider: OpenAICompatibleProvider, upstream: str | None, expected: str
) -> None:
    answer = completion("ok")
    answer["choices"][0]["finish_reason"] = upstream
    server.script(Reply(json=answer))
    assert provider.chat(target_of(server), chat_request(), timeout=5).finish_reason == expected


def test_a_refusal_is_passed_on(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    server.script(Reply(json=completion(None, refusal="I can't help with that.")))
    result = provider.chat(target_of(server), chat_request(), timeout=5)
    assert result.refusal == "I can't help with that."
    assert result.content is None


def test_an_answer_without_usage_is_estimated_rather_than_free(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a server that reports no usage
    answer = completion("x" * 40)
    del answer["usage"]
    server.script(Reply(json=answer))
    # WHEN the gateway asks
    result = provider.chat(target_of(server), chat_request(), timeout=5)
    # THEN the tokens are estimated at about four characters each, so the call is still billed
    assert result.usage.completion_tokens == 10
    assert result.usage.prompt_tokens > 0


def test_calls_reuse_one_keep_alive_connection(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    target = target_of(server)
    provider.chat(target, chat_request(), timeout=5)
    provider.chat(target, chat_request(), timeout=5)
    list(provider.chat_stream(target, chat_request(stream=True), timeout=5))
    provider.chat(target, chat_request(), timeout=5)
    assert len({request.client_port for request in server.requests}) == 1


# -- streaming ---------------------------------------------------------------------------------------------------


def test_a_stream_passes_content_and_tool_call_deltas_through_and_ends_with_usage(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a stream with comments and blank lines, content, a tool call in two pieces, a usage chunk and [DONE]
    first_call = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    more_args = {"index": 0, "function": {"arguments": '{"city":"Paris"}'}}
    server.script(
        Reply(
            events=[
                ": keep-alive\n\n",
                chunk({"role": "assistant", "content": ""}),
                "\n",
                chunk({"content": "Let me check."}),
                chunk({"tool_calls": [first_call]}),
                chunk({"tool_calls": [more_args]}),
                chunk({}, finish_reason="tool_calls"),
                chunk(usage_=usage(30, 9, cached=16)),
                DONE,
                chunk({"content": "after the end"}),
            ]
        )
    )
    # WHEN the gateway streams
    events = list(provider.chat_stream(target_of(server), chat_request(stream=True, tools=[WEATHER_TOOL]), timeout=5))
    # THEN it asked for a stream with usage
    assert server.last.body["stream"] is True
    assert server.last.body["stream_options"] == {"include_usage": True}
    assert server.last.headers["accept"] == "text/event-stream"
    # AND each chunk arrives as an event, deltas as the upstream sent them, nothing after [DONE]
    assert events == [
        StreamEvent(delta={"role": "assistant", "content": ""}),
        StreamEvent(delta={"content": "Let me check."}),
        StreamEvent(delta={"tool_calls": [first_call]}),
        StreamEvent(delta={"tool_calls": [more_args]}),
        StreamEvent(finish_reason="tool_calls"),
        StreamEvent(usage=Usage(prompt_tokens=30, completion_tokens=9, cached_tokens=16)),
    ]


def test_stream_options_are_always_asked_for(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    # GIVEN a caller that did not ask for usage
    request = chat_request(stream=True, stream_options={"include_usage": False})
    # WHEN the gateway streams
    events = list(provider.chat_stream(target_of(server), request, timeout=5))
    # THEN usage is requested anyway (every call is billed) and reported last
    assert server.last.body["stream_options"] == {"include_usage": True}
    assert "".join(event.delta.get("content", "") for event in events) == "Hello from the test server"
    assert events[-1].usage == Usage(10, 5)


def test_a_stream_is_read_as_it_arrives(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    # GIVEN a server that holds the rest of the answer until told to go on
    go_on = threading.Event()
    server.script(
        Reply(
            events=sse(
                chunk({"content": "first"}),
                go_on,
                chunk({"content": " second"}, finish_reason="stop"),
                chunk(usage_=usage()),
            )
        )
    )
    stream = provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5)
    # WHEN the first chunk has been sent
    first = next(stream)
    # THEN the gateway has it already, before the rest exists
    assert first.delta == {"content": "first"}
    go_on.set()
    assert [event.delta.get("content") for event in stream] == [" second", None]


def test_a_stream_without_chunked_encoding_works_too(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    go_on = threading.Event()
    server.script(
        Reply(
            chunked=False,
            events=sse(chunk({"content": "a"}), go_on, chunk({}, finish_reason="length"), chunk(usage_=usage())),
        )
    )
    stream = provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5)
    assert next(stream).delta == {"content": "a"}
    go_on.set()
    assert [event.finish_reason for event in stream] == ["length", None]


def test_a_stream_the_gateway_stops_reading_leaves_the_next_call_unharmed(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a stream the gateway abandons after its first event (the caller hung up)
    go_on = threading.Event()
    server.script(Reply(events=sse(chunk({"content": "a"}), go_on, chunk({}, finish_reason="stop"))))
    stream = provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5)
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    go_on.set()
    # WHEN the next call goes to the same endpoint
    result = provider.chat(target_of(server), chat_request(), timeout=5)
    # THEN it is answered normally, on a fresh connection rather than the half-read one
    assert result.content == "Hello from the test server"
    assert server.requests[0].client_port != server.requests[1].client_port


def test_a_chunk_that_carries_a_choice_and_usage_keeps_both(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a llama.cpp-style last chunk: finish reason and usage together, no separate usage chunk
    server.script(Reply(events=sse(chunk({"content": "hi"}), chunk({}, finish_reason="stop", usage_=usage(3, 1)))))
    events = list(provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5))
    assert events[-1] == StreamEvent(finish_reason="stop", usage=Usage(3, 1))


def test_an_error_event_mid_stream_is_retryable(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    # GIVEN a server that fails after the first tokens
    server.script(Reply(events=sse(chunk({"content": "Hel"}), error("The server is overloaded", type_="server_error"))))
    stream = provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5)
    assert next(stream).delta == {"content": "Hel"}
    # WHEN the gateway reads on
    with pytest.raises(ProviderRetryable) as raised:
        list(stream)
    # THEN it learns the attempt failed, and why
    assert "The server is overloaded" in raised.value.message


def test_a_stream_that_stops_before_the_answer_finished_is_retryable(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(Reply(events=sse(chunk({"content": "Hel"}), done=False)))
    with pytest.raises(ProviderRetryable):
        list(provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5))


@pytest.mark.parametrize(
    ("status", "error_class"), [(429, ProviderRetryable), (401, ProviderUnavailable), (400, ProviderRejected)]
)
def test_an_error_status_before_the_stream_starts_maps_like_chat(
    server: OpenAIServer, provider: OpenAICompatibleProvider, status: int, error_class: type[Exception]
) -> None:
    # GIVEN a target that refuses the streaming call outright
    server.script(Reply(status=status, json=error("no")))
    # WHEN the gateway starts the stream
    # THEN the call itself raises, before any event could have reached the caller, so fallback is still possible
    with pytest.raises(error_class):
        provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5)


def test_a_server_that_ignores_stream_still_gives_a_stream(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a server that answers a stream request with one whole completion
    server.script(Reply(json=completion("whole answer", usage_=usage(4, 2))))
    events = list(provider.chat_stream(target_of(server), chat_request(stream=True), timeout=5))
    # THEN the gateway still gets the content, the finish reason and the usage as events
    assert "".join(event.delta.get("content", "") for event in events) == "whole answer"
    assert events[-1].finish_reason == "stop"
    assert events[-1].usage == Usage(4, 2)


# -- API keys from Secrets Manager -------------------------------------------------------------------------------


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto-backed Secrets Manager, reached through genai_core.aws like in a deployed function."""
    use_mocked_aws(monkeypatch, region="eu-west-1")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    get_settings.cache_clear()
    aws.client.cache_clear()


def test_a_plain_string_secret_is_sent_as_a_bearer_token(
    server: OpenAIServer, provider: OpenAICompatibleProvider, secrets: Any
) -> None:
    # GIVEN a target whose key is a plain string secret (with the trailing newline of a file)
    secrets.create_secret(Name="genai/openai", SecretString=API_KEY + "\n")
    # WHEN the gateway calls it
    provider.chat(target_of(server, api_key_secret="genai/openai"), chat_request(), timeout=5)
    # THEN the key goes in OpenAI's header
    assert server.last.headers["authorization"] == f"Bearer {API_KEY}"


def test_a_json_secret_is_sent_in_azures_header_with_the_api_version(
    server: OpenAIServer, provider: OpenAICompatibleProvider, secrets: Any
) -> None:
    # GIVEN an Azure OpenAI target: a JSON secret, the api-key header and an api-version query parameter
    arn = secrets.create_secret(Name="genai/azure", SecretString=json.dumps({"api_key": API_KEY, "note": "x"}))["ARN"]
    target = target_of(
        server,
        model="gpt-4o-deployment",
        api_key_secret=arn,
        api_key_header="api-key",
        query={"api-version": "2024-10-21"},
    )
    # WHEN the gateway calls it, for chat and for embeddings
    provider.chat(target, chat_request(), timeout=5)
    chat_call = server.last
    provider.embed(target, ["a"], dimensions=None, timeout=5)
    # THEN each request carries the key in api-key, no Authorization, and the api-version
    for request in (chat_call, server.last):
        assert request.headers["api-key"] == API_KEY
        assert "authorization" not in request.headers
        assert request.query == {"api-version": "2024-10-21"}
    assert [chat_call.path, server.last.path] == ["/v1/chat/completions", "/v1/embeddings"]


def test_the_key_is_cached_for_five_minutes(server: OpenAIServer, secrets: Any) -> None:
    # GIVEN a key that was read once
    secrets.create_secret(Name="genai/openai", SecretString="sk-old")
    clock = Clock()
    provider = OpenAICompatibleProvider(clock=clock)
    target = target_of(server, api_key_secret="genai/openai")
    provider.chat(target, chat_request(), timeout=5)
    # WHEN the secret is rotated
    secrets.put_secret_value(SecretId="genai/openai", SecretString="sk-new")
    clock.now += 299
    provider.chat(target, chat_request(), timeout=5)
    # THEN the cached key is used for five minutes, then the new one
    assert server.last.headers["authorization"] == "Bearer sk-old"
    clock.now += 2
    provider.chat(target, chat_request(), timeout=5)
    assert server.last.headers["authorization"] == "Bearer sk-new"


def test_a_refused_key_is_read_again_on_the_next_call(server: OpenAIServer, secrets: Any) -> None:
    # GIVEN a cached key that the upstream no longer accepts (rotated)
    secrets.create_secret(Name="genai/openai", SecretString="sk-old")
    provider = OpenAICompatibleProvider(clock=Clock())
    target = target_of(server, api_key_secret="genai/openai")
    provider.chat(target, chat_request(), timeout=5)
    secrets.put_secret_value(SecretId="genai/openai", SecretString="sk-new")
    server.script(Reply(status=401, json=error("Incorrect API key", type_="invalid_request_error")))
    with pytest.raises(ProviderUnavailable):
        provider.chat(target, chat_request(), timeout=5)
    # WHEN the gateway comes back to this target within the five minutes
    provider.chat(target, chat_request(), timeout=5)
    # THEN it sends the current key
    assert server.last.headers["authorization"] == "Bearer sk-new"


@pytest.mark.parametrize("secret_value", [None, json.dumps({"key": API_KEY}), "{not json " + API_KEY])
def test_a_missing_or_unusable_secret_makes_the_target_unavailable(
    server: OpenAIServer, provider: OpenAICompatibleProvider, secrets: Any, secret_value: str | None
) -> None:
    if secret_value is not None:
        secrets.create_secret(Name="genai/openai", SecretString=secret_value)
    with pytest.raises(ProviderUnavailable) as raised:
        provider.chat(target_of(server, api_key_secret="genai/openai"), chat_request(), timeout=5)
    assert API_KEY not in str(raised.value)
    # a traceback shows no chained exception that could hold the secret's text
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__ or raised.value.__context__ is None
    assert server.requests == []


# -- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ProviderRejected),
        (413, ProviderRejected),
        (422, ProviderRejected),
        (418, ProviderRejected),
        (401, ProviderUnavailable),
        (403, ProviderUnavailable),
        (404, ProviderUnavailable),
        (408, ProviderRetryable),
        (409, ProviderRetryable),
        (429, ProviderRetryable),
        (500, ProviderRetryable),
        (502, ProviderRetryable),
        (503, ProviderRetryable),
        (504, ProviderRetryable),
    ],
)
def test_each_status_maps_to_what_the_gateway_should_do(
    server: OpenAIServer, provider: OpenAICompatibleProvider, status: int, error_class: type[Exception]
) -> None:
    # GIVEN an upstream answering with an error status
    server.script(Reply(status=status, json=error(f"upstream says {status}")))
    # WHEN the gateway calls it
    with pytest.raises(error_class) as raised:
        provider.chat(target_of(server), chat_request(), timeout=5)
    # THEN the error carries the status and the upstream's explanation
    assert isinstance(raised.value, ProviderRetryable | ProviderUnavailable | ProviderRejected)
    assert raised.value.status == status
    assert f"upstream says {status}" in raised.value.message


def test_a_rejection_reaches_the_caller_with_the_upstreams_words_only(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    message = "This model's maximum context length is 8192 tokens."
    server.script(Reply(status=400, json=error(message, code="context_length_exceeded")))
    with pytest.raises(ProviderRejected) as raised:
        provider.chat(target_of(server), chat_request(), timeout=5)
    assert raised.value.message == message


def test_error_bodies_in_other_servers_shapes_are_understood(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(
        Reply(status=400, json={"error": "model requires more system memory"}),
        Reply(status=400, json={"object": "error", "message": "bad temperature", "type": "BadRequestError"}),
        Reply(status=422, json={"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}),
        Reply(status=400, text="<html>Bad Request</html>"),
    )
    messages = []
    for _ in range(4):
        with pytest.raises(ProviderRejected) as raised:
            provider.chat(target_of(server), chat_request(), timeout=5)
        messages.append(raised.value.message)
    assert messages[0] == "model requires more system memory"
    assert messages[1] == "bad temperature"
    assert "field required" in messages[2]
    assert messages[3] == "<html>Bad Request</html>"


def test_running_out_of_credit_is_not_worth_a_retry(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    server.script(Reply(status=429, json=error("You exceeded your current quota", code="insufficient_quota")))
    with pytest.raises(ProviderUnavailable) as raised:
        provider.chat(target_of(server), chat_request(), timeout=5)
    assert raised.value.status == 429


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text="<html>Ollama is running</html>"),
        Reply(json=["not", "an", "object"]),
        Reply(json={"id": "x", "choices": []}),
        Reply(json={"choices": [{"index": 0, "finish_reason": "stop"}]}),
    ],
    ids=["html", "array", "no-choices", "no-message"],
)
def test_a_200_that_is_not_a_completion_makes_the_target_unavailable(
    server: OpenAIServer, provider: OpenAICompatibleProvider, reply: Reply
) -> None:
    # GIVEN a base_url that reaches something other than an OpenAI API (a web UI, a path without /v1)
    server.script(reply)
    # THEN retrying it would not help: the gateway moves to the next target
    with pytest.raises(ProviderUnavailable):
        provider.chat(target_of(server), chat_request(), timeout=5)


def test_a_slow_upstream_times_out_as_retryable(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    # GIVEN a server that takes longer than the gateway's timeout
    server.script(Reply(delay=3, json=completion()))
    started = time.monotonic()
    # WHEN the gateway calls it with a short timeout
    with pytest.raises(ProviderRetryable) as raised:
        provider.chat(target_of(server), chat_request(), timeout=0.3)
    # THEN it gives up at the timeout, and may retry
    assert time.monotonic() - started < 2
    assert raised.value.status is None
    assert "0.3s" in raised.value.message


def test_a_stream_that_goes_quiet_times_out_as_retryable(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(Reply(events=sse(chunk({"content": "a"}), 3.0, chunk({}, finish_reason="stop"))))
    stream = provider.chat_stream(target_of(server), chat_request(stream=True), timeout=0.3)
    assert next(stream).delta == {"content": "a"}
    with pytest.raises(ProviderRetryable):
        list(stream)


def test_an_endpoint_nobody_listens_on_is_retryable(provider: OpenAICompatibleProvider) -> None:
    target = Target(provider="openai", model="m", base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderRetryable) as raised:
        provider.chat(target, chat_request(), timeout=2)
    assert "cannot connect" in raised.value.message


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_the_key_never_appears_in_error_messages(
    server: OpenAIServer, provider: OpenAICompatibleProvider, secrets: Any, status: int
) -> None:
    # GIVEN an upstream that echoes the key it was sent
    secrets.create_secret(Name="genai/openai", SecretString=API_KEY)
    server.script(Reply(status=status, json=error(f"Incorrect API key provided: {API_KEY}.")))
    # WHEN the call fails
    with pytest.raises((ProviderRejected, ProviderUnavailable, ProviderRetryable)) as raised:
        provider.chat(target_of(server, api_key_secret="genai/openai"), chat_request(), timeout=5)
    # THEN nothing the gateway logs or returns holds the key
    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(raised.value)
    assert "Incorrect API key provided" in str(raised.value)


def test_the_key_never_appears_in_a_mid_stream_error(
    server: OpenAIServer, provider: OpenAICompatibleProvider, secrets: Any
) -> None:
    secrets.create_secret(Name="genai/openai", SecretString=API_KEY)
    server.script(Reply(events=sse(error(f"session for {API_KEY} lost"))))
    with pytest.raises(ProviderRetryable) as raised:
        list(
            provider.chat_stream(target_of(server, api_key_secret="genai/openai"), chat_request(stream=True), timeout=5)
        )
    assert API_KEY not in str(raised.value)


# -- embeddings --------------------------------------------------------------------------------------------------


def test_embeddings_come_back_in_input_order_with_the_requested_dimensions(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    # GIVEN a server that answers a batch out of order
    vectors = [[0.0, 0.1], [1.0, 1.1], [2.0, 2.1]]
    server.script(Reply(json=embeddings(vectors, order=[2, 0, 1], prompt_tokens=9)))
    # WHEN the gateway embeds three texts at two dimensions
    result = provider.embed(
        target_of(server, model="nomic-embed-text"), ["zero", "one", "two"], dimensions=2, timeout=5
    )
    # THEN the request is OpenAI's, and each vector lines up with its text
    assert server.last.path == "/v1/embeddings"
    assert server.last.body == {
        "model": "nomic-embed-text",
        "input": ["zero", "one", "two"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert result.vectors == vectors
    assert result.prompt_tokens == 9


def test_embeddings_without_dimensions_leave_the_models_size(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    result = provider.embed(target_of(server), ["a"], dimensions=None, timeout=5)
    assert "dimensions" not in server.last.body
    assert len(result.vectors) == 1


def test_embedding_tokens_are_estimated_when_the_server_reports_none(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(Reply(json=embeddings([[0.5], [0.5]], prompt_tokens=None)))
    result = provider.embed(target_of(server), ["x" * 8, "y" * 3], dimensions=None, timeout=5)
    assert result.prompt_tokens == 2 + 1


def test_an_embedding_answer_short_of_vectors_makes_the_target_unavailable(
    server: OpenAIServer, provider: OpenAICompatibleProvider
) -> None:
    server.script(Reply(json=embeddings([[0.5]])))
    with pytest.raises(ProviderUnavailable):
        provider.embed(target_of(server), ["a", "b"], dimensions=None, timeout=5)


def test_embedding_errors_map_like_chat(server: OpenAIServer, provider: OpenAICompatibleProvider) -> None:
    server.script(Reply(status=404, json=error("model 'nomic' not found", code="model_not_found")))
    with pytest.raises(ProviderUnavailable) as raised:
        provider.embed(target_of(server), ["a"], dimensions=None, timeout=5)
    assert raised.value.status == 404


# -- without a server --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "unsupported"), [(None, []), (1, []), (2, ["n"])])
def test_only_several_choices_are_unsupported(n: int | None, unsupported: list[str]) -> None:
    target = Target(provider="openai", model="gpt-4o-mini", base_url="https://api.openai.com/v1")
    request = chat_request(n=n, seed=7, logit_bias={"50256": -100}, logprobs=True, reasoning_effort="low")
    assert OpenAICompatibleProvider().unsupported(target, request) == unsupported


def test_the_registry_finds_the_provider() -> None:
    from genai_core.gateway.providers.base import get_provider

    assert isinstance(get_provider("openai"), OpenAICompatibleProvider)
    assert get_provider("openai").name == "openai"


def test_importing_the_provider_loads_no_http_client_sdk() -> None:
    # Each of these adds import time to every cold start; urllib3 is loaded by botocore already.
    code = (
        "import sys, genai_core.gateway.providers.openai_compat; "
        "print([m for m in ('openai', 'requests', 'httpx') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "layers" / "core")},
        timeout=60,
    )
    assert done.stdout.strip() == "[]"
