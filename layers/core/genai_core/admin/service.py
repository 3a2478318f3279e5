"""Onboarding and looking after apps: each is a Cognito app client of the apps pool (its client id is the app id and
the tenant key of everything it owns), a secret in Secrets Manager, a registry record, and the gateway's
`SETTINGS` item (limits, allowed models, status) that every API function reads.

Every change is written with its audit entry in one transaction; the Cognito and Secrets Manager steps around it
are undone when a later step fails, so nothing is left half-made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic import Field

from genai_core import aws
from genai_core.admin.audit import AuditEntry, AuditLog, DynamoAuditLog, new_entry
from genai_core.admin.clients import AppClients, CognitoAppClients, SecretsManagerStore, SecretStore
from genai_core.admin.models import AppRecord, AppStatus, CreateAppRequest, UpdateAppRequest, merged_limits
from genai_core.admin.repository import AppRepository, DynamoAppRepository, record_data
from genai_core.config import Settings, load_area_settings
from genai_core.errors import Conflict, NotFound
from genai_core.gateway.store import Limits
from genai_core.observability import logger
from genai_core.pagination import decode_token, encode_token

LISTED_BY_DEFAULT = frozenset({"active", "disabled"})


class AdminSettings(Settings):
    admin_table: str = Field(alias="ADMIN_TABLE", min_length=1)
    gateway_table: str = Field(alias="GATEWAY_TABLE", min_length=1)
    app_user_pool_id: str = Field(alias="APP_USER_POOL_ID", min_length=1)
    secrets_kms_key_id: str | None = Field(default=None, alias="SECRETS_KMS_KEY_ID")
    # The gateway's limits for an app that sets none (the same parameters feed both functions).
    requests_per_minute: int = Field(default=600, alias="DEFAULT_REQUESTS_PER_MINUTE", ge=0)
    tokens_per_minute: int = Field(default=400_000, alias="DEFAULT_TOKENS_PER_MINUTE", ge=0)
    tokens_per_day: int = Field(default=10_000_000, alias="DEFAULT_TOKENS_PER_DAY", ge=0)
    monthly_budget_usd: float = Field(default=100.0, alias="DEFAULT_MONTHLY_BUDGET_USD", ge=0)

    @property
    def default_limits(self) -> Limits:
        return Limits(self.requests_per_minute, self.tokens_per_minute, self.tokens_per_day, self.monthly_budget_usd)


@dataclass(frozen=True)
class Onboarded:
    app: AppRecord
    client_secret: str  # shown once: never stored anywhere but Secrets Manager


@dataclass(frozen=True)
class AppListing:
    apps: list[AppRecord]
    next_token: str | None


def _now() -> datetime:
    return datetime.now(UTC)


class AdminService:
    def __init__(
        self,
        apps: AppRepository,
        clients: AppClients,
        secrets: SecretStore,
        audit: AuditLog,
        default_limits: Limits,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.apps = apps
        self.clients = clients
        self.secrets = secrets
        self.audit = audit
        self.default_limits = default_limits
        self.clock = clock

    # -- reads ---------------------------------------------------------------------------------------------------
    def get(self, app_id: str) -> AppRecord:
        record = self.apps.get(app_id)
        if record is None:
            raise NotFound(f"no app {app_id}", code="app_not_found", param="app_id")
        return record

    def list_apps(self, status: AppStatus | None, limit: int, next_token: str | None) -> AppListing:
        """Every app (admins see all tenants), newest first; deleted ones only when asked for by status."""
        statuses = frozenset({status}) if status else LISTED_BY_DEFAULT
        page = self.apps.list(statuses, limit, decode_token(next_token))
        return AppListing(page.items, encode_token(page.next_key))

    def audit_entries(
        self, app_id: str | None, limit: int, next_token: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        return self.audit.list(app_id, limit, next_token)

    # -- changes -------------------------------------------------------------------------------------------------
    def create(self, actor: str, request: CreateAppRequest) -> Onboarded:
        """A Cognito client with `scopes`, its secret in Secrets Manager, the record and settings: all or nothing."""
        client_id, secret = self.clients.create(request.name, request.scopes)
        try:
            self.secrets.put(client_id, secret, create=True)
        except Exception:
            self._undo(lambda: self.clients.delete(client_id), client_id)
            raise
        now = self.clock()
        limits = merged_limits({}, request.limits)
        record = AppRecord(
            id=client_id,
            name=request.name,
            description=request.description,
            status="active",
            scopes=tuple(request.scopes),
            limits=limits,
            allowed_models=None if request.allowed_models is None else tuple(request.allowed_models),
            created_at=now,
            updated_at=now,
            secret_rotated_at=now,
        )
        try:
            self.apps.save(record, None, new_entry(actor, "app.create", client_id, None, self.audit_view(record)))
        except Exception:
            self._undo(lambda: self.secrets.delete(client_id), client_id)
            self._undo(lambda: self.clients.delete(client_id), client_id)
            raise
        logger.info("app onboarded", extra={"app_id": client_id, "actor": actor})
        return Onboarded(record, secret)

    def update(self, actor: str, app_id: str, request: UpdateAppRequest) -> AppRecord:
        current = self._live(app_id)
        sent = request.model_fields_set
        changed = replace(
            current,
            description=request.description if "description" in sent else current.description,
            scopes=tuple(request.scopes) if request.scopes is not None else current.scopes,
            limits=merged_limits(current.limits, request.limits),
            allowed_models=(
                (None if request.allowed_models is None else tuple(request.allowed_models))
                if "allowed_models" in sent
                else current.allowed_models
            ),
            updated_at=self.clock(),
            version=current.version + 1,
        )
        scopes_changed = changed.scopes != current.scopes
        if scopes_changed:
            self.clients.update_scopes(app_id, list(changed.scopes))
        try:
            self._save(actor, "app.update", changed, current)
        except Exception:
            if scopes_changed:
                self._undo(lambda: self.clients.update_scopes(app_id, list(current.scopes)), app_id)
            raise
        return changed

    def set_status(self, actor: str, app_id: str, status: AppStatus) -> AppRecord:
        """Disable or enable: every API refuses a disabled app within a minute (`genai_core.admin.status`)."""
        current = self._live(app_id)
        if current.status == status:
            return current
        changed = replace(current, status=status, updated_at=self.clock(), version=current.version + 1)
        self._save(actor, "app.disable" if status == "disabled" else "app.enable", changed, current)
        return changed

    def rotate_secret(self, actor: str, app_id: str) -> Onboarded:
        """A new secret for the same client id (the app id); the old one stops getting tokens at once."""
        current = self._live(app_id)
        secret = self.clients.rotate_secret(app_id)
        # The new secret works from here: keep Secrets Manager in step before anything else can fail.
        self.secrets.put(app_id, secret, create=False)
        now = self.clock()
        changed = replace(current, secret_rotated_at=now, updated_at=now, version=current.version + 1)
        self._save(actor, "app.rotate_secret", changed, current)
        return Onboarded(changed, secret)

    def delete(self, actor: str, app_id: str) -> None:
        """Refuse the app from now on, then remove its Cognito client and secret; the record stays (as deleted), so
        its usage history keeps a name. Deleting again finishes a clean-up that failed half-way."""
        current = self.get(app_id)
        if current.status != "deleted":
            changed = replace(current, status="deleted", updated_at=self.clock(), version=current.version + 1)
            self._save(actor, "app.delete", changed, current)
        self.clients.delete(app_id)
        self.secrets.delete(app_id)

    # -- helpers -------------------------------------------------------------------------------------------------
    def audit_view(self, record: AppRecord) -> dict[str, Any]:
        """What the trail keeps of an app: its record (there is no secret in it)."""
        data = record_data(record)
        data.pop("updated_at", None)
        return data

    def _live(self, app_id: str) -> AppRecord:
        record = self.get(app_id)
        if record.status == "deleted":
            raise Conflict(f"the app {app_id} is deleted; onboard a new one", code="app_deleted", param="app_id")
        return record

    def _save(self, actor: str, action: str, changed: AppRecord, current: AppRecord) -> None:
        entry = new_entry(actor, action, changed.id, self.audit_view(current), self.audit_view(changed))
        self.apps.save(changed, current, entry)
        logger.info("app changed", extra={"app_id": changed.id, "action": action, "actor": actor})

    @staticmethod
    def _undo(step: Callable[[], None], app_id: str) -> None:
        try:
            step()
        except Exception:  # the original failure is what the caller hears about
            logger.exception("could not undo a step of a failed app change", extra={"app_id": app_id})


@lru_cache(maxsize=1)
def get_admin_service() -> AdminService:
    settings = load_area_settings(AdminSettings)
    dynamodb = aws.client("dynamodb")
    return AdminService(
        DynamoAppRepository(dynamodb, settings.admin_table, settings.gateway_table),
        CognitoAppClients(aws.client("cognito-idp"), settings.app_user_pool_id),
        SecretsManagerStore(aws.client("secretsmanager"), settings.stage, settings.secrets_kms_key_id),
        DynamoAuditLog(dynamodb, settings.admin_table),
        settings.default_limits,
    )
