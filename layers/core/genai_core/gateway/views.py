"""OpenAI's response shapes (chat completion, stream chunks, embeddings, models), built from the service's results.

These models are also the routes' response schemas in the OpenAPI document.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Literal

from pydantic import BaseModel, Field

from genai_core.gateway.catalogue import ModelEntry
from genai_core.gateway.service import ChatOutcome, EmbeddingOutcome
from genai_core.gateway.types import MAX_PIECE_CHARS, StreamEvent, Usage

OWNER = "genai-platform"


class FunctionCallOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessageOut
    finish_reason: str
    logprobs: None = None


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails


class Citation(BaseModel):
    """A chunk the prompt carried as source [index] (extension, with `knowledge`)."""

    index: int
    document_id: str
    collection_id: str
    filename: str | None
    chunk_id: str
    page: int | None = Field(description="The first page of the chunk")
    pages: list[int]
    heading_path: list[str]
    score: float


class ChatCompletion(BaseModel):
    """OpenAI's `chat.completion`. With `stream: true` the body is instead a `text/event-stream` of
    `chat.completion.chunk` events ending with `data: [DONE]`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(description="The catalogue alias that was called")
    choices: list[Choice]
    usage: UsageOut
    citations: list[Citation] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="With knowledge: the sources put in the prompt, which the answer cites as [1], [2], ... "
        "(in a stream: on the first chunk)",
    )


def citations_of(outcome: ChatOutcome) -> list[Citation] | None:
    sources = outcome.context.sources
    if sources is None:
        return None
    return [
        Citation(
            index=s.index,
            document_id=s.document_id,
            collection_id=s.collection_id,
            filename=s.filename,
            chunk_id=s.chunk_id,
            page=s.pages[0] if s.pages else None,
            pages=list(s.pages),
            heading_path=list(s.heading_path),
            score=s.score,
        )
        for s in sources
    ]


class EmbeddingOut(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of little-endian float32 (encoding_format)")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage


class Pricing(BaseModel):
    input_per_1m: float = Field(description="USD per 1M input tokens")
    output_per_1m: float = Field(description="USD per 1M output tokens")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = OWNER
    description: str
    capabilities: list[str]
    context_window: int
    max_output_tokens: int | None
    dimensions: int | None
    pricing: Pricing
    cache_enabled: bool


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


def usage_out(usage: Usage) -> UsageOut:
    return UsageOut(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens),
    )


def completion_id(request_id: str) -> str:
    return f"chatcmpl-{request_id}"


def chat_completion(outcome: ChatOutcome) -> ChatCompletion:
    result = outcome.result
    calls = [
        ToolCallOut(id=c.id, function=FunctionCallOut(name=c.name, arguments=c.arguments)) for c in result.tool_calls
    ]
    return ChatCompletion(
        id=completion_id(outcome.context.request_id),
        created=int(outcome.context.started_at.timestamp()),
        model=outcome.alias,
        choices=[
            Choice(
                message=AssistantMessageOut(content=result.content, refusal=result.refusal, tool_calls=calls or None),
                finish_reason=result.finish_reason,
            )
        ],
        usage=usage_out(result.usage),
        citations=citations_of(outcome),
    )


def event_stream(outcome: ChatOutcome, events: list[StreamEvent], *, include_usage: bool) -> str:
    """The SSE body: one `chat.completion.chunk` per event, the usage chunk when asked for, then [DONE]."""
    base = {
        "id": completion_id(outcome.context.request_id),
        "object": "chat.completion.chunk",
        "created": int(outcome.context.started_at.timestamp()),
        "model": outcome.alias,
    }
    lines: list[str] = []
    citations = citations_of(outcome)
    for event in _coalesced(events):
        if not event.delta and event.finish_reason is None:
            continue
        chunk = {**base, "choices": [{"index": 0, "delta": event.delta, "finish_reason": event.finish_reason}]}
        if include_usage:
            chunk["usage"] = None
        if citations is not None and not lines:
            chunk["citations"] = [c.model_dump() for c in citations]
        lines.append(f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n")
    if include_usage:
        usage = usage_out(outcome.result.usage).model_dump()
        lines.append(f"data: {json.dumps({**base, 'choices': [], 'usage': usage}, separators=(',', ':'))}\n\n")
    lines.append("data: [DONE]\n\n")
    return "".join(lines)


def _coalesced(events: list[StreamEvent]) -> list[StreamEvent]:
    """Adjacent text-only deltas merged into pieces of up to MAX_PIECE_CHARS; every other event kept as it is."""
    out: list[StreamEvent] = []
    for event in events:
        previous = out[-1] if out else None
        text_only = set(event.delta) == {"content"} and event.finish_reason is None and event.usage is None
        if (
            text_only
            and previous is not None
            and set(previous.delta) == {"content"}
            and previous.finish_reason is None
            and previous.usage is None
            and len(previous.delta["content"]) + len(event.delta["content"]) <= MAX_PIECE_CHARS
        ):
            out[-1] = StreamEvent(delta={"content": previous.delta["content"] + event.delta["content"]})
        else:
            out.append(event)
    return out


def embedding_list(outcome: EmbeddingOutcome, encoding_format: str) -> EmbeddingList:
    def encode(vector: list[float]) -> list[float] | str:
        if encoding_format == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        return vector

    tokens = outcome.result.prompt_tokens
    return EmbeddingList(
        data=[EmbeddingOut(index=i, embedding=encode(v)) for i, v in enumerate(outcome.result.vectors)],
        model=outcome.alias,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )


def model_out(entry: ModelEntry) -> ModelOut:
    return ModelOut(
        id=entry.alias,
        created=int(time.time()) // 86400 * 86400,
        description=entry.description,
        capabilities=list(entry.capabilities),
        context_window=entry.context_window,
        max_output_tokens=entry.max_output_tokens,
        dimensions=entry.dimensions,
        pricing=Pricing(input_per_1m=entry.input_price_per_1m, output_per_1m=entry.output_price_per_1m),
        cache_enabled=entry.cache.enabled,
    )


def model_list(entries: list[ModelEntry]) -> ModelList:
    return ModelList(data=[model_out(e) for e in entries])
