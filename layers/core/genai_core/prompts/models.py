"""Prompt management's request and record shapes, with their limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genai_core.prompts.names import (  # noqa: F401  (re-exported: the prompt module's public names)
    LABEL_PATTERN,
    LABEL_RULE,
    LATEST,
    LATEST_RESERVED,
    MAX_LABELS,
    MAX_MESSAGES,
    MAX_PARAMETERS,
    MAX_TAGS,
    MAX_TEMPLATE_CHARS,
    MAX_TOTAL_MESSAGE_CHARS,
    MAX_VERSION,
    NAME_PATTERN,
    NAME_RULE,
    PRODUCTION,
    Label,
    PromptName,
    checked_label,
    checked_name,
    is_valid_label,
    is_valid_name,
)

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

    version: int = Field(ge=1, le=MAX_VERSION, strict=True)  # strict: JSON true is not version 1


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict, max_length=200)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION, strict=True)
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
