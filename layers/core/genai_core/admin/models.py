"""The admin API's request shapes and the app record it keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from genai_core.gateway.store import LIMIT_NAMES, AppSettings, Limits
from genai_core.scopes import APP_SCOPES

AppStatus = Literal["active", "disabled", "deleted"]
# Cognito's pattern for a client name: the app's name becomes its client's name.
NAME_PATTERN = r"^[\w\s+=,.@-]+$"
AppName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NAME_PATTERN)]
Alias = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_ALLOWED_MODELS = 100


class LimitsInput(BaseModel):
    """Each limit is optional: 0 = unlimited, left out = the platform default (null, in an update: back to it)."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=0, le=10_000_000)
    tokens_per_minute: int | None = Field(default=None, ge=0, le=10_000_000_000)
    tokens_per_day: int | None = Field(default=None, ge=0, le=10_000_000_000_000)
    monthly_budget_usd: float | None = Field(default=None, ge=0, le=10_000_000)


def _checked_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(APP_SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; choose from {sorted(APP_SCOPES)}")
    return sorted(set(scopes))


def _checked_models(models: list[str] | None) -> list[str] | None:
    return None if models is None else sorted(set(models))


class CreateAppRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AppName
    description: str | None = Field(default=None, max_length=1024)
    scopes: list[str] = Field(min_length=1, max_length=len(APP_SCOPES) * 2)
    limits: LimitsInput | None = None
    allowed_models: list[Alias] | None = Field(
        default=None, max_length=MAX_ALLOWED_MODELS, description="Model aliases this app may call; null: every alias"
    )

    _scopes = field_validator("scopes")(_checked_scopes)
    _models = field_validator("allowed_models")(_checked_models)


class UpdateAppRequest(BaseModel):
    """Only the fields sent change; `allowed_models: null` allows every alias again."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=1024)
    scopes: list[str] | None = Field(default=None, min_length=1, max_length=len(APP_SCOPES) * 2)
    limits: LimitsInput | None = None
    allowed_models: list[Alias] | None = Field(default=None, max_length=MAX_ALLOWED_MODELS)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, scopes: list[str] | None) -> list[str] | None:
        return None if scopes is None else _checked_scopes(scopes)

    _models = field_validator("allowed_models")(_checked_models)


@dataclass(frozen=True)
class AppRecord:
    """An onboarded app. `limits` holds only the limits the admin set (the others follow the platform defaults)."""

    id: str
    name: str
    description: str | None
    status: AppStatus
    scopes: tuple[str, ...]
    limits: dict[str, float] = field(default_factory=dict)
    allowed_models: tuple[str, ...] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    secret_rotated_at: datetime | None = None
    version: int = 1  # optimistic concurrency: every change is conditioned on the version it read

    @property
    def settings(self) -> AppSettings:
        """The gateway's `SETTINGS` item for this app (limits, allowed models, status)."""
        limits = Limits(**{n: v for n, v in self.limits.items() if n in LIMIT_NAMES})  # type: ignore[arg-type]
        return AppSettings(limits, self.allowed_models, limits_set=frozenset(self.limits), status=self.status)


def merged_limits(current: dict[str, float], change: LimitsInput | None) -> dict[str, float]:
    """`current` with the fields `change` sent: a value sets a limit, null returns it to the platform default."""
    if change is None:
        return dict(current)
    merged = dict(current)
    for name in change.model_fields_set:
        value = getattr(change, name)
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged
