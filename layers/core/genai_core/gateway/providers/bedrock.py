"""Amazon Bedrock: chat through the Converse API (one request shape for every chat model), embeddings through
InvokeModel with each family's own body (Titan Text Embeddings v2, Cohere Embed v3 and v4).

Errors come back as the three provider errors of `base`; requests that Converse cannot express at all (remote image
URLs, response_format json together with tools, malformed tool arguments) are refused before any call, as
`InvalidRequest` naming the parameter, since every Bedrock target would refuse them the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from genai_core.aws import provider_client
from genai_core.errors import InvalidRequest
from genai_core.gateway.catalogue import Target
from genai_core.gateway.models import (
    AssistantMessage,
    ChatCompletionRequest,
    DeveloperMessage,
    ImagePart,
    ImageUrl,
    ResponseFormatJsonObject,
    ResponseFormatJsonSchema,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from genai_core.gateway.providers.base import ProviderError, ProviderRejected, ProviderRetryable, ProviderUnavailable
from genai_core.gateway.types import ChatResult, EmbeddingResult, FinishReason, StreamEvent, ToolCall, Usage, stream_of

# (service, region, read timeout) -> boto3 client; `provider_client` in production, a stubbed client in tests.
ClientFactory = Callable[[str, str | None, float], Any]

SERVICE = "bedrock-runtime"
JSON_OBJECT_TOOL = "json_response"
COHERE_BATCH = 96  # Bedrock's limit of texts per Cohere Embed call
TITAN_V2_DIMENSIONS = frozenset({256, 512, 1024})
COHERE_V4_DIMENSIONS = frozenset({256, 512, 1024, 1536})
COHERE_V3_DIMENSIONS = frozenset({1024})
# botocore lower-cases response header names.
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"
# Cross-region inference profiles prefix the model id with a geography ("us.cohere.embed-v4:0").
PROFILE_PREFIXES = frozenset({"us", "us-gov", "eu", "apac", "au", "ca", "jp", "global"})


_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# Bedrock error code -> (provider error class, status reported upward).
_ERRORS: dict[str, tuple[type[ProviderError], int]] = {
    "ThrottlingException": (ProviderRetryable, 429),
    # Raised for on-demand token/request quotas being exceeded, i.e. a throttle under another name: the quota frees
    # up with time, and another target (region, profile) has its own quota.
    "ServiceQuotaExceededException": (ProviderRetryable, 429),
    "ModelNotReadyException": (ProviderRetryable, 503),
    "ServiceUnavailableException": (ProviderRetryable, 503),
    "InternalServerException": (ProviderRetryable, 500),
    "ModelTimeoutException": (ProviderRetryable, 408),
    # 424 "an error while processing the model": the model itself failed, not the request's shape (that is a
    # ValidationException). Rejecting would blame the caller and skip the fallbacks; a retry or the next target
    # usually answers, and if the error is persistent the chain ends with an upstream error anyway.
    "ModelErrorException": (ProviderRetryable, 424),
    "AccessDeniedException": (ProviderUnavailable, 403),
    "ResourceNotFoundException": (ProviderUnavailable, 404),
    "UnrecognizedClientException": (ProviderUnavailable, 403),
    "ExpiredTokenException": (ProviderUnavailable, 403),
    "ValidationException": (ProviderRejected, 400),
}

# ValidationExceptions that are about the catalogue's target, not the caller's request: a 400 to the caller would be
# wrong and would stop the fallback to a target that works.
_TARGET_PROBLEMS = ("model identifier is invalid", "on-demand throughput")


class BedrockProvider:
    name = "bedrock"

    def __init__(self, client_factory: ClientFactory = provider_client) -> None:
        self._client_factory = client_factory

    # -- chat ----------------------------------------------------------------------------------------------------

    def unsupported(self, target: Target, request: ChatCompletionRequest) -> list[str]:
        """Parameters Converse has no field for. A value equal to OpenAI's default asks for nothing, so it passes
        (n=1, penalties 0, logprobs false, top_logprobs 0, empty logit_bias, parallel_tool_calls true); a seed or a
        reasoning effort always changes what the caller expects, so any value is refused."""
        names: list[str] = []
        if request.n is not None and request.n > 1:
            names.append("n")
        if request.seed is not None:
            names.append("seed")
        if request.presence_penalty:
            names.append("presence_penalty")
        if request.frequency_penalty:
            names.append("frequency_penalty")
        if request.logit_bias:
            names.append("logit_bias")
        if request.logprobs:
            names.append("logprobs")
        if request.top_logprobs:
            names.append("top_logprobs")
        if request.parallel_tool_calls is False:
            names.append("parallel_tool_calls")
        if request.reasoning_effort is not None:
            names.append("reasoning_effort")
        return names

    def chat(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> ChatResult:
        params = converse_params(target, request)
        client = self._client_factory(SERVICE, target.region, timeout)
        response = _call(client.converse, **params)
        return chat_result(response, forced_tool=_forced_tool_name(request))

    def chat_stream(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> Iterator[StreamEvent]:
        """The whole answer from `converse`, cut into chunks. ConverseStream would not reach the caller any sooner:
        behind API Gateway and a buffered Lambda response the body is delivered whole, and one code path keeps the
        error mapping and usage the same for both modes."""
        return iter(stream_of(self.chat(target, request, timeout=timeout)))

    # -- embeddings ----------------------------------------------------------------------------------------------

    def embed(self, target: Target, texts: list[str], *, dimensions: int | None, timeout: float) -> EmbeddingResult:
        family = embedding_family(target.model)
        client = self._client_factory(SERVICE, target.region, timeout)
        if family == "titan-v2":
            return self._embed_titan(client, target.model, texts, dimensions)
        return self._embed_cohere(client, target.model, texts, dimensions, v4=family == "cohere-v4")

    def _embed_titan(self, client: Any, model: str, texts: list[str], dimensions: int | None) -> EmbeddingResult:
        _check_dimensions(dimensions, TITAN_V2_DIMENSIONS)
        vectors: list[list[float]] = []
        tokens = 0
        # Titan takes a single inputText per call.
        for text in texts:
            body: dict[str, Any] = {"inputText": text, "normalize": True}
            if dimensions is not None:
                body["dimensions"] = dimensions
            payload, headers = _invoke(client, model, body)
            vectors.append([float(x) for x in payload["embedding"]])
            count = payload.get("inputTextTokenCount")
            tokens += int(count) if count is not None else _header_tokens(headers, text)
        return EmbeddingResult(vectors=vectors, prompt_tokens=tokens)

    def _embed_cohere(
        self, client: Any, model: str, texts: list[str], dimensions: int | None, *, v4: bool
    ) -> EmbeddingResult:
        _check_dimensions(dimensions, COHERE_V4_DIMENSIONS if v4 else COHERE_V3_DIMENSIONS)
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), COHERE_BATCH):
            batch = texts[start : start + COHERE_BATCH]
            body: dict[str, Any] = {"texts": batch, "input_type": "search_document", "embedding_types": ["float"]}
            if v4 and dimensions is not None:
                body["output_dimension"] = dimensions
            payload, headers = _invoke(client, model, body)
            embeddings = payload["embeddings"]
            # With embedding_types the vectors are keyed by type; older deployments answer a bare list.
            floats = embeddings["float"] if isinstance(embeddings, dict) else embeddings
            vectors.extend([float(x) for x in vector] for vector in floats)
            tokens += _header_tokens(headers, *batch)
        return EmbeddingResult(vectors=vectors, prompt_tokens=tokens)


# -- request translation --------------------------------------------------------------------------------------------


def converse_params(target: Target, request: ChatCompletionRequest) -> dict[str, Any]:
    """The keyword arguments of `converse` for this request on this target."""
    system, messages = _conversation(request)
    params: dict[str, Any] = {"modelId": target.model, "messages": messages}
    if system:
        params["system"] = system
    inference: dict[str, Any] = {}
    # `is not None`, never truthiness: temperature 0 (greedy) is the value people most often set on purpose.
    if request.output_limit is not None:
        inference["maxTokens"] = request.output_limit
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop_sequences:
        inference["stopSequences"] = request.stop_sequences
    if inference:
        params["inferenceConfig"] = inference
    tool_config = _tool_config(request, has_tool_blocks=_has_tool_blocks(messages))
    if tool_config is not None:
        params["toolConfig"] = tool_config
    if target.guardrail is not None:
        params["guardrailConfig"] = {
            "guardrailIdentifier": target.guardrail.id,
            "guardrailVersion": target.guardrail.version,
            "trace": target.guardrail.trace,
        }
    if target.additional_request_fields:
        params["additionalModelRequestFields"] = target.additional_request_fields
    return params


def _conversation(request: ChatCompletionRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(request.messages):
        if isinstance(message, SystemMessage | DeveloperMessage):
            system.extend({"text": text} for text in _texts(message.content) if text)
            continue
        if isinstance(message, UserMessage):
            role, blocks = "user", _user_blocks(i, message)
        elif isinstance(message, AssistantMessage):
            role, blocks = "assistant", _assistant_blocks(i, message)
        else:
            # Converse carries tool results in a user turn; consecutive tool messages merge into one below.
            role, blocks = "user", [_tool_result(message)]
        # Converse wants strictly alternating roles, so same-role neighbours become one turn.
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        # Converse refuses blank text blocks; drop them where the turn has other content, and otherwise let Bedrock
        # name the problem.
        kept = [block for block in turn["content"] if block.get("text", True) != ""]
        if kept:
            turn["content"] = kept
    return system, turns


def _texts(content: str | list[TextPart] | None) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [part.text for part in content]


def _user_blocks(i: int, message: UserMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}]
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(message.content):
        if isinstance(part, ImagePart):
            blocks.append(_image_block(part.image_url, f"messages[{i}].content[{j}].image_url.url"))
        else:
            blocks.append({"text": part.text})
    return blocks


def _image_block(image: ImageUrl, param: str) -> dict[str, Any]:
    # The request model has checked a data URL's type and base64 already.
    inline = image.inline()
    if inline is None:
        raise InvalidRequest(
            "image URLs are not supported by this model's provider: send the image inline as a data: URL "
            "(data:image/png;base64,...)",
            code="unsupported_parameter",
            param=param,
        )
    image_format, data = inline
    return {"image": {"format": image_format, "source": {"bytes": data}}}


def _assistant_blocks(i: int, message: AssistantMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"text": text} for text in _texts(message.content)]
    for j, call in enumerate(message.tool_calls or []):
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.function.name,
                    "input": _tool_input(call.function.arguments, f"messages[{i}].tool_calls[{j}].function.arguments"),
                }
            }
        )
    return blocks


def _tool_input(arguments: str, param: str) -> dict[str, Any]:
    # Some clients send "" for a call without arguments; it means the same as {}.
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise InvalidRequest("tool call arguments must be a JSON text", param=param) from None
    if not isinstance(value, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", param=param)
    return value


def _tool_result(message: ToolMessage) -> dict[str, Any]:
    content = [{"text": text} for text in _texts(message.content)]
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content}}


def _has_tool_blocks(messages: list[dict[str, Any]]) -> bool:
    return any("toolUse" in block or "toolResult" in block for turn in messages for block in turn["content"])


def _forced_tool_name(request: ChatCompletionRequest) -> str | None:
    """The tool that stands in for response_format json, if the request asks for JSON."""
    if isinstance(request.response_format, ResponseFormatJsonSchema):
        return request.response_format.json_schema.name
    if isinstance(request.response_format, ResponseFormatJsonObject):
        return JSON_OBJECT_TOOL
    return None


def _tool_config(request: ChatCompletionRequest, *, has_tool_blocks: bool) -> dict[str, Any] | None:
    forced = _forced_tool_name(request)
    if forced is not None:
        # Converse has no JSON mode; forcing a single tool whose input schema is the wanted schema makes the model
        # answer with exactly that object. The user's own tools would compete with it.
        if request.tools:
            raise InvalidRequest(
                "response_format json_schema or json_object cannot be combined with tools on this model",
                code="unsupported_parameter",
                param="response_format",
            )
        spec: dict[str, Any] = {"name": forced, "inputSchema": {"json": {"type": "object"}}}
        if isinstance(request.response_format, ResponseFormatJsonSchema):
            schema = request.response_format.json_schema
            if schema.json_schema is not None:
                spec["inputSchema"] = {"json": schema.json_schema}
            spec["description"] = schema.description or "Give the answer as this tool's input."
        else:
            spec["description"] = "Give the answer as a JSON object, as this tool's input."
        return {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": forced}}}
    if not request.tools:
        return None
    tools = [{"toolSpec": _tool_spec(tool.function)} for tool in request.tools]
    choice = request.tool_choice
    if choice == "none":
        # Converse has no "none" choice. Leaving the tools out honours it, but Converse refuses a history with
        # toolUse/toolResult blocks when no toolConfig is given: then the tools stay, without a toolChoice (so the
        # model decides, as with "auto"). The caller may get tool_calls back in that one case.
        return {"tools": tools} if has_tool_blocks else None
    config: dict[str, Any] = {"tools": tools}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice is not None:
        config["toolChoice"] = {"tool": {"name": choice.function.name}}
    return config


def _tool_spec(function: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": function.name,
        "inputSchema": {"json": function.parameters or {"type": "object", "properties": {}}},
    }
    if function.description:
        spec["description"] = function.description
    return spec


# -- response translation -------------------------------------------------------------------------------------------


def chat_result(response: dict[str, Any], *, forced_tool: str | None = None) -> ChatResult:
    """A Converse response as a ChatResult; with `forced_tool` (response_format json), that tool's input is the
    answer's content."""
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    texts = [block["text"] for block in blocks if "text" in block]
    calls = [block["toolUse"] for block in blocks if "toolUse" in block]
    finish = _STOP_REASONS.get(response.get("stopReason", ""), "stop")
    usage = _usage(response.get("usage", {}))
    if forced_tool is not None:
        answer = next((call for call in calls if call.get("name") == forced_tool), None)
        if answer is not None:
            # The forced call is how the model answers here, so a tool_use stop is an ordinary end of answer.
            return ChatResult(
                content=json.dumps(answer.get("input", {}), ensure_ascii=False),
                tool_calls=[],
                finish_reason="stop" if finish == "tool_calls" else finish,
                usage=usage,
            )
    tool_calls = [
        ToolCall(id=call["toolUseId"], name=call["name"], arguments=json.dumps(call.get("input", {}))) for call in calls
    ]
    content = "".join(texts) if texts else None
    return ChatResult(content=content, tool_calls=tool_calls, finish_reason=finish, usage=usage)


