"""The Bedrock provider against a real bedrock-runtime client whose calls are stubbed with botocore's Stubber.

Each stub checks the exact parameters sent (the Converse or InvokeModel request) and answers with a recorded-shape
response from tests/fixtures/bedrock. Botocore validates both against the service model, so a request Bedrock would
refuse for its shape fails here too.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from genai_core.errors import InvalidRequest
from genai_core.gateway.catalogue import Guardrail, Target
from genai_core.gateway.models import ChatCompletionRequest
from genai_core.gateway.providers.base import ProviderRejected, ProviderRetryable, ProviderUnavailable
from genai_core.gateway.providers.bedrock import BedrockProvider
from genai_core.gateway.types import StreamEvent, ToolCall, Usage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE_V3 = "cohere.embed-english-v3"
COHERE_V4 = "us.cohere.embed-v4:0"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["city"],
}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather for a city", "parameters": WEATHER_PARAMETERS},
}
WEATHER_SPEC = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "inputSchema": {"json": WEATHER_PARAMETERS},
    }
}


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def chat_request(**fields: Any) -> ChatCompletionRequest:
    fields.setdefault("model", "claude-haiku")
    fields.setdefault("messages", [{"role": "user", "content": "Capital of France?"}])
    return ChatCompletionRequest.model_validate(fields)


def target(model: str = CLAUDE, **fields: Any) -> Target:
    return Target(provider="bedrock", model=model, region="us-east-1", **fields)


class JsonText:
    """Equal to a JSON text (str or bytes) that parses to `expected`: InvokeModel bodies are serialised JSON."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str | bytes) and json.loads(other) == self.expected

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"JsonText({self.expected!r})"


def invoke_response(payload: dict[str, Any], *, token_count: int | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "x-amzn-bedrock-invocation-latency": "83"}
    if token_count is not None:
        headers["x-amzn-bedrock-input-token-count"] = str(token_count)
    return {
        "body": StreamingBody(io.BytesIO(data), len(data)),
        "contentType": "application/json",
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": headers},
    }


def invoke_params(model: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"modelId": model, "body": JsonText(body), "contentType": "application/json", "accept": "application/json"}


class Bedrock:
    """A stubbed bedrock-runtime client and a provider that gets it from its client factory."""

    def __init__(self) -> None:
        self.client = boto3.client("bedrock-runtime", region_name="us-east-1")
        self.stubber = Stubber(self.client)
        self.clients_asked: list[tuple[str, str | None, float]] = []
        self.provider = BedrockProvider(client_factory=self._factory)

    def _factory(self, service: str, region: str | None, read_timeout: float) -> Any:
        self.clients_asked.append((service, region, read_timeout))
        return self.client

    def converse(self, expected: dict[str, Any], answer: str | dict[str, Any]) -> None:
        response = recorded(answer) if isinstance(answer, str) else answer
        self.stubber.add_response("converse", response, {"modelId": CLAUDE, **expected})

    def fail(self, method: str, code: str, message: str, status: int) -> None:
        self.stubber.add_client_error(method, service_error_code=code, service_message=message, http_status_code=status)


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bedrock]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stubbed = Bedrock()
    with stubbed.stubber:
        yield stubbed
        # Every stubbed answer was asked for: no expected call went missing.
        stubbed.stubber.assert_no_pending_responses()


# -- chat ---------------------------------------------------------------------------------------------------------


