"""The JSON shapes of the admin API's apps and audit routes (their OpenAPI response schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from genai_core.admin.audit import AuditEntry
from genai_core.admin.models import AppRecord
from genai_core.gateway.store import LIMIT_NAMES, Limits


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class EffectiveLimits(BaseModel):
    """The limits the gateway enforces for the app (0 = unlimited)."""

    requests_per_minute: int
    tokens_per_minute: int
    tokens_per_day: int
    monthly_budget_usd: float
    defaults: list[str] = Field(description="The limits that follow the platform default (not set for this app)")


class AppView(BaseModel):
    id: str = Field(description="The app id: its OAuth2 client id")
    name: str
    description: str | None
    status: Literal["active", "disabled", "deleted"]
    scopes: list[str]
    limits: EffectiveLimits
    allowed_models: list[str] | None = Field(description="The model aliases it may call; null: every alias")
    created_at: str | None
    updated_at: str | None
    secret_rotated_at: str | None


class AppWithSecret(BaseModel):
    app: AppView
    client_secret: str = Field(description="Shown this once; kept only in Secrets Manager afterwards")


class AppListingView(BaseModel):
    data: list[AppView]
    next_token: str | None


class AuditEntryView(BaseModel):
    id: str
    at: str
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditListingView(BaseModel):
    data: list[AuditEntryView]
    next_token: str | None


def app_view(record: AppRecord, defaults: Limits) -> AppView:
    effective = record.settings.with_default_limits(defaults).limits
    return AppView(
        id=record.id,
        name=record.name,
        description=record.description,
        status=record.status,
        scopes=list(record.scopes),
        limits=EffectiveLimits(
            requests_per_minute=effective.requests_per_minute,
            tokens_per_minute=effective.tokens_per_minute,
            tokens_per_day=effective.tokens_per_day,
            monthly_budget_usd=effective.monthly_budget_usd,
            defaults=[n for n in LIMIT_NAMES if n not in record.limits],
        ),
        allowed_models=None if record.allowed_models is None else list(record.allowed_models),
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        secret_rotated_at=_iso(record.secret_rotated_at),
    )


def audit_view(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView(
        id=entry.id,
        at=_iso(entry.at) or "",
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        before=entry.before,
        after=entry.after,
    )
