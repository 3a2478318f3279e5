"""An admin takes an app from onboarding to its first gateway call, then limits, disables, enables, rotates and
deletes it, over HTTP against the offline runtime, as the portal would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from tests.e2e.conftest import Platform

REFUSAL_DEADLINE_S = 60  # the contract: refused within a minute (the e2e runtime's status cache is 2 s)


def _chat(platform: Platform, token: str) -> requests.Response:
    return requests.post(
        f"{platform.url}/v1/chat/completions",
        json={"model": "offline-echo", "messages": [{"role": "user", "content": "hello"}]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _token_response(platform: Platform, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{platform.url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )


def _within(
    deadline_s: float, attempt: Callable[[], requests.Response], done: Callable[[requests.Response], bool]
) -> requests.Response:
    end = time.monotonic() + deadline_s
    while True:
        response = attempt()
        if done(response) or time.monotonic() > end:
            return response
        time.sleep(0.5)


def _code(response: requests.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def test_an_app_from_onboarding_to_deletion(platform: Platform) -> None:
    admin = platform.session(platform.admin_tokens()["access_token"])
    api = f"{platform.url}/admin"
    admin_name = "admin@example.com"  # the seeded admin's sign-in email, not its opaque Cognito username

    # GIVEN an admin onboards an app allowed one model and one request a minute
    body: dict[str, Any] = {
        "name": "e2e onboarding",
        "description": "from the e2e suite",
        "scopes": ["genai/invoke"],
        "limits": {"requests_per_minute": 1},
        "allowed_models": ["offline-echo"],
    }
    created = admin.post(f"{api}/apps", json=body, timeout=30)
    assert created.status_code == 201, created.text
    app, secret = created.json()["app"], created.json()["client_secret"]
    app_id = app["id"]
    assert app["status"] == "active" and app["scopes"] == ["genai/invoke"] and app["limits"]["requests_per_minute"] == 1
    fetched = admin.get(f"{api}/apps/{app_id}", timeout=10)
    assert fetched.status_code == 200 and secret not in fetched.text

    # WHEN the app gets a token with the credentials it was given
    token = platform.token(client_id=app_id, secret=secret)
    # THEN it sees only its allowed model, and its first chat call succeeds, and the limit refuses the next one
    models = requests.get(f"{platform.url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert [m["id"] for m in models.json()["data"]] == ["offline-echo"]
    assert _chat(platform, token).status_code == 200
    limited = [_chat(platform, token) for _ in range(2)]  # two: the first may fall into a new minute
    assert any(r.status_code == 429 and "Retry-After" in r.headers for r in limited), [r.text for r in limited]
    # AND an app token cannot reach the admin API: the admin authorizer does not accept the apps pool's tokens
    # (401, as API Gateway's Cognito authorizer answers; test_auth_matrix's "other-pool" case), and the function's
    # own check answers 403 admin_required behind it (tests/integration/test_admin_function.py)
    as_app = requests.get(f"{api}/apps", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert as_app.status_code == 401 and as_app.json()["error"]["type"] == "authentication_error"

    # WHEN the admin disables it THEN its existing token is refused within a minute, on every route
    assert admin.post(f"{api}/apps/{app_id}/disable", timeout=10).json()["status"] == "disabled"
    whoami = lambda: requests.get(  # noqa: E731
        f"{platform.url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    refused = _within(REFUSAL_DEADLINE_S, whoami, lambda r: r.status_code == 403)
    assert refused.status_code == 403 and _code(refused) == "app_disabled", refused.text
    assert "disabled" in refused.json()["error"]["message"]
    assert _code(_chat(platform, token)) == "app_disabled"

    # WHEN enabled again THEN the same token works again
    assert admin.post(f"{api}/apps/{app_id}/enable", timeout=10).json()["status"] == "active"
    assert _within(REFUSAL_DEADLINE_S, whoami, lambda r: r.status_code == 200).status_code == 200

    # WHEN the secret is rotated THEN the old secret gets no token, the new one does, and the app id stays
    rotated = admin.post(f"{api}/apps/{app_id}/rotate-secret", timeout=30)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert rotated.json()["app"]["id"] == app_id and new_secret != secret
    assert _token_response(platform, app_id, secret).status_code in (400, 401)
    new_token = platform.token(client_id=app_id, secret=new_secret)

    # WHEN deleted THEN even a token from before is refused, and no new token is issued
    assert admin.delete(f"{api}/apps/{app_id}", timeout=30).status_code == 204
    gone = _within(
        REFUSAL_DEADLINE_S,
        lambda: requests.get(f"{platform.url}/v1/models", headers={"Authorization": f"Bearer {new_token}"}, timeout=10),
        lambda r: r.status_code == 403,
    )
    assert gone.status_code == 403 and _code(gone) == "app_deleted", gone.text
    assert _token_response(platform, app_id, new_secret).status_code in (400, 401)
    assert admin.get(f"{api}/apps/{app_id}", timeout=10).json()["status"] == "deleted"
    listed = admin.get(f"{api}/apps", params={"status": "deleted"}, timeout=10).json()["data"]
    assert app_id in [a["id"] for a in listed]

    # AND the audit trail lists each change, newest first, by the admin who made it, without secrets
    audit = admin.get(f"{api}/audit", params={"app_id": app_id}, timeout=10)
    assert audit.status_code == 200, audit.text
    entries = audit.json()["data"]
    assert [e["action"] for e in entries] == [
        "app.delete",
        "app.rotate_secret",
        "app.enable",
        "app.disable",
        "app.create",
    ]
    assert {e["actor"] for e in entries} == {admin_name} and {e["target"] for e in entries} == {app_id}
    assert secret not in audit.text and new_secret not in audit.text