def _usage(usage: dict[str, Any]) -> Usage:
    # Bedrock reports three disjoint groups of input tokens, each billed at its own rate (see the prompt caching
    # guide, docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html, and TokenUsage in the API reference):
    # inputTokens (neither read from nor written to the cache), cacheReadInputTokens and cacheWriteInputTokens.
    # OpenAI's prompt_tokens counts the whole prompt, cached tokens included, so the three add up here.
    read = int(usage.get("cacheReadInputTokens") or 0)
    written = int(usage.get("cacheWriteInputTokens") or 0)
    return Usage(
        prompt_tokens=int(usage.get("inputTokens") or 0) + read + written,
        completion_tokens=int(usage.get("outputTokens") or 0),
        cached_tokens=read,
    )


# -- embeddings helpers ---------------------------------------------------------------------------------------------


def embedding_family(model: str) -> str:
    """The embedding family ("titan-v2", "cohere-v3" or "cohere-v4") of a model id, inference profile id or ARN."""
    base = model.rsplit("/", 1)[-1]
    prefix, _, rest = base.partition(".")
    if prefix in PROFILE_PREFIXES and rest:
        base = rest
    if base.startswith("amazon.titan-embed-text-v2"):
        return "titan-v2"
    if base.startswith("cohere.embed-v4"):
        return "cohere-v4"
    if base.startswith(("cohere.embed-english-v3", "cohere.embed-multilingual-v3")):
        return "cohere-v3"
    raise ProviderUnavailable(f"no Bedrock embedding support for model {model!r}")


