"""The admin function's apps routes on moto: Cognito clients, Secrets Manager, the gateway's SETTINGS item, the audit,
undoing a failed onboarding, and every API function refusing disabled and deleted apps."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from genai_core.gateway.store import DynamoGatewayStore, Limits
from offline import moto_cognito_secrets
from tests.conftest import use_mocked_aws
from tests.integration.conftest import Context, create_from_template, event, load_function

ADMIN_USER = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"  # the username claim of the admin sample events


@dataclass
class Stack:
    admin: Any
    system: Any
    refs: dict[str, str]

    def call(self, name: str, *, app_id: str | None = None, body: Any = None, query: Any = None) -> tuple[int, Any]:
        ev = event(name)
        if app_id is not None and ev.get("pathParameters"):
            ev["pathParameters"] = {"app_id": app_id}
            ev["path"] = ev["resource"].replace("{app_id}", app_id)
        if body is not None:
            ev["body"] = json.dumps(body)
        if query is not None:
            ev["queryStringParameters"] = query
            ev["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        response = self.admin.lambda_handler(ev, Context())
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    def as_app(self, app_id: str, function: Any = None, name: str = "system_whoami") -> tuple[int, Any]:
        ev = event(name)
        ev["requestContext"]["authorizer"]["claims"]["client_id"] = app_id
        response = (function or self.system).lambda_handler(ev, Context())
        return response["statusCode"], json.loads(response["body"])

    def create(self, **changes: Any) -> dict[str, Any]:
        body = {**json.loads(event("admin_create_app")["body"]), **changes}
        status, created = self.call("admin_create_app", body=body)
        assert status == 201, created
        return dict(created)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    use_mocked_aws(monkeypatch)
    moto_cognito_secrets.install()
    monkeypatch.setenv("APP_STATUS_MAX_AGE_SECONDS", "0")  # every request reads the status
    with mock_aws():
        refs = create_from_template("PlatformKey", "AdminTable", "GatewayTable", "AppUserPool", "AppResourceServer")
        key_arn = boto3.client("kms", region_name="us-east-1").describe_key(KeyId=refs["PlatformKey"])["KeyMetadata"]
        for variable, value in {
            "ADMIN_TABLE": refs["AdminTable"],
            "GATEWAY_TABLE": refs["GatewayTable"],
            "APP_USER_POOL_ID": refs["AppUserPool"],
            "SECRETS_KMS_KEY_ID": key_arn["Arn"],
        }.items():
            monkeypatch.setenv(variable, value)
        yield Stack(load_function("admin"), load_function("system"), refs)


def _idp() -> Any:
    return boto3.client("cognito-idp", region_name="us-east-1")


def _secret(app_id: str) -> dict[str, Any]:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    return dict(json.loads(sm.get_secret_value(SecretId=f"genai/test/apps/{app_id}")["SecretString"]))


def test_onboarding_creates_the_client_the_secret_and_the_settings_the_gateway_reads(stack: Stack) -> None:
    # WHEN an admin onboards an app with scopes, one limit and one model
    created = stack.create(scopes=["genai/invoke"], limits={"requests_per_minute": 1}, allowed_models=["offline-echo"])
    app = created["app"]

    # THEN the Cognito client has client credentials and exactly those scopes
    client = _idp().describe_user_pool_client(UserPoolId=stack.refs["AppUserPool"], ClientId=app["id"])[
        "UserPoolClient"
    ]
    assert client["AllowedOAuthFlows"] == ["client_credentials"] and client["AllowedOAuthScopes"] == ["genai/invoke"]
    assert client["ClientSecret"] == created["client_secret"]
    # AND the secret is in Secrets Manager under the app's name, with the platform key
    assert _secret(app["id"]) == {"client_id": app["id"], "client_secret": created["client_secret"]}
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    assert sm.describe_secret(SecretId=f"genai/test/apps/{app['id']}")["KmsKeyId"] == os.environ["SECRETS_KMS_KEY_ID"]
    # AND the gateway reads the limits it will enforce (the default for the ones not set) and the models
    store = DynamoGatewayStore(boto3.client("dynamodb", region_name="us-east-1"), stack.refs["GatewayTable"], "-")
    settings = store.app_settings(app["id"])
    assert settings is not None and settings.allowed_models == ("offline-echo",) and settings.status == "active"
    assert settings.with_default_limits(Limits(600, 400_000, 10_000_000, 100.0)).limits == Limits(
        1, 400_000, 10_000_000, 100.0
    )
    # AND reading the app back never shows the secret
    status, fetched = stack.call("admin_get_app", app_id=app["id"])
    assert status == 200 and fetched == app and created["client_secret"] not in json.dumps(fetched)
    assert app["limits"]["defaults"] == ["tokens_per_minute", "tokens_per_day", "monthly_budget_usd"]


def test_a_failed_record_write_undoes_the_client_and_the_secret(stack: Stack) -> None:
    # GIVEN the admin table is gone, so the last step of onboarding fails
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=stack.refs["AdminTable"])
    # WHEN an app is onboarded THEN it fails opaquely
    status, body = stack.call("admin_create_app")
    assert status == 500 and body["error"]["code"] == "internal_error"
    # AND no Cognito client nor secret is left behind
    clients = _idp().list_user_pool_clients(UserPoolId=stack.refs["AppUserPool"], MaxResults=10)["UserPoolClients"]
    assert clients == []
    assert boto3.client("secretsmanager", region_name="us-east-1").list_secrets()["SecretList"] == []


def test_updates_reach_cognito_and_the_gateway(stack: Stack) -> None:
    app_id = stack.create()["app"]["id"]
    body = {"scopes": ["genai/prompts.read"], "limits": {"requests_per_minute": None, "tokens_per_day": 5}}
    status, app = stack.call("admin_update_app", app_id=app_id, body=body)
    assert status == 200, app
    client = _idp().describe_user_pool_client(UserPoolId=stack.refs["AppUserPool"], ClientId=app_id)["UserPoolClient"]
    assert client["AllowedOAuthScopes"] == ["genai/prompts.read"] and client["AllowedOAuthFlows"] == [
        "client_credentials"
    ]
    assert app["limits"]["requests_per_minute"] == 600 and app["limits"]["tokens_per_day"] == 5
    assert app["limits"]["monthly_budget_usd"] == 25  # kept from onboarding
    status, bad = stack.call("admin_update_app", app_id=app_id, body={"scopes": ["genai/everything"]})
    assert status == 400 and bad["error"]["code"] == "invalid_parameter"


def test_disabled_and_deleted_apps_are_refused_by_other_functions_and_come_back_when_enabled(stack: Stack) -> None:
    app_id = stack.create()["app"]["id"]
    assert stack.as_app(app_id)[0] == 200
    # WHEN disabled THEN another function refuses the app's existing token with app_disabled
    assert stack.call("admin_disable_app", app_id=app_id)[1]["status"] == "disabled"
    status, body = stack.as_app(app_id)
    assert status == 403 and body["error"]["code"] == "app_disabled" and "disabled" in body["error"]["message"]
    # AND an app without a SETTINGS item (the demo app, say) is unaffected
    assert stack.as_app("4m8n2p6q0r4s8t2u6v0w4x8y2z")[0] == 200
    # WHEN enabled THEN it is served again
    assert stack.call("admin_enable_app", app_id=app_id)[1]["status"] == "active"
    assert stack.as_app(app_id)[0] == 200
    # WHEN deleted THEN it is refused as deleted; its client and secret are gone; its record stays
    assert stack.call("admin_delete_app", app_id=app_id)[0] == 204
    status, body = stack.as_app(app_id)
    assert status == 403 and body["error"]["code"] == "app_deleted"
    clients = _idp().list_user_pool_clients(UserPoolId=stack.refs["AppUserPool"], MaxResults=10)["UserPoolClients"]
    assert clients == []
    with pytest.raises(Exception, match="ResourceNotFound"):
        _secret(app_id)
    assert stack.call("admin_get_app", app_id=app_id)[1]["status"] == "deleted"
    status, body = stack.call("admin_enable_app", app_id=app_id)
    assert status == 409 and body["error"]["code"] == "app_deleted"


def test_rotation_keeps_the_client_id_and_replaces_the_secret_everywhere(stack: Stack) -> None:
    created = stack.create()
    app_id = created["app"]["id"]
    status, rotated = stack.call("admin_rotate_secret", app_id=app_id)
    assert status == 200 and rotated["app"]["id"] == app_id
    assert rotated["client_secret"] != created["client_secret"]
    pool = stack.refs["AppUserPool"]
    client = _idp().describe_user_pool_client(UserPoolId=pool, ClientId=app_id)["UserPoolClient"]
    assert client["ClientSecret"] == rotated["client_secret"]
    assert len(_idp().list_user_pool_client_secrets(UserPoolId=pool, ClientId=app_id)["ClientSecrets"]) == 1
    assert _secret(app_id)["client_secret"] == rotated["client_secret"]
    assert rotated["app"]["secret_rotated_at"] > created["app"]["secret_rotated_at"]


def test_listing_pages_filters_and_the_audit_names_the_admin_without_secrets(stack: Stack) -> None:
    ids = [stack.create(name=f"app {i}")["app"]["id"] for i in range(3)]
    stack.call("admin_disable_app", app_id=ids[1])
    seen, token = [], None
    while True:
        query = {"limit": "2"} | ({"next_token": token} if token else {})
        status, page = stack.call("admin_list_apps", query=query)
        assert status == 200, page
        seen += [a["id"] for a in page["data"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == ids[::-1]  # newest first; admins see every app
    status, disabled = stack.call("admin_list_apps", query={"status": "disabled"})
    assert [a["id"] for a in disabled["data"]] == [ids[1]]

    status, audit = stack.call("admin_list_audit", query={"app_id": ids[1]})
    assert status == 200
    assert [(e["action"], e["actor"], e["target"]) for e in audit["data"]] == [
        ("app.disable", ADMIN_USER, ids[1]),
        ("app.create", ADMIN_USER, ids[1]),
    ]
    assert audit["data"][0]["before"]["status"] == "active" and audit["data"][0]["after"]["status"] == "disabled"
    status, everything = stack.call("admin_list_audit", query={"limit": "100"})
    assert len(everything["data"]) == 4 and "client_secret" not in json.dumps(everything)


def test_app_tokens_get_403_on_admin_routes(stack: Stack) -> None:
    ev = event("admin_list_apps")
    ev["requestContext"]["authorizer"]["claims"] = event("system_whoami")["requestContext"]["authorizer"]["claims"]
    response = stack.admin.lambda_handler(ev, Context())
    assert response["statusCode"] == 403 and json.loads(response["body"])["error"]["code"] == "insufficient_scope"


def test_other_admin_areas_audit_through_the_module(stack: Stack) -> None:
    from genai_core.admin import audit

    # WHEN another area records two changes of one target (a secret among the values) and one of another
    audit.record("ada", "model.create", "model:m1", None, {"alias": "m1", "api_key": "sk-123"})
    audit.record("ada", "model.update", "model:m1", {"alias": "m1"}, {"alias": "m1", "price": 2})
    audit.record("bob", "model.create", "model:m2", None, {"alias": "m2"})
    # THEN they list newest first, by target, page by page, with the secret redacted
    first, token = audit.list(target="model:m1", limit=1)
    second, _ = audit.list(target="model:m1", limit=1, next_token=token)
    assert [e.action for e in first + second] == ["model.update", "model.create"]
    assert second[0].after == {"alias": "m1", "api_key": audit.REDACTED}
    assert [e.target for e in audit.list()[0]] == ["model:m2", "model:m1", "model:m1"]


@pytest.mark.parametrize("listing", ["admin_list_apps", "admin_list_audit"])
def test_a_next_token_of_another_listing_is_a_400(stack: Stack, listing: str) -> None:
    from genai_core.pagination import encode_token

    # GIVEN tokens this API could have issued for another listing, or never
    for start in [{"pk": {"S": "AUDIT"}}, {"x": 1}, {"pk": {"S": "APP#x"}, "sk": {"N": "1"}}]:
        status, body = stack.call(listing, query={"next_token": str(encode_token(start))})
        # THEN the listing answers 400 naming next_token, never a 500
        assert status == 400 and body["error"]["param"] == "next_token", body
