"""One validated settings object, read from the environment once per cold start."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or invalid: fail at cold start, not mid-request."""


S = TypeVar("S", bound="Settings")


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    stage: str = Field(alias="STAGE", min_length=1)
    region: str = Field(alias="AWS_REGION", min_length=1)
    service: str = Field(default="genai", alias="POWERTOOLS_SERVICE_NAME")
    # Redirects every boto3 client (the offline runtime points it at moto).
    endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    # JSON request bodies above this size are refused with 413 before any work starts.
    max_body_bytes: int = Field(default=1_048_576, alias="MAX_BODY_BYTES", gt=0)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Parse the platform settings from `environ` (default: the process environment)."""
    return load_area_settings(Settings, environ)


def load_area_settings(model: type[S], environ: dict[str, str] | None = None) -> S:
    """Parse `model` (Settings plus what one area needs), naming every missing or invalid value."""
    env = dict(os.environ if environ is None else environ)
    try:
        return model.model_validate(env)
    except ValidationError as exc:
        problems = ", ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid function configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
