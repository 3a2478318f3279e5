"""The operations admin API over HTTP against the offline runtime: gateway calls show up in usage (with tokens,
cost and latency percentiles), in the app's invocations and in the totals; a catalogue entry put by an admin is
callable through the gateway within its cache age and gone after a delete; a failed document shows with its reason;
an app's prompts (versions and labels) are browsable; an app token is refused on every route.

An app token is refused by the admin authorizer as a token of another pool: 401, as API Gateway's Cognito
authorizer answers in AWS and as the auth matrix (test_auth_matrix.py, "other-pool") holds every admin route to."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import openai
import pytest
import requests

from tests.e2e.conftest import Platform
from tests.e2e.test_knowledge import _collection, _ingest

ALIAS = "e2e-team-chat"
ROUTES = [
    ("GET", "/admin/usage"),
    ("GET", "/admin/totals"),
    ("GET", "/admin/apps/some-app/invocations"),
    ("GET", "/admin/documents"),
    ("GET", "/admin/apps/some-app/prompts"),
    ("GET", "/admin/apps/some-app/prompts/some-prompt"),
    ("GET", "/admin/models"),
    ("GET", f"/admin/models/{ALIAS}"),
    ("PUT", f"/admin/models/{ALIAS}"),
    ("DELETE", f"/admin/models/{ALIAS}"),
]


@pytest.fixture(scope="module")
def admin(platform: Platform) -> requests.Session:
    return platform.session(platform.admin_tokens()["access_token"])


@pytest.fixture(scope="module")
def ops_app(platform: Platform) -> tuple[str, str]:
    """An app of its own, so the usage seen here is this module's only."""
    return platform.new_app("operations-e2e", ["genai/invoke", "genai/documents.read", "genai/documents.write"])


@pytest.fixture(scope="module")
def calls(platform: Platform, ops_app: tuple[str, str]) -> list[str]:
    """Three chat completions of the app; their request ids."""
    token = platform.token(client_id=ops_app[0], secret=ops_app[1])
    ids = []
    with openai.OpenAI(base_url=f"{platform.url}/v1", api_key=token, max_retries=0) as sdk:
        for i in range(3):
            raw = sdk.chat.completions.with_raw_response.create(
                model="offline-echo", messages=[{"role": "user", "content": f"operations call {i}"}]
            )
            ids.append(raw.headers["x-request-id"])
    return ids