def test_a_plain_answer_with_system_text_and_temperature_zero(bedrock: Bedrock) -> None:
    # GIVEN a system and a developer message and sampling settings, temperature 0 among them
    request = chat_request(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in one sentence."}]},
            {"role": "user", "content": "Capital of France?"},
        ],
        temperature=0,
        top_p=0.9,
        max_completion_tokens=50,
        stop=["\n\n"],
    )
    bedrock.converse(
        {
            "system": [{"text": "You are terse."}, {"text": "Answer in one sentence."}],
            "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.0, "topP": 0.9, "stopSequences": ["\n\n"]},
        },
        "converse_text",
    )
    # WHEN it is sent to a Bedrock target
    result = bedrock.provider.chat(target(), request, timeout=12.5)
    # THEN Converse got the system blocks and temperature 0 (not dropped as falsy), and the caller gets the answer
    assert result.content == "Paris is the capital of France."
    assert result.tool_calls == []
    assert result.finish_reason == "stop"
    assert result.usage == Usage(prompt_tokens=21, completion_tokens=9, cached_tokens=0)
    # AND the client is the target region's, with the gateway's timeout
    assert bedrock.clients_asked == [("bedrock-runtime", "us-east-1", 12.5)]


def test_only_settings_that_were_given_are_sent_and_same_role_turns_merge(bedrock: Bedrock) -> None:
    # GIVEN no sampling settings and two user messages in a row
    request = chat_request(
        messages=[
            {"role": "user", "content": "Here is a riddle."},
            {"role": "user", "content": [{"type": "text", "text": "What has keys but no locks?"}]},
        ],
        max_tokens=64,
    )
    # THEN only maxTokens is sent, and the two messages are one user turn (Converse wants alternating roles)
    bedrock.converse(
        {
            "messages": [
                {"role": "user", "content": [{"text": "Here is a riddle."}, {"text": "What has keys but no locks?"}]}
            ],
            "inferenceConfig": {"maxTokens": 64},
        },
        "converse_text",
    )
    bedrock.provider.chat(target(), request, timeout=30)


def test_no_inference_config_when_nothing_is_set(bedrock: Bedrock) -> None:
    bedrock.converse({"messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}]}, "converse_text")
    assert bedrock.provider.chat(target(), chat_request(), timeout=30).content == "Paris is the capital of France."


def test_a_tool_call_comes_back_as_tool_calls(bedrock: Bedrock) -> None:
    # GIVEN a request offering a tool, the model free to use it
    request = chat_request(
        messages=[{"role": "user", "content": "Weather in Paris and Lyon?"}], tools=[WEATHER_TOOL], tool_choice="auto"
    )
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Weather in Paris and Lyon?"}]}],
            "toolConfig": {"tools": [WEATHER_SPEC], "toolChoice": {"auto": {}}},
        },
        "converse_tool_use",
    )
    # WHEN the model answers with two toolUse blocks
    result = bedrock.provider.chat(target(), request, timeout=30)
    # THEN the caller sees OpenAI tool calls with JSON-text arguments, and finish_reason tool_calls
    assert result.finish_reason == "tool_calls"
    assert result.content == "I'll check the current weather in Paris and Lyon."
    assert result.tool_calls == [
        ToolCall(id="tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name="get_weather", arguments=weather_args("Paris")),
        ToolCall(id="tooluse_3jXq0bYfTzmb5Vd9lQ2Z8w", name="get_weather", arguments=weather_args("Lyon")),
    ]
    assert json.loads(result.tool_calls[0].arguments) == {"city": "Paris", "unit": "celsius"}


def weather_args(city: str) -> str:
    return json.dumps({"city": city, "unit": "celsius"})


def test_tool_results_go_back_as_one_user_turn_after_the_tool_use_turn(bedrock: Bedrock) -> None:
    # GIVEN the history of a tool round: the assistant's two calls, then both tool results
    request = chat_request(
        messages=[
            {"role": "user", "content": "Weather in Paris and Lyon?"},
            {
                "role": "assistant",
                "content": "I'll check the current weather in Paris and Lyon.",
                "tool_calls": [
                    {
                        "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
                    },
                    {
                        "id": "tooluse_3jXq0bYfTzmb5Vd9lQ2Z8w",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "content": "18°C, cloudy"},
            {"role": "tool", "tool_call_id": "tooluse_3jXq0bYfTzmb5Vd9lQ2Z8w", "content": "21°C, sunny"},
        ],
        tools=[WEATHER_TOOL],
    )
    # THEN the calls are toolUse blocks with parsed input, and the results one user turn of toolResult blocks
    bedrock.converse(
        {
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Paris and Lyon?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"text": "I'll check the current weather in Paris and Lyon."},
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                                "name": "get_weather",
                                "input": {"city": "Paris", "unit": "celsius"},
                            }
                        },
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_3jXq0bYfTzmb5Vd9lQ2Z8w",
                                "name": "get_weather",
                                "input": {"city": "Lyon"},
                            }
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                                "content": [{"text": "18°C, cloudy"}],
                            }
                        },
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_3jXq0bYfTzmb5Vd9lQ2Z8w",
                                "content": [{"text": "21°C, sunny"}],
                            }
                        },
                    ],
                },
            ],
            "toolConfig": {"tools": [WEATHER_SPEC]},
        },
        "converse_after_tool",
    )
    # WHEN it is sent
    result = bedrock.provider.chat(target(), request, timeout=30)
    # THEN the caller gets the model's final answer
    assert result.content == "It is 18°C and cloudy in Paris, and 21°C and sunny in Lyon."
    assert result.finish_reason == "stop"
    assert result.usage.total_tokens == 584


