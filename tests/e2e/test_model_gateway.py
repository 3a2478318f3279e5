"""The model gateway over HTTP with the official `openai` SDK, against the offline runtime's own models: the
production code path (OpenAI-compatible provider) end to end, with usage records, limits, cache and fallback."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import openai
import pytest
import requests

from tests.e2e.conftest import Platform

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}


@pytest.fixture(scope="module")
def gateway_app(platform: Platform) -> tuple[str, str]:
    """An app of its own, so records and limits seen here are this module's only."""
    return platform.new_app("gateway-e2e", ["genai/invoke", "genai/prompts.read", "genai/prompts.write"])


@pytest.fixture
def client(platform: Platform, gateway_app: tuple[str, str]) -> Iterator[openai.OpenAI]:
    token = platform.token(client_id=gateway_app[0], secret=gateway_app[1])
    with openai.OpenAI(base_url=f"{platform.url}/v1", api_key=token, max_retries=0) as sdk:
        yield sdk


def table(platform: Platform, logical_id: str) -> str:
    names = platform.aws("dynamodb").list_tables()["TableNames"]
    return next(n for n in names if logical_id in n)


def usage_records(platform: Platform, app_id: str) -> list[dict[str, Any]]:
    ddb = platform.aws("dynamodb")
    items = ddb.query(
        TableName=table(platform, "UsageTable"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": app_id}},
    )["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def record_of(platform: Platform, app_id: str, request_id: str) -> dict[str, Any]:
    for _ in range(20):
        found = [r for r in usage_records(platform, app_id) if r["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no usage record for {request_id}")


def set_limits(platform: Platform, app_id: str, **limits: Any) -> None:
    platform.aws("dynamodb").put_item(
        TableName=table(platform, "GatewayTable"),
        Item={"pk": {"S": f"APP#{app_id}"}, "sk": {"S": "SETTINGS"}, "limits": {"S": json.dumps(limits)}},
    )


def test_models_lists_the_offline_catalogue_and_retrieves_one(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"offline-echo", "offline-echo-cached", "offline-echo-fallback", "minilm"} <= ids
    minilm = client.models.retrieve("minilm")
    assert minilm.id == "minilm" and minilm.object == "model"
    assert minilm.model_extra and minilm.model_extra["dimensions"] == 384
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_a_plain_chat_completion_is_answered_recorded_and_billed(
    platform: Platform, client: openai.OpenAI, gateway_app: tuple[str, str]
) -> None:
    # WHEN the SDK creates a completion with temperature 0
    raw = client.chat.completions.with_raw_response.create(
        model="offline-echo",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello from the SDK"}],
        temperature=0,
        max_tokens=200,
        user="end-user-7",
    )
    reply = raw.parse()
    # THEN it is OpenAI's shape, with the echo and realistic token counts
    assert reply.object == "chat.completion" and reply.model == "offline-echo"
    assert "Hello from the SDK" in (reply.choices[0].message.content or "")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage and 10 <= reply.usage.prompt_tokens <= 40 and reply.usage.completion_tokens > 0
    assert raw.headers["x-gateway-cache"] == "off" and float(raw.headers["x-gateway-overhead-ms"]) >= 0
    # AND one usage record names the call, its tokens and its cost (0.5 and 1.5 USD per 1M tokens)
    request_id = raw.headers["x-request-id"]
    assert reply.id == f"chatcmpl-{request_id}"
    record = record_of(platform, gateway_app[0], request_id)
    assert record["alias"] == "offline-echo" and record["status"] == "200" and record["user"] == "end-user-7"
    assert int(record["prompt_tokens"]) == reply.usage.prompt_tokens
    assert int(record["completion_tokens"]) == reply.usage.completion_tokens
    expected = (reply.usage.prompt_tokens * 0.5 + reply.usage.completion_tokens * 1.5) / 1e6
    assert math.isclose(float(record["cost_usd"]), expected, abs_tol=1e-6)
    assert "local-models" in record["target"]


def test_a_streamed_completion_is_a_valid_event_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "Stream this sentence back to me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream this sentence back to me please" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage and chunks[-1].usage.completion_tokens > 0
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_tools_come_back_as_tool_calls_and_the_result_round_trips(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    reply = client.chat.completions.create(model="offline-echo", messages=messages, tools=[WEATHER_TOOL])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert call.function.name == "get_weather" and set(arguments) >= {"city", "unit"}  # type: ignore[union-attr]
    assert arguments["unit"] in ("c", "f")
    # WHEN the tool's result is sent back
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C"},
    ]
    answer = client.chat.completions.create(model="offline-echo", messages=messages, tools=[WEATHER_TOOL])
    assert answer.choices[0].finish_reason == "stop" and "18C" in (answer.choices[0].message.content or "")


def test_response_format_gives_valid_json(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["title", "score"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "Rate this film"}],
        response_format={"type": "json_schema", "json_schema": {"name": "rating", "schema": schema}},
    )
    data = json.loads(reply.choices[0].message.content or "")
    assert isinstance(data["title"], str) and isinstance(data["score"], int)
    plain = client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "Answer in JSON"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)


def test_a_managed_prompt_is_injected_and_named_in_the_usage_record(
    platform: Platform, client: openai.OpenAI, gateway_app: tuple[str, str]
) -> None:
    # GIVEN a chat prompt of this app, labelled production
    owner = platform.session(platform.token(client_id=gateway_app[0], secret=gateway_app[1]))
    created = owner.post(
        f"{platform.url}/v1/prompts",
        json={
            "name": "greeter",
            "messages": [{"role": "system", "content": "Greet {{customer}} warmly."}],
            "model": "offline-echo",
            "labels": ["production"],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    # WHEN a completion names it (no model: the prompt's), with the SDK's extra_body
    raw = client.chat.completions.with_raw_response.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "Hi there"}],
        extra_body={"prompt": {"name": "greeter", "label": "production", "variables": {"customer": "Ada"}}},
    )
    reply = raw.parse()
    # THEN the rendered system message was sent (it counts in the prompt tokens) and the record names the prompt
    assert "Hi there" in (reply.choices[0].message.content or "")
    record = record_of(platform, gateway_app[0], raw.headers["x-request-id"])
    assert (record["prompt_name"], record["prompt_version"]) == ("greeter", "1")
    # AND a missing variable is the SDK's BadRequestError naming it
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(
            model="offline-echo",
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"prompt": {"name": "greeter", "variables": {}}},
        )
    assert "customer" in str(missing.value)


