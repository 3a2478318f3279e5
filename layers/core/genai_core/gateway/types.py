"""What a provider returns, independent of the backend: the gateway turns these into OpenAI's response shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache (billed at its own rate)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON text, as OpenAI sends it


@dataclass(frozen=True)
class ChatResult:
    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: FinishReason
    usage: Usage
    refusal: str | None = None


@dataclass(frozen=True)
class StreamEvent:
    """One `chat.completion.chunk`'s choice: `delta` in OpenAI's shape ({"role"?, "content"?, "tool_calls"?})."""

    delta: dict[str, Any] = field(default_factory=dict)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None  # on the last event only, when the provider reports it


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    prompt_tokens: int


# The largest text delta the gateway sends: behind a buffered API Gateway the stream arrives whole, so one chunk per
# upstream token buys nothing and costs ~200 bytes of envelope each (64k tokens would pass Lambda's 6 MB response
# limit). The SSE view merges smaller deltas up to this size; whole answers are cut at it.
MAX_PIECE_CHARS = 512


def stream_of(result: ChatResult, *, piece_chars: int = MAX_PIECE_CHARS) -> list[StreamEvent]:
    """A complete answer as the chunks a streaming provider would have sent (role, content pieces, tool calls,
    finish reason, usage). Used where the backend's answer is delivered whole anyway."""
    events = [StreamEvent(delta={"role": "assistant", "content": ""})]
    text = result.content or ""
    for start in range(0, len(text), piece_chars):
        events.append(StreamEvent(delta={"content": text[start : start + piece_chars]}))
    for index, call in enumerate(result.tool_calls):
        events.append(
            StreamEvent(
                delta={
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                    ]
                }
            )
        )
    events.append(StreamEvent(finish_reason=result.finish_reason, usage=result.usage))
    return events