@pytest.mark.parametrize(
    ("choice", "tool_choice"),
    [
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_maps_to_converse(bedrock: Bedrock, choice: Any, tool_choice: dict[str, Any]) -> None:
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}],
            "toolConfig": {"tools": [WEATHER_SPEC], "toolChoice": tool_choice},
        },
        "converse_text",
    )
    bedrock.provider.chat(target(), chat_request(tools=[WEATHER_TOOL], tool_choice=choice), timeout=30)


def test_tool_choice_none_sends_no_tools(bedrock: Bedrock) -> None:
    bedrock.converse({"messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}]}, "converse_text")
    bedrock.provider.chat(target(), chat_request(tools=[WEATHER_TOOL], tool_choice="none"), timeout=30)


def test_tool_choice_none_keeps_the_tools_when_the_history_has_tool_calls(bedrock: Bedrock) -> None:
    # GIVEN tool_choice none, but a history with a tool call and its result (Converse refuses those blocks
    # without a toolConfig)
    request = chat_request(
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "18°C"},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    # THEN the tools are sent without a toolChoice, and empty arguments are an empty input
    bedrock.converse(
        {
            "messages": [
                {"role": "user", "content": [{"text": "Weather in Paris?"}]},
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}],
                },
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "18°C"}]}}]},
            ],
            "toolConfig": {"tools": [WEATHER_SPEC]},
        },
        "converse_after_tool",
    )
    bedrock.provider.chat(target(), request, timeout=30)


def test_a_tool_without_parameters_gets_an_empty_object_schema(bedrock: Bedrock) -> None:
    tool = {"type": "function", "function": {"name": "now"}}
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}],
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "now", "inputSchema": {"json": {"type": "object", "properties": {}}}}}]
            },
        },
        "converse_text",
    )
    bedrock.provider.chat(target(), chat_request(tools=[tool]), timeout=30)


@pytest.mark.parametrize("arguments", ['{"city": "Par', '["Paris"]'])
def test_tool_call_arguments_that_are_not_a_json_object_are_refused(bedrock: Bedrock, arguments: str) -> None:
    # GIVEN an assistant tool call whose arguments are broken JSON, or not an object
    request = chat_request(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "18°C"},
        ],
        tools=[WEATHER_TOOL],
    )
    # WHEN it is sent THEN it is refused before any call, naming the parameter
    with pytest.raises(InvalidRequest) as refused:
        bedrock.provider.chat(target(), request, timeout=30)
    assert refused.value.param == "messages[1].tool_calls[0].function.arguments"


def test_an_answer_cut_by_max_tokens_finishes_with_length(bedrock: Bedrock) -> None:
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "History of Rome?"}]}],
            "inferenceConfig": {"maxTokens": 16},
        },
        "converse_max_tokens",
    )
    request = chat_request(messages=[{"role": "user", "content": "History of Rome?"}], max_tokens=16)
    result = bedrock.provider.chat(target(), request, timeout=30)
    assert result.finish_reason == "length"
    assert result.content is not None and result.content.endswith("beginning")