def test_embeddings_single_and_batched_rank_related_text_closer(client: openai.OpenAI) -> None:
    single = client.embeddings.create(model="minilm", input="How do I reset my password?")
    assert len(single.data) == 1 and len(single.data[0].embedding) == 384
    batch = client.embeddings.create(
        model="minilm",
        input=[
            "How do I reset my password?",
            "Steps to recover a forgotten login password",
            "The stock market fell sharply today",
        ],
    )
    query, related, unrelated = (d.embedding for d in batch.data)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(query, related) > cosine(query, unrelated) + 0.2
    assert batch.usage.prompt_tokens > single.usage.prompt_tokens
    short = client.embeddings.create(model="minilm", input="short", dimensions=128, encoding_format="float")
    assert len(short.data[0].embedding) == 128


def test_the_sdk_raises_its_typed_errors_for_our_4xx(platform: Platform, client: openai.OpenAI) -> None:
    hello: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="no-such-model", messages=hello)
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as wrong_kind:
        client.chat.completions.create(model="minilm", messages=hello)
    assert wrong_kind.value.code == "model_not_supported"
    with pytest.raises(openai.BadRequestError) as n:
        client.chat.completions.create(model="offline-echo", messages=hello, n=2)
    assert n.value.param == "n"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="offline-echo", messages=hello, max_tokens=100_000)
    assert too_long.value.code == "max_tokens_too_large"
    with pytest.raises(openai.BadRequestError) as window:
        client.chat.completions.create(model="offline-echo", messages=[{"role": "user", "content": "lorem " * 40_000}])
    assert window.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as orphan:
        client.chat.completions.create(
            model="offline-echo", messages=[*hello, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]
        )
    assert orphan.value.code == "invalid_tool_call_id"
    with pytest.raises(openai.BadRequestError) as unknown_field:
        client.chat.completions.create(model="offline-echo", messages=hello, extra_body={"frobnicate": 1})
    assert "frobnicate" in str(unknown_field.value)
    # a hostile tool schema is refused by the model (offline-echo here) and reaches the caller as a 400, not a 5xx
    huge: Any = {"type": "function", "function": {"name": "f", "parameters": {"type": "array", "minItems": 10**9}}}
    with pytest.raises(openai.BadRequestError) as hostile:
        client.chat.completions.create(model="offline-echo", messages=hello, tools=[huge])
    assert hostile.value.code == "provider_rejected_request" and "minItems" in str(hostile.value)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{platform.url}/v1", api_key="not-a-token", max_retries=0).models.list()


