"""Prompt management's request and record shapes, with their limits."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

# Matched with fullmatch: `$` alone also matches before a trailing newline, and "name\n" was accepted, then
# unreachable by its path.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
LABEL_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
LATEST = "latest"
PRODUCTION = "production"
MAX_TEMPLATE_CHARS = 100_000
MAX_MESSAGES = 100
MAX_TOTAL_MESSAGE_CHARS = 200_000
MAX_LABELS = 20
MAX_TAGS = 20
MAX_PARAMETERS = 50
# Version numbers are counted one save at a time; the bound keeps them (and DynamoDB's numbers) sane.
MAX_VERSION = 2**31 - 1

NAME_RULE = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
LABEL_RULE = "1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"

_name_re = re.compile(NAME_PATTERN)
_label_re = re.compile(LABEL_PATTERN)


def is_valid_name(name: str) -> bool:
    return bool(_name_re.fullmatch(name))


def is_valid_label(label: str) -> bool:
    return bool(_label_re.fullmatch(label))


LATEST_RESERVED = "'latest' is automatic: it always points at the newest version and cannot be set or removed"


def checked_name(name: str) -> str:
    """`name` if it is a valid prompt name, else ValueError saying what is allowed."""
    if not is_valid_name(name):
        raise ValueError(f"invalid prompt name {name[:140]!r}: use {NAME_RULE}")
    return name


def checked_label(label: str) -> str:
    """`label` if it is a valid label, else ValueError saying what is allowed."""
    if not is_valid_label(label):
        raise ValueError(f"invalid label {label[:80]!r}: use {LABEL_RULE}")
    return label


PromptName = Annotated[str, AfterValidator(checked_name)]
Label = Annotated[str, AfterValidator(checked_label)]
Role = Literal["system", "developer", "user", "assistant"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str = Field(max_length=MAX_TEMPLATE_CHARS)
    name: str | None = Field(default=None, max_length=64)


class ModelParameters(BaseModel):
    """Known invocation parameters are range-checked; others pass through (JSON scalars) to the provider."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    stop: list[str] | None = Field(default=None, max_length=4)

    @model_validator(mode="after")
    def _bounded_extras(self) -> ModelParameters:
        extras = self.model_extra or {}
        if len(self.model_fields_set) > MAX_PARAMETERS:
            raise ValueError(f"at most {MAX_PARAMETERS} parameters")
        for key, value in extras.items():
            if not isinstance(value, str | int | float | bool) or len(key) > 64:
                raise ValueError(f"parameter {key!r} must be a string, number or boolean")
        return self


class CreatePromptRequest(BaseModel):
    """Body of `POST /v1/prompts`: a new prompt, or the next version of an existing one."""

    model_config = ConfigDict(extra="forbid")

    name: PromptName
    template: str | None = Field(default=None, min_length=1, max_length=MAX_TEMPLATE_CHARS)
    messages: list[ChatMessage] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGES)
    description: str | None = Field(default=None, max_length=1000)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    parameters: ModelParameters | None = None
    labels: list[Label] = Field(default_factory=list, max_length=MAX_LABELS)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=MAX_TAGS)

    @model_validator(mode="after")
    def _one_kind(self) -> CreatePromptRequest:
        if (self.template is None) == (self.messages is None):
            raise ValueError("give exactly one of 'template' (a text prompt) or 'messages' (a chat prompt)")
        if self.messages is not None:
            total = sum(len(m.content) for m in self.messages)
            if total > MAX_TOTAL_MESSAGE_CHARS:
                raise ValueError(f"messages hold {total} characters; the limit is {MAX_TOTAL_MESSAGE_CHARS}")
        return self

    @field_validator("labels")
    @classmethod
    def _no_latest(cls, labels: list[str]) -> list[str]:
        if LATEST in labels:
            raise ValueError(LATEST_RESERVED)
        return list(dict.fromkeys(labels))


class SetLabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_VERSION)


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict, max_length=200)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    label: Label | None = None


class PromptVersion(BaseModel):
    """One immutable version, as stored and as returned."""

    name: str
    version: int
    type: Literal["text", "chat"]
    template: str | None = None
    messages: list[ChatMessage] | None = None
    variables: list[str]
    description: str | None = None
    model: str | None = None
    parameters: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