def test_the_targets_guardrail_and_extra_fields_are_sent(bedrock: Bedrock) -> None:
    # GIVEN a target with a guardrail and model-specific request fields
    guarded = target(
        guardrail=Guardrail(id="gr-abc123xyz", version="2", trace="enabled"),
        additional_request_fields={"top_k": 40},
    )
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}],
            "guardrailConfig": {"guardrailIdentifier": "gr-abc123xyz", "guardrailVersion": "2", "trace": "enabled"},
            "additionalModelRequestFields": {"top_k": 40},
        },
        "converse_guardrail",
    )
    # WHEN the guardrail intervenes
    result = bedrock.provider.chat(guarded, chat_request(), timeout=30)
    # THEN the caller sees the guardrail's message and finish_reason content_filter
    assert result.finish_reason == "content_filter"
    assert result.content == "Sorry, the model cannot answer this question."


def test_prompt_tokens_include_cache_reads_and_writes(bedrock: Bedrock) -> None:
    # GIVEN an answer that read 2048 prompt tokens from the cache and wrote 512, 14 tokens being new
    bedrock.converse({"messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}]}, "converse_cached")
    result = bedrock.provider.chat(target(), chat_request(), timeout=30)
    # THEN prompt_tokens counts the whole prompt, as OpenAI's does, and cached_tokens the reads
    assert result.usage == Usage(prompt_tokens=14 + 2048 + 512, completion_tokens=17, cached_tokens=2048)


@pytest.mark.parametrize(("mime", "converse_format"), [("png", "png"), ("jpg", "jpeg"), ("webp", "webp")])
def test_a_data_url_image_is_sent_as_bytes(bedrock: Bedrock, mime: str, converse_format: str) -> None:
    url = f"data:image/{mime};base64,{base64.b64encode(PNG).decode()}"
    request = chat_request(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                ],
            }
        ]
    )
    bedrock.converse(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "What is in this picture?"},
                        {"image": {"format": converse_format, "source": {"bytes": PNG}}},
                    ],
                }
            ]
        },
        "converse_text",
    )
    bedrock.provider.chat(target(), request, timeout=30)


# Other image types and broken base64 never get this far: the request model refuses them for every target.
@pytest.mark.parametrize(("url", "code"), [("https://example.com/cat.png", "unsupported_parameter")])
def test_images_converse_cannot_take_are_refused(bedrock: Bedrock, url: str, code: str) -> None:
    request = chat_request(
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": url}}],
            }
        ]
    )
    with pytest.raises(InvalidRequest) as refused:
        bedrock.provider.chat(target(), request, timeout=30)
    assert refused.value.code == code
    assert refused.value.param == "messages[0].content[1].image_url.url"


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number"},
        "conditions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "temperature_c", "conditions"],
}


def test_json_schema_is_honoured_by_forcing_a_tool(bedrock: Bedrock) -> None:
    # GIVEN a request for an answer in a JSON schema
    request = chat_request(
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "weather_report", "description": "A weather report", "schema": WEATHER_SCHEMA},
        },
    )
    # THEN Converse is made to call one tool whose input schema is that schema
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Weather in Paris as JSON"}]}],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "weather_report",
                            "description": "A weather report",
                            "inputSchema": {"json": WEATHER_SCHEMA},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": "weather_report"}},
            },
        },
        "converse_json_schema",
    )
    result = bedrock.provider.chat(target(), request, timeout=30)
    # AND the caller gets the tool's input as the message content, not as a tool call
    assert json.loads(result.content or "") == {
        "city": "Paris",
        "temperature_c": 18,
        "conditions": ["cloudy", "light rain"],
    }
    assert result.tool_calls == []
    assert result.finish_reason == "stop"