def test_a_dead_first_target_falls_back_then_is_skipped(
    platform: Platform, client: openai.OpenAI, gateway_app: tuple[str, str]
) -> None:
    hello: Any = [{"role": "user", "content": "fallback please"}]
    ids = []
    for _ in range(4):
        raw = client.chat.completions.with_raw_response.create(model="offline-echo-fallback", messages=hello)
        assert "fallback please" in (raw.parse().choices[0].message.content or "")
        ids.append(raw.headers["x-request-id"])
    assert raw.headers["x-gateway-failed-attempts"] == "1"  # the skipped target
    first, last = (record_of(platform, gateway_app[0], i) for i in (ids[0], ids[-1]))
    # the first call tried the dead target 3 times (unless an earlier test left it cooling down already); once it
    # failed 3 times it cools down and is skipped
    first_attempts = [a["S"] for a in first["attempts"]]
    assert (len(first_attempts) == 3 and all("127.0.0.1:9" in a for a in first_attempts)) or first_attempts == [
        "openai:http://127.0.0.1:9/v1:offline-echo: skipped, cooling down"
    ]
    assert [a["S"] for a in last["attempts"]] == ["openai:http://127.0.0.1:9/v1:offline-echo: skipped, cooling down"]


def test_the_cache_answers_the_same_question_for_free(platform: Platform, client: openai.OpenAI) -> None:
    hello: Any = [{"role": "user", "content": f"cache me {time.time()}"}]
    first = client.chat.completions.with_raw_response.create(model="offline-echo-cached", messages=hello)
    second = client.chat.completions.with_raw_response.create(model="offline-echo-cached", messages=hello)
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert first.parse().choices[0].message.content == second.parse().choices[0].message.content
    # per request too, on a model without the cache
    opted = [
        client.chat.completions.with_raw_response.create(
            model="offline-echo", messages=hello, extra_body={"cache": True}
        ).headers["x-gateway-cache"]
        for _ in range(2)
    ]
    assert opted == ["miss", "hit"]


def test_forty_concurrent_requests_at_an_app_allowed_ten_a_minute_see_exactly_ten_served(platform: Platform) -> None:
    # GIVEN a fresh app allowed 10 requests per minute
    client_id, secret = platform.new_app("limited-app", ["genai/invoke"])
    set_limits(platform, client_id, requests_per_minute=10)
    token = platform.token(client_id=client_id, secret=secret)
    # a UTC minute window must not end while the requests are in flight
    if datetime.now(UTC).second > 40:
        time.sleep(61 - datetime.now(UTC).second)
    barrier = threading.Barrier(40)

    def call(_: int) -> requests.Response:
        with requests.Session() as session:
            barrier.wait()
            return session.post(
                f"{platform.url}/v1/chat/completions",
                headers={"Authorization": f"Bearer {token}"},
                json={"model": "offline-echo", "messages": [{"role": "user", "content": "hi"}]},
                timeout=60,
            )

    # WHEN 40 requests arrive at once
    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(call, range(40)))
    # THEN exactly 10 are served, and the other 30 get 429 with Retry-After in OpenAI's envelope
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10 and statuses.count(429) == 30, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "requests_per_minute_exceeded"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    # AND the SDK raises its RateLimitError
    sdk = openai.OpenAI(base_url=f"{platform.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="offline-echo", messages=[{"role": "user", "content": "hi"}])


def test_another_apps_managed_prompt_is_not_reachable(platform: Platform, client: openai.OpenAI) -> None:
    # GIVEN a prompt of the demo app
    demo = platform.session()
    demo.post(f"{platform.url}/v1/prompts", json={"name": "demo-only", "template": "secret {{x}}"}, timeout=10)
    # THEN another app naming it gets 404, as if it did not exist
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="offline-echo",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"prompt": {"name": "demo-only", "variables": {"x": "1"}}},
        )
