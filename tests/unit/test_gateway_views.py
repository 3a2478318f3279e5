"""The SSE body the gateway returns: valid chunks, text in pieces (the body is delivered whole), usage, [DONE]."""

from __future__ import annotations

import json

from genai_core.gateway.service import CallContext, ChatOutcome
from genai_core.gateway.types import MAX_PIECE_CHARS, ChatResult, StreamEvent, Usage
from genai_core.gateway.views import event_stream


def test_a_token_per_chunk_stream_is_sent_in_pieces_with_the_same_text_and_tool_calls() -> None:
    # GIVEN an upstream that streamed 5,000 one-word deltas, then a tool call and the finish
    words = [f"w{i} " for i in range(5000)]
    events = [StreamEvent(delta={"role": "assistant", "content": ""})]
    events += [StreamEvent(delta={"content": w}) for w in words]
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    events += [StreamEvent(delta={"tool_calls": [call]}), StreamEvent(finish_reason="tool_calls")]
    result = ChatResult("".join(words), [], "tool_calls", Usage(10, 5000))
    outcome = ChatOutcome("m", result, events, CallContext("app", "req-1"))
    # WHEN it is rendered as the SSE body
    body = event_stream(outcome, events, include_usage=True)
    # THEN it is far fewer chunks, with the same text, the tool call, the finish reason, usage and [DONE]
    frames = [f.removeprefix("data: ") for f in body.split("\n\n") if f]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content", "") for d in deltas) == "".join(words)
    assert all(len(d.get("content", "")) <= MAX_PIECE_CHARS for d in deltas)
    assert len(chunks) < 100
    assert [d["tool_calls"] for d in deltas if "tool_calls" in d] == [[call]]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5000
    assert all(c["id"] == "chatcmpl-req-1" and c["object"] == "chat.completion.chunk" for c in chunks)