def test_json_object_forces_a_generic_json_tool(bedrock: Bedrock) -> None:
    answer = recorded("converse_json_schema")
    answer["output"]["message"]["content"][0]["toolUse"]["name"] = "json_response"
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "json_response",
                            "description": "Give the answer as a JSON object, as this tool's input.",
                            "inputSchema": {"json": {"type": "object"}},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": "json_response"}},
            },
        },
        answer,
    )
    result = bedrock.provider.chat(target(), chat_request(response_format={"type": "json_object"}), timeout=30)
    assert json.loads(result.content or "")["city"] == "Paris"
    assert result.finish_reason == "stop"


def test_json_response_format_with_tools_is_refused(bedrock: Bedrock) -> None:
    request = chat_request(tools=[WEATHER_TOOL], response_format={"type": "json_object"})
    with pytest.raises(InvalidRequest) as refused:
        bedrock.provider.chat(target(), request, timeout=30)
    assert refused.value.param == "response_format"


def test_a_streamed_answer_is_the_whole_answer_in_chunks(bedrock: Bedrock) -> None:
    # GIVEN a streaming request and a Bedrock answer with text and tool calls
    bedrock.converse(
        {
            "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}],
            "toolConfig": {"tools": [WEATHER_SPEC]},
        },
        "converse_tool_use",
    )
    events = list(bedrock.provider.chat_stream(target(), chat_request(stream=True, tools=[WEATHER_TOOL]), timeout=30))
    # THEN the chunks start with the role, carry the text in order, then the calls, and end with reason and usage
    assert events[0] == StreamEvent(delta={"role": "assistant", "content": ""})
    text = "".join(event.delta.get("content", "") for event in events)
    assert text == "I'll check the current weather in Paris and Lyon."
    calls = [event.delta["tool_calls"][0] for event in events if "tool_calls" in event.delta]
    assert [(call["index"], call["id"], call["function"]["name"]) for call in calls] == [
        (0, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather"),
        (1, "tooluse_3jXq0bYfTzmb5Vd9lQ2Z8w", "get_weather"),
    ]
    assert events[-1].finish_reason == "tool_calls"
    assert events[-1].usage == Usage(prompt_tokens=412, completion_tokens=96)


# -- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "message", "kind"),
    [
        ("ThrottlingException", 429, "Too many requests, please wait before trying again.", ProviderRetryable),
        ("ServiceQuotaExceededException", 400, "Too many tokens per day, please wait.", ProviderRetryable),
        ("ServiceUnavailableException", 503, "Bedrock is unable to process your request.", ProviderRetryable),
        ("InternalServerException", 500, "The server encountered an internal error.", ProviderRetryable),
        ("ModelTimeoutException", 408, "Model has timed out in processing the request.", ProviderRetryable),
        ("ModelNotReadyException", 429, "Model is not ready for inference.", ProviderRetryable),
        ("ModelErrorException", 424, "The model produced an invalid response.", ProviderRetryable),
        (
            "AccessDeniedException",
            403,
            "You don't have access to the model with the specified model ID.",
            ProviderUnavailable,
        ),
        ("ResourceNotFoundException", 404, "Model not found.", ProviderUnavailable),
        (
            "UnrecognizedClientException",
            403,
            "The security token included in the request is invalid.",
            ProviderUnavailable,
        ),
        ("ExpiredTokenException", 400, "The security token included in the request is expired", ProviderUnavailable),
        ("ValidationException", 400, "The provided model identifier is invalid.", ProviderUnavailable),
        ("SomethingNewException", 502, "Bad gateway.", ProviderRetryable),
    ],
)
def test_bedrock_errors_map_to_provider_errors(
    bedrock: Bedrock, code: str, status: int, message: str, kind: type[Exception]
) -> None:
    # GIVEN Bedrock answering with an error
    bedrock.fail("converse", code, message, status)
    # WHEN a chat is sent THEN the gateway sees the provider error that decides retry and fallback, with the message
    with pytest.raises(kind) as raised:
        bedrock.provider.chat(target(), chat_request(), timeout=30)
    assert type(raised.value) is kind
    assert raised.value.args[0] == message


