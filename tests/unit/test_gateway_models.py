"""The chat request's own rules: what no target could honour is refused while parsing, naming the field."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from genai_core.gateway.models import ChatCompletionRequest

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def parse(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def image(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": url}}],
        }
    ]


@pytest.mark.parametrize("url", [PNG, "https://example.com/cat.jpg"])
def test_images_are_https_urls_or_image_data_urls(url: str) -> None:
    assert parse(messages=image(url)).messages


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "https URL or a data URL"),
        ("data:text/plain;base64,aGk=", "https URL or a data URL"),
        ("data:image/png;base64,!!!", "not valid base64"),
        ("data:image/bmp;base64,aGk=", "png, jpeg, jpg, gif, webp"),
    ],
)
def test_other_images_are_refused_saying_what_is_accepted(url: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as raised:
        parse(messages=image(url))
    assert raised.value.errors()[0]["loc"][:2] == ("messages", 0)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"stop": ""}, "must not be empty"),
        ({"stop": ["END", ""]}, "must not be empty"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f"}},
                    {"type": "function", "function": {"name": "f"}},
                ]
            },
            "repeated: f",
        ),
        ({"prompt": {"name": "p", "label": "production", "version": 2}}, "label or version, not both"),
        ({"stream_options": {"include_usage": True}}, "only allowed with stream"),
        ({"max_tokens": 10, "max_completion_tokens": 10}, "not both"),
        ({"tool_choice": "required"}, "tool_choice needs tools"),
        ({"logit_bias": {"1": 5}, "frobnicate": True}, "frobnicate"),
    ],
)
def test_incoherent_requests_are_refused_naming_the_problem(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        parse(**fields)


def test_temperature_zero_stays_zero() -> None:
    assert parse(temperature=0).temperature == 0