def eventually(check: Callable[[], Any], timeout: float = 45, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


def test_gateway_calls_show_in_usage_invocations_and_totals(
    platform: Platform, admin: requests.Session, ops_app: tuple[str, str], calls: list[str]
) -> None:
    app_id, url = ops_app[0], platform.url
    # WHEN usage of the app is read per model
    usage = admin.get(f"{url}/admin/usage", params={"app_id": app_id, "group_by": "model"}, timeout=30)
    # THEN the three calls are there with their tokens, cost and latency percentiles
    assert usage.status_code == 200, usage.text
    (row,) = usage.json()["data"]
    assert row["model"] == "offline-echo" and row["requests"] == 3 and row["errors"] == 0
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0 and row["cost_usd"] > 0
    assert 0 < row["latency_p50_ms"] <= row["latency_p95_ms"]
    # AND usage across apps (found through the month index) has the app as a row of its own
    by_app = admin.get(f"{url}/admin/usage", params={"group_by": "app"}, timeout=30).json()
    assert [r["requests"] for r in by_app["data"] if r["app_id"] == app_id] == [3]
    # AND the invocations list the calls newest first, without any text of them
    listed = admin.get(f"{url}/admin/apps/{app_id}/invocations", params={"limit": 10}, timeout=30)
    assert listed.status_code == 200, listed.text
    assert [i["request_id"] for i in listed.json()["data"]] == calls[::-1]
    assert "operations call" not in listed.text
    # AND the totals count them today
    totals = admin.get(f"{url}/admin/totals", timeout=30).json()
    assert totals["today"]["requests"] >= 3 and totals["today"]["apps_with_traffic"] >= 1
    assert set(totals["documents"]) >= {"READY", "FAILED"}


def test_a_catalogue_entry_is_callable_within_the_cache_age_and_gone_after_delete(
    platform: Platform, admin: requests.Session, ops_app: tuple[str, str]
) -> None:
    url = platform.url
    entry = {
        "description": "added by the operations e2e test",
        "targets": [{"provider": "openai", "base_url": f"{url}/local-models/v1", "model": "offline-echo"}],
        "capabilities": ["chat"],
        "context_window": 8192,
        "input_price_per_1m": 1.0,
        "output_price_per_1m": 2.0,
    }
    # GIVEN an invalid entry is refused naming the field
    bad = admin.put(f"{url}/admin/models/{ALIAS}", json=entry | {"output_price_per_1m": -1}, timeout=30)
    assert bad.status_code == 400 and "output_price_per_1m" in bad.text
    # WHEN an admin puts a valid one
    put = admin.put(f"{url}/admin/models/{ALIAS}", json=entry, timeout=30)
    assert put.status_code == 200, put.text
    assert admin.get(f"{url}/admin/models/{ALIAS}", timeout=30).json()["alias"] == ALIAS
    # THEN the app can call it through the gateway within the catalogue's cache age (30 s)
    app = platform.session(platform.token(client_id=ops_app[0], secret=ops_app[1]))
    body = {"model": ALIAS, "messages": [{"role": "user", "content": "hello new model"}]}

    def status() -> int:
        return app.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code

    assert eventually(lambda: status() == 200), "the new alias never became callable"
    # AND once deleted it is a 404 again within the same age
    assert admin.delete(f"{url}/admin/models/{ALIAS}", timeout=30).status_code == 204
    assert admin.get(f"{url}/admin/models/{ALIAS}", timeout=30).status_code == 404
    assert eventually(lambda: status() == 404), "the deleted alias stayed callable"
    # AND the audit trail has both changes, by the signed-in admin, with the entry before and after
    trail = admin.get(f"{url}/admin/audit", params={"limit": 100}, timeout=30).json()["data"]
    changes = [e for e in trail if e["target"] == f"model/{ALIAS}"]
    assert [e["action"] for e in changes] == ["model.delete", "model.create"]
    assert changes[0]["before"]["alias"] == ALIAS and changes[0]["after"] is None
    admin_name = "admin@example.com"  # the seeded admin's sign-in email, not its opaque Cognito username
    assert {e["actor"] for e in changes} == {admin_name}


def test_a_failed_document_shows_with_its_reason(
    platform: Platform, admin: requests.Session, ops_app: tuple[str, str]
) -> None:
    url = platform.url
    api = platform.session(platform.token(client_id=ops_app[0], secret=ops_app[1]))
    collection_id = _collection(api, url)
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40
    document = _ingest(api, url, collection_id, "broken.pdf", "application/pdf", data)
    assert document["status"] == "FAILED"

    listing = admin.get(f"{url}/admin/documents", params={"status": "FAILED", "limit": 100}, timeout=30)

    assert listing.status_code == 200, listing.text
    (found,) = [d for d in listing.json()["data"] if d["document_id"] == document["id"]]
    assert found["app_id"] == ops_app[0] and found["collection_id"] == collection_id
    assert (found["failure"]["step"], found["failure"]["error"]) == ("extract", "DocumentUnreadable")
    assert "PDF" in found["failure"]["message"] and found["execution_arn"]


def test_an_admin_browses_the_demo_apps_prompt_versions_and_labels(platform: Platform, admin: requests.Session) -> None:
    url, app_id = platform.url, platform.credentials["client_id"]
    name = f"e2e-admin-{uuid.uuid4().hex[:8]}"
    demo = platform.session()  # the demo app's token: genai/prompts.write among its scopes
    # GIVEN the demo app saved a prompt twice through /v1/prompts and pointed production at version 1
    first = {
        "name": name,
        "template": "Hello {{customer}}",
        "model": "offline-echo",
        "parameters": {"temperature": 0.1},
    }
    assert demo.post(f"{url}/v1/prompts", json=first, timeout=30).status_code == 201
    second = {"name": name, "messages": [{"role": "system", "content": "Be brief with {{customer}}."}]}
    assert demo.post(f"{url}/v1/prompts", json=second, timeout=30).status_code == 201
    labelled = demo.put(f"{url}/v1/prompts/{name}/labels/production", json={"version": 1}, timeout=30)
    assert labelled.status_code == 200, labelled.text

    # WHEN the admin lists the app's prompts by the name's prefix
    listed = admin.get(f"{url}/admin/apps/{app_id}/prompts", params={"prefix": name}, timeout=30)
    # THEN the prompt is there with its labels
    assert listed.status_code == 200, listed.text
    (summary,) = listed.json()["data"]
    assert (summary["name"], summary["latest_version"]) == (name, 2)
    assert summary["labels"] == {"latest": 2, "production": 1}

    # WHEN the admin opens it
    opened = admin.get(f"{url}/admin/apps/{app_id}/prompts/{name}", timeout=30)
    # THEN it resolves to production by default and lists both versions with their labels, text and chat
    assert opened.status_code == 200, opened.text
    detail = opened.json()
    assert detail["resolved"]["version"] == 1 and detail["resolved"]["template"] == "Hello {{customer}}"
    assert [(v["version"], v["type"], v["labels"]) for v in detail["versions"]] == [
        (2, "chat", ["latest"]),
        (1, "text", ["production"]),
    ]
    assert detail["versions"][1]["parameters"] == {"temperature": 0.1}
    # AND another app sees none of it
    assert admin.get(f"{url}/admin/apps/some-app/prompts/{name}", timeout=30).status_code == 404
    # AND the demo app's own token is refused there
    refused = demo.get(f"{url}/admin/apps/{app_id}/prompts", timeout=30)
    assert refused.status_code == 401, refused.text


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=lambda v: str(v))
def test_an_app_token_is_refused_on_every_operations_route(platform: Platform, method: str, path: str) -> None:
    app = platform.session()  # the demo app, every app scope
    response = app.request(method, f"{platform.url}{path}", json={} if method == "PUT" else None, timeout=30)
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error", response.text
