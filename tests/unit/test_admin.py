"""The admin area without AWS: request models, the apps service with in-memory adapters, the status check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from genai_core.admin.audit import REDACTED, AuditEntry, redact
from genai_core.admin.models import AppRecord, CreateAppRequest, LimitsInput, UpdateAppRequest, merged_limits
from genai_core.admin.repository import AppPage
from genai_core.admin.service import AdminService
from genai_core.admin.status import AppStatusCheck
from genai_core.admin.views import app_view
from genai_core.errors import Conflict, NotFound, PermissionDenied
from genai_core.gateway.store import AppSettings, Limits, settings_from_item, settings_item

DEFAULTS = Limits(600, 400_000, 10_000_000, 100.0)


class FakeClients:
    def __init__(self) -> None:
        self.clients: dict[str, dict[str, Any]] = {}
        self.fail_update = False

    def create(self, name: str, scopes: list[str]) -> tuple[str, str]:
        client_id = f"client{len(self.clients) + 1}"
        self.clients[client_id] = {"name": name, "scopes": list(scopes), "secret": f"secret-{client_id}-1"}
        return client_id, self.clients[client_id]["secret"]

    def update_scopes(self, client_id: str, scopes: list[str]) -> None:
        self.clients[client_id]["scopes"] = list(scopes)

    def rotate_secret(self, client_id: str) -> str:
        client = self.clients[client_id]
        client["secret"] = client["secret"][:-1] + str(int(client["secret"][-1]) + 1)
        return str(client["secret"])

    def delete(self, client_id: str) -> None:
        self.clients.pop(client_id, None)


class FakeSecrets:
    def __init__(self, fail: bool = False) -> None:
        self.values: dict[str, str] = {}
        self.fail = fail

    def put(self, client_id: str, secret: str, *, create: bool) -> None:
        if self.fail:
            raise RuntimeError("secrets manager is down")
        assert create == (client_id not in self.values)
        self.values[client_id] = secret

    def delete(self, client_id: str) -> None:
        self.values.pop(client_id, None)


class FakeApps:
    def __init__(self) -> None:
        self.records: dict[str, AppRecord] = {}
        self.audit: list[AuditEntry] = []
        self.fail = False

    def get(self, app_id: str) -> AppRecord | None:
        return self.records.get(app_id)

    def save(self, record: AppRecord, previous: AppRecord | None, audit: AuditEntry) -> None:
        if self.fail:
            raise RuntimeError("dynamodb is down")
        stored = self.records.get(record.id)
        if stored != previous:
            raise Conflict("changed meanwhile", code="app_changed")
        self.records[record.id] = record
        self.audit.append(audit)

    def list(self, statuses: frozenset[str], limit: int, start: dict[str, Any] | None) -> AppPage:
        ordered = [r for r in sorted(self.records.values(), key=lambda r: r.id) if r.status in statuses]
        offset = int((start or {}).get("offset", 0))
        page = ordered[offset : offset + limit]
        more = offset + limit < len(ordered)
        return AppPage(page, {"offset": offset + limit} if more else None)


class FakeAudit:
    def __init__(self, apps: FakeApps) -> None:
        self.apps = apps

    def record(self, actor: str, action: str, target: str, before: Any, after: Any) -> AuditEntry:
        raise NotImplementedError

    def list(self, target: str | None = None, limit: int = 20, next_token: str | None = None) -> Any:
        entries = [e for e in reversed(self.apps.audit) if target in (None, e.target)]
        return entries[:limit], None


@pytest.fixture
def world() -> tuple[AdminService, FakeApps, FakeClients, FakeSecrets]:
    apps, clients, secrets = FakeApps(), FakeClients(), FakeSecrets()
    clock = iter(datetime(2026, 1, 1, 12, 0, i, tzinfo=UTC) for i in range(60))
    service = AdminService(apps, clients, secrets, FakeAudit(apps), DEFAULTS, clock=lambda: next(clock))
    return service, apps, clients, secrets


def _create(service: AdminService, **changes: Any) -> Any:
    body = {"name": "support bot", "scopes": ["genai/invoke"], **changes}
    return service.create("ada@example.com", CreateAppRequest.model_validate(body))


# -- models -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "scopes": ["genai/invoke"]},
        {"name": "x" * 129, "scopes": ["genai/invoke"]},
        {"name": "a/b", "scopes": ["genai/invoke"]},
        {"name": "ok", "scopes": []},
        {"name": "ok", "scopes": ["genai/admin"]},
        {"name": "ok", "scopes": ["genai/invoke"], "limits": {"requests_per_minute": -1}},
        {"name": "ok", "scopes": ["genai/invoke"], "limits": {"hourly": 3}},
        {"name": "ok", "scopes": ["genai/invoke"], "secret": "mine"},
    ],
)
def test_create_requests_outside_the_rules_are_refused(body: dict[str, Any]) -> None:
    # GIVEN a body breaking one rule WHEN it is validated THEN it is refused
    with pytest.raises(ValidationError):
        CreateAppRequest.model_validate(body)


def test_limits_merge_sets_resets_and_keeps() -> None:
    # GIVEN limits an app has, and a change that sets one, resets one to the default and leaves one alone
    change = LimitsInput.model_validate({"tokens_per_day": 5, "requests_per_minute": None})
    # WHEN merged THEN the set one changes, the reset one is gone (default again), the other is kept
    assert merged_limits({"requests_per_minute": 1, "monthly_budget_usd": 2.0}, change) == {
        "tokens_per_day": 5,
        "monthly_budget_usd": 2.0,
    }


def test_settings_item_keeps_only_set_limits_and_the_gateway_fills_in_defaults() -> None:
    # GIVEN an app that set only its requests per minute (0: unlimited) and two models
    settings = AppSettings(Limits(requests_per_minute=0), ("a", "b"), frozenset({"requests_per_minute"}), "disabled")
    # WHEN the SETTINGS item is written and read back, and the platform defaults applied
    read = settings_from_item(settings_item("app1", settings))
    effective = read.with_default_limits(DEFAULTS)
    # THEN what was set holds, the rest is the default, and status and models survive
    assert effective.limits == Limits(0, 400_000, 10_000_000, 100.0)
    assert (read.status, read.allowed_models) == ("disabled", ("a", "b"))


def test_an_old_settings_item_with_every_limit_is_read_as_set() -> None:
    # GIVEN a SETTINGS item written before the admin API (every limit, no status)
    old = settings_item("app1", AppSettings(Limits(5, 6, 7, 8.0)))
    del old["status"]
    # THEN every limit counts as set and the app is active
    read = settings_from_item(old).with_default_limits(DEFAULTS)
    assert (read.limits, read.status) == (Limits(5, 6, 7, 8.0), "active")


def test_redaction_reaches_nested_secrets() -> None:
    assert redact({"a": {"client_secret": "s", "ok": [{"password": "p"}]}}) == {
        "a": {"client_secret": REDACTED, "ok": [{"password": REDACTED}]}
    }


# -- service ----------------------------------------------------------------------------------------------------------
def test_onboarding_makes_a_client_a_secret_and_a_record_and_audits_it(world: Any) -> None:
    service, apps, clients, secrets = world
    # WHEN an app is onboarded with one limit and one model
    onboarded = _create(service, limits={"requests_per_minute": 1}, allowed_models=["offline-echo"])
    # THEN its client has the scopes, its secret is kept, and the record says what the gateway will enforce
    app_id = onboarded.app.id
    assert clients.clients[app_id]["scopes"] == ["genai/invoke"]
    assert secrets.values[app_id] == onboarded.client_secret
    view = app_view(apps.records[app_id], DEFAULTS)
    assert view.limits.requests_per_minute == 1 and view.limits.tokens_per_day == 10_000_000
    assert view.limits.defaults == ["tokens_per_minute", "tokens_per_day", "monthly_budget_usd"]
    assert view.allowed_models == ["offline-echo"] and view.status == "active"
    # AND the audit names the admin and never the secret
    (entry,) = apps.audit
    assert (entry.actor, entry.action, entry.target, entry.before) == ("ada@example.com", "app.create", app_id, None)
    assert onboarded.client_secret not in repr(entry)


def test_a_failed_secret_store_leaves_no_client(world: Any) -> None:
    service, apps, clients, _ = world
    service.secrets = FakeSecrets(fail=True)
    with pytest.raises(RuntimeError):
        _create(service)
    assert clients.clients == {} and apps.records == {}


def test_a_failed_record_write_leaves_no_client_and_no_secret(world: Any) -> None:
    service, apps, clients, secrets = world
    apps.fail = True
    with pytest.raises(RuntimeError):
        _create(service)
    assert clients.clients == {} and secrets.values == {}


def test_update_changes_only_what_was_sent_and_scopes_reach_the_client(world: Any) -> None:
    service, apps, clients, _ = world
    app_id = _create(service, description="first", allowed_models=["m1"]).app.id
    # WHEN scopes and limits are sent (not the description, not the models)
    body = {"scopes": ["genai/invoke", "genai/prompts.read"], "limits": {"tokens_per_day": 9}}
    changed = service.update("ada", app_id, UpdateAppRequest.model_validate(body))
    # THEN the client's scopes follow, the rest is kept
    assert clients.clients[app_id]["scopes"] == ["genai/invoke", "genai/prompts.read"]
    assert (changed.description, changed.allowed_models, changed.limits) == ("first", ("m1",), {"tokens_per_day": 9})
    # AND allowed_models: null allows every alias again
    again = service.update("ada", app_id, UpdateAppRequest.model_validate({"allowed_models": None}))
    assert again.allowed_models is None
    assert [e.action for e in apps.audit] == ["app.create", "app.update", "app.update"]


def test_a_failed_update_puts_the_client_scopes_back(world: Any) -> None:
    service, apps, clients, _ = world
    app_id = _create(service).app.id
    apps.fail = True
    with pytest.raises(RuntimeError):
        service.update("ada", app_id, UpdateAppRequest.model_validate({"scopes": ["genai/prompts.read"]}))
    assert clients.clients[app_id]["scopes"] == ["genai/invoke"]


def test_disable_enable_rotate_delete(world: Any) -> None:
    service, apps, clients, secrets = world
    created = _create(service)
    app_id = created.app.id
    assert service.set_status("ada", app_id, "disabled").status == "disabled"
    assert service.set_status("ada", app_id, "active").status == "active"
    rotated = service.rotate_secret("ada", app_id)
    assert rotated.client_secret != created.client_secret and secrets.values[app_id] == rotated.client_secret
    assert rotated.app.id == app_id
    service.delete("ada", app_id)
    assert apps.records[app_id].status == "deleted" and app_id not in clients.clients and app_id not in secrets.values
    # a deleted app cannot be changed, and deleting again is harmless
    with pytest.raises(Conflict):
        service.set_status("ada", app_id, "active")
    service.delete("ada", app_id)
    actions = [e.action for e in apps.audit]
    assert actions == ["app.create", "app.disable", "app.enable", "app.rotate_secret", "app.delete"]


def test_listing_hides_deleted_apps_unless_asked_and_pages(world: Any) -> None:
    service, _, _, _ = world
    ids = [_create(service, name=f"app {i}").app.id for i in range(3)]
    service.delete("ada", ids[0])
    first = service.list_apps(None, 1, None)
    second = service.list_apps(None, 1, first.next_token)
    assert [a.id for a in first.apps + second.apps] == ids[1:] and second.next_token is None
    assert [a.id for a in service.list_apps("deleted", 10, None).apps] == [ids[0]]


def test_an_unknown_app_is_not_found(world: Any) -> None:
    service, _, _, _ = world
    with pytest.raises(NotFound):
        service.get("nope")


# -- status check -----------------------------------------------------------------------------------------------------
def test_status_check_refuses_disabled_and_deleted_and_rereads_after_max_age() -> None:
    # GIVEN a store where the app is active, and a check keeping statuses 30 s
    stored = {"app1": "active"}
    now = [0.0]
    reads: list[str] = []

    def read(app_id: str) -> str:
        reads.append(app_id)
        return stored.get(app_id, "active")

    check = AppStatusCheck(read, 30, clock=lambda: now[0])
    check.require_active("app1")
    # WHEN it is disabled THEN it is still let through until the kept status is 30 s old, then refused
    stored["app1"] = "disabled"
    now[0] = 29.9
    check.require_active("app1")
    now[0] = 30.0
    with pytest.raises(PermissionDenied) as refused:
        check.require_active("app1")
    assert refused.value.code == "app_disabled" and "disabled" in refused.value.message
    stored["app1"] = "deleted"
    now[0] = 60.0
    with pytest.raises(PermissionDenied) as gone:
        check.require_active("app1")
    assert gone.value.code == "app_deleted"
    assert reads == ["app1", "app1", "app1"]