def test_a_validation_error_is_the_callers_with_bedrocks_message(bedrock: Bedrock) -> None:
    message = (
        "A conversation must start with a user message. Try again with a conversation that starts with a user message."
    )
    bedrock.fail("converse", "ValidationException", message, 400)
    with pytest.raises(ProviderRejected) as rejected:
        bedrock.provider.chat(target(), chat_request(), timeout=30)
    assert rejected.value.status == 400
    assert rejected.value.message == message


def test_throttling_reports_429(bedrock: Bedrock) -> None:
    bedrock.fail("converse", "ThrottlingException", "Too many requests, please wait before trying again.", 429)
    with pytest.raises(ProviderRetryable) as throttled:
        bedrock.provider.chat(target(), chat_request(), timeout=30)
    assert throttled.value.status == 429


class Unreachable:
    """A client whose calls fail in the network, below any Bedrock error response."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def converse(self, **_: Any) -> dict[str, Any]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse"),
        EndpointConnectionError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse"),
    ],
)
def test_timeouts_and_connection_failures_are_retryable(error: Exception) -> None:
    provider = BedrockProvider(client_factory=lambda *_: Unreachable(error))
    with pytest.raises(ProviderRetryable):
        provider.chat(target(), chat_request(), timeout=1)


# -- unsupported parameters ---------------------------------------------------------------------------------------


def test_unsupported_names_the_parameters_converse_cannot_honour() -> None:
    request = chat_request(
        n=2,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.1,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=3,
        parallel_tool_calls=False,
        reasoning_effort="low",
        tools=[WEATHER_TOOL],
    )
    assert BedrockProvider().unsupported(target(), request) == [
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "parallel_tool_calls",
        "reasoning_effort",
    ]


def test_openai_defaults_and_supported_parameters_are_not_unsupported() -> None:
    request = chat_request(
        n=1,
        presence_penalty=0,
        frequency_penalty=0,
        logprobs=False,
        parallel_tool_calls=True,
        temperature=0,
        tools=[WEATHER_TOOL],
        response_format={"type": "json_object"},
    )
    assert BedrockProvider().unsupported(target(), request) == []


# -- embeddings ---------------------------------------------------------------------------------------------------


def test_titan_v2_embeds_one_input_per_call_with_the_dimensions_asked(bedrock: Bedrock) -> None:
    # GIVEN two inputs and 256 dimensions
    texts = ["the first document", "the second"]
    for text, tokens in zip(texts, (4, 3), strict=True):
        body = recorded("titan_embed_v2")
        body["embedding"] = [0.01] * 256
        body["embeddingsByType"] = {"float": body["embedding"]}
        body["inputTextTokenCount"] = tokens
        bedrock.stubber.add_response(
            "invoke_model",
            invoke_response(body, token_count=tokens),
            invoke_params(TITAN, {"inputText": text, "dimensions": 256, "normalize": True}),
        )
    # WHEN they are embedded
    result = bedrock.provider.embed(target(TITAN), texts, dimensions=256, timeout=10)
    # THEN there is one call per input, one vector each of the size asked, and the token counts add up
    assert [len(vector) for vector in result.vectors] == [256, 256]
    assert result.prompt_tokens == 7


def test_titan_v2_uses_the_token_header_when_the_body_has_no_count(bedrock: Bedrock) -> None:
    bedrock.stubber.add_response(
        "invoke_model",
        invoke_response({"embedding": [0.1, 0.2]}, token_count=5),
        invoke_params(TITAN, {"inputText": "hello there", "normalize": True}),
    )
    result = bedrock.provider.embed(target(TITAN), ["hello there"], dimensions=None, timeout=10)
    assert result.vectors == [[0.1, 0.2]]
    assert result.prompt_tokens == 5


def test_titan_v2_refuses_other_dimensions(bedrock: Bedrock) -> None:
    with pytest.raises(InvalidRequest) as refused:
        bedrock.provider.embed(target(TITAN), ["x"], dimensions=384, timeout=10)
    assert refused.value.param == "dimensions"


def test_cohere_embeds_in_batches_of_96(bedrock: Bedrock) -> None:
    # GIVEN 100 texts for Cohere Embed v3
    texts = [f"document number {i}" for i in range(100)]
    for batch, tokens in ((texts[:96], 480), (texts[96:], 20)):
        body = recorded("cohere_embed_v3")
        body["embeddings"] = {"float": [[float(texts.index(text))] for text in batch]}
        body["texts"] = batch
        bedrock.stubber.add_response(
            "invoke_model",
            invoke_response(body, token_count=tokens),
            invoke_params(COHERE_V3, {"texts": batch, "input_type": "search_document", "embedding_types": ["float"]}),
        )
    # WHEN they are embedded
    result = bedrock.provider.embed(target(COHERE_V3), texts, dimensions=None, timeout=10)
    # THEN two calls (96 + 4) give 100 vectors in input order, and the header token counts add up
    assert [vector[0] for vector in result.vectors] == [float(i) for i in range(100)]
    assert result.prompt_tokens == 500


def test_cohere_legacy_list_answer_and_estimated_tokens_without_the_header(bedrock: Bedrock) -> None:
    # GIVEN an answer in the older shape (a bare list of vectors) and no token count header
    body = recorded("cohere_embed_v3")
    body["embeddings"] = body["embeddings"]["float"]
    body["response_type"] = "embeddings_floats"
    bedrock.stubber.add_response(
        "invoke_model",
        invoke_response(body),
        invoke_params(
            COHERE_V3,
            {"texts": body["texts"], "input_type": "search_document", "embedding_types": ["float"]},
        ),
    )
    result = bedrock.provider.embed(target(COHERE_V3), body["texts"], dimensions=None, timeout=10)
    assert result.vectors == [[0.0215, -0.0132, 0.0457], [-0.0088, 0.0311, 0.0029]]
    # THEN tokens are estimated at 4 characters each: "the first document" (18) -> 5, "the second document" (19) -> 5
    assert result.prompt_tokens == 10


def test_cohere_v4_through_an_inference_profile_sends_the_output_dimension(bedrock: Bedrock) -> None:
    body = recorded("cohere_embed_v3")
    body["embeddings"] = {"float": [[0.5] * 512]}
    bedrock.stubber.add_response(
        "invoke_model",
        invoke_response(body, token_count=3),
        invoke_params(
            COHERE_V4,
            {
                "texts": ["a query"],
                "input_type": "search_document",
                "embedding_types": ["float"],
                "output_dimension": 512,
            },
        ),
    )
    result = bedrock.provider.embed(target(COHERE_V4), ["a query"], dimensions=512, timeout=10)
    assert len(result.vectors[0]) == 512
    assert result.prompt_tokens == 3


def test_cohere_v3_only_has_1024_dimensions(bedrock: Bedrock) -> None:
    with pytest.raises(InvalidRequest) as refused:
        bedrock.provider.embed(target(COHERE_V3), ["x"], dimensions=512, timeout=10)
    assert refused.value.param == "dimensions"


def test_an_embedding_error_is_mapped_too(bedrock: Bedrock) -> None:
    bedrock.fail("invoke_model", "AccessDeniedException", "You don't have access to the model.", 403)
    with pytest.raises(ProviderUnavailable):
        bedrock.provider.embed(target(TITAN), ["x"], dimensions=None, timeout=10)


@pytest.mark.parametrize("model", ["amazon.titan-embed-image-v1", "us.meta.llama3-2-1b-instruct-v1:0"])
def test_an_unknown_embedding_family_makes_the_target_unavailable(bedrock: Bedrock, model: str) -> None:
    with pytest.raises(ProviderUnavailable) as unavailable:
        bedrock.provider.embed(target(model), ["x"], dimensions=None, timeout=10)
    assert model in unavailable.value.message
