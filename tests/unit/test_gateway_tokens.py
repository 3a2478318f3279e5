"""Token counting for the context-window check: a real tokenizer where it matters, no tokenizing where bytes suffice."""

from __future__ import annotations

from genai_core.gateway import tokens
from genai_core.gateway.models import ChatCompletionRequest


def request(text: str) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": text}]})


def test_counts_come_from_the_bundled_cl100k_tokenizer() -> None:
    assert tokens.count("hello world") == 2
    assert tokens.count("Tokenization of naïve café prose") < len("Tokenization of naïve café prose") // 2


def test_a_prompt_whose_bytes_fit_is_not_tokenized_and_a_long_one_is() -> None:
    text = "lorem ipsum " * 1000  # 12,000 bytes, about 2,000 tokens
    exact = tokens.prompt_tokens(request(text))
    assert 1_900 <= exact <= 2_100
    # within a generous limit the byte count proves it fits: that upper bound is returned without tokenizing
    assert tokens.prompt_tokens(request(text), at_most=20_000) > exact
    # near a tight limit the real count decides
    assert tokens.prompt_tokens(request(text), at_most=5_000) == exact