def _check_dimensions(dimensions: int | None, allowed: frozenset[int]) -> None:
    if dimensions is not None and dimensions not in allowed:
        sizes = ", ".join(str(size) for size in sorted(allowed))
        raise InvalidRequest(
            f"dimensions must be one of {sizes} for this model", code="unsupported_parameter", param="dimensions"
        )


def _invoke(client: Any, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    response = _call(
        client.invoke_model,
        modelId=model,
        body=json.dumps(body),
        contentType="application/json",
        accept="application/json",
    )
    payload = json.loads(response["body"].read())
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return payload, headers


def _header_tokens(headers: dict[str, str], *texts: str) -> int:
    """The input token count Bedrock puts on every InvokeModel response; Cohere's body has none. Without the header
    (never seen, but not promised by the API model) the count is estimated at Cohere's rule of thumb of 4 characters
    a token, so that usage and cost are not silently zero."""
    value = headers.get(INPUT_TOKENS_HEADER)
    if value is not None and value.strip().isdigit():
        return int(value)
    return sum(math.ceil(len(text) / 4) for text in texts)


# -- errors -------------------------------------------------------------------------------------------------------


def _call(operation: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    try:
        return operation(**params)
    except ClientError as error:
        raise provider_error(error) from error
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        raise ProviderRetryable(f"Bedrock timed out: {error}", status=408) from error
    except (EndpointConnectionError, ConnectionClosedError) as error:
        raise ProviderRetryable(f"Bedrock could not be reached: {error}", status=503) from error
    except NoCredentialsError as error:
        raise ProviderUnavailable("no AWS credentials for Bedrock", status=403) from error


def provider_error(error: ClientError) -> ProviderError:
    """The provider error for a Bedrock ClientError, carrying Bedrock's own message."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message") or code or "Bedrock error")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    kind, default_status = _ERRORS.get(code, (None, 0))
    if kind is ProviderRejected and any(problem in message.lower() for problem in _TARGET_PROBLEMS):
        return ProviderUnavailable(message, status=400)
    if kind is not None:
        return kind(message, status=default_status)
    # An error code this module does not know: judge by the HTTP status, and never blame the caller for it.
    if isinstance(status, int) and (status >= 500 or status == 429):
        return ProviderRetryable(message, status=status)
    return ProviderUnavailable(message, status=status if isinstance(status, int) else None)
