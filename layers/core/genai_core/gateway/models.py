"""The gateway's request shapes: OpenAI's chat completions and embeddings requests, with our extensions.

Unknown fields are refused (400 naming them), never dropped: a client that sends `logit_bias` or `n: 3` learns at
once that it was not honoured. Parameters that exist in OpenAI's API but that a target cannot honour are checked
against the target by the provider (`Provider.unsupported`).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genai_core.prompts.names import MAX_VERSION, Label, PromptName

ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_MESSAGES = 1000
MAX_TOOLS = 128
MAX_STOP = 4
MAX_EMBEDDING_INPUTS = 2048
MAX_INPUT_CHARS = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


IMAGE_TYPES = ("png", "jpeg", "jpg", "gif", "webp")
_DATA_URL = re.compile(r"data:image/(?P<type>[a-z]+);base64,(?P<data>.*)", re.DOTALL)


class ImageUrl(_Strict):
    url: str = Field(min_length=1, description="an https URL, or a data URL: data:image/<png|jpeg|gif|webp>;base64,...")
    detail: Literal["auto", "low", "high"] | None = None

    @field_validator("url")
    @classmethod
    def _image(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            _inline(url)
        return url

    def inline(self) -> tuple[str, bytes] | None:
        """(image type, bytes) of a data URL ("jpg" named "jpeg"), None for a web URL."""
        return None if self.url.startswith(("https://", "http://")) else _inline(self.url)


def _inline(url: str) -> tuple[str, bytes]:
    match = _DATA_URL.fullmatch(url)
    if match is None or match["type"] not in IMAGE_TYPES:
        raise ValueError(f"an image is an https URL or a data URL of one of: {', '.join(IMAGE_TYPES)}")
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the image's data URL is not valid base64") from None
    return ("jpeg" if match["type"] == "jpg" else match["type"]), data


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: ImageUrl


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(_Strict):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    arguments: str


class ToolCallIn(_Strict):
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Strict):
    role: Literal["system"]
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(_Strict):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_Strict):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Strict):
    role: Literal["assistant"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    refusal: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _something(self) -> AssistantMessage:
        if self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


class ToolMessage(_Strict):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str = Field(min_length=1, max_length=256)


Message = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDefinition(_Strict):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Strict):
    name: str = Field(pattern=TOOL_NAME_PATTERN)


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class ResponseFormatText(_Strict):
    type: Literal["text"]


class ResponseFormatJsonObject(_Strict):
    type: Literal["json_object"]


class JsonSchemaSpec(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatJsonSchema(_Strict):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema, Field(discriminator="type")
]


class StreamOptions(_Strict):
    include_usage: bool = False


class PromptReference(_Strict):
    """Render a managed prompt into the messages (extension)."""

    name: PromptName
    label: Label | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    variables: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_selector(self) -> PromptReference:
        if self.label is not None and self.version is not None:
            raise ValueError("give label or version, not both")
        return self


class KnowledgeReference(_Strict):
    """Retrieve chunks of the app's collections for the last user message and put them in the prompt (extension)."""

    collection_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(min_length=1, max_length=5)
    k: int = Field(default=4, ge=1, le=20, strict=True, description="How many chunks to put in the prompt")
    mode: Literal["vector", "lexical", "hybrid"] = "hybrid"
    filter: dict[str, Any] | None = Field(default=None, description="Metadata equality, as in search")


class ChatCompletionRequest(_Strict):
    """OpenAI's chat completions request. `model` may be left out when `prompt` names a prompt that has one."""

    model: str | None = Field(default=None, pattern=ALIAS_PATTERN)
    messages: list[Message] = Field(default_factory=list, max_length=MAX_MESSAGES)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=2**31 - 1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=2**31 - 1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str] | None = None
    # OpenAI parameters some targets cannot honour: accepted here, checked against the target.
    n: int | None = Field(default=None, ge=1, le=128)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, int] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    # Extensions.
    prompt: PromptReference | None = None
    knowledge: KnowledgeReference | None = None
    cache: bool | None = Field(default=None, description="Use the response cache (default: the model's setting)")

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        if value == "" or (isinstance(value, list) and "" in value):
            raise ValueError("a stop sequence must not be empty")
        return value

    @field_validator("tools")
    @classmethod
    def _tool_names(cls, value: list[Tool] | None) -> list[Tool] | None:
        names = [tool.function.name for tool in value or []]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"each tool needs a name of its own; repeated: {', '.join(repeated)}")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and (len(value) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in value.items())):
            raise ValueError("at most 16 pairs, keys up to 64 and values up to 512 characters")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> ChatCompletionRequest:
        if self.model is None and self.prompt is None:
            raise ValueError("model is required (or a prompt whose version names one)")
        if not self.messages and self.prompt is None:
            raise ValueError("messages must not be empty")
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("give max_tokens or max_completion_tokens, not both")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed with stream: true")
        if self.tool_choice is not None and self.tool_choice != "none" and not self.tools:
            raise ValueError("tool_choice needs tools")
        return self

    @property
    def output_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    @property
    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class EmbeddingsRequest(_Strict):
    model: str = Field(pattern=ALIAS_PATTERN)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=16_384)
    user: str | None = Field(default=None, max_length=256)

    @field_validator("input")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if not items:
            raise ValueError("input must not be empty")
        if len(items) > MAX_EMBEDDING_INPUTS:
            raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request")
        if any(isinstance(item, str) and not item for item in items):
            raise ValueError("inputs must not be empty strings")
        if sum(len(item) for item in items if isinstance(item, str)) > MAX_INPUT_CHARS:
            raise ValueError(f"inputs add up to more than {MAX_INPUT_CHARS} characters")
        return value

    @property
    def texts(self) -> list[str]:
        """The inputs as text; token arrays are refused (no target here takes tokens of OpenAI's tokenizers)."""
        items = [self.input] if isinstance(self.input, str) else self.input
        if not all(isinstance(item, str) for item in items):
            from genai_core.errors import InvalidRequest

            raise InvalidRequest(
                "input as token arrays is not supported: send text", code="unsupported_parameter", param="input"
            )
        return [str(item) for item in items]
