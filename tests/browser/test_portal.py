"""The admin portal as an admin uses it: sign in through the (local) Hosted UI, then every page (with the demo app's
traffic and prompt in them), the demo app's prompt versions and labels; and, once the admin API is deployed, an app
from onboarding to a first gateway call, its usage in the chart, and its refusal after it is disabled. Screenshots
of each page go to test-artifacts/portal/."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.browser.conftest import screenshot
from tests.e2e.conftest import Platform

pytestmark = pytest.mark.e2e

PAGES = ["usage", "models", "prompts", "documents", "audit"]


def portal_url(platform: Platform) -> str:
    # The portal client's callback is http://localhost:<port>/admin/ (the template allows http only on localhost).
    return platform.url.replace("127.0.0.1", "localhost") + "/admin/"


def sign_in(page: Any, platform: Platform) -> None:
    page.goto(portal_url(platform))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**")
    page.get_by_label("Username").fill(platform.credentials["admin_username"])
    page.get_by_label("Password").fill(platform.credentials["admin_password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/#/apps")
    page.get_by_test_id("whoami").filter(has_text=platform.credentials["admin_username"]).wait_for()


def admin_api_available(platform: Platform) -> bool:
    token = platform.admin_tokens()["access_token"]
    probe = requests.post(
        f"{platform.url}/admin/apps", json={}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return probe.status_code != 404


def chat(platform: Platform, token: str) -> requests.Response:
    body = {"model": "offline-echo", "messages": [{"role": "user", "content": "hello from the portal test"}]}
    return requests.post(
        f"{platform.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def seed_demo_app(platform: Platform) -> str:
    """The demo app's traffic (two chat calls) and a prompt of two versions, production on the first; its name."""
    demo = platform.session()
    for _ in range(2):
        assert chat(platform, demo.headers["Authorization"].split(" ", 1)[1]).status_code == 200
    name = f"support-reply-{uuid.uuid4().hex[:6]}"
    first = {
        "name": name,
        "template": "Answer {{customer}} about {{topic}} in a {{tone}} tone.",
        "description": "Support answer",
        "model": "offline-echo",
        "parameters": {"temperature": 0.2, "max_tokens": 400},
        "tags": ["support"],
    }
    second = {
        "name": name,
        "messages": [
            {"role": "system", "content": "You answer customers of {{product}} in a {{tone}} tone."},
            {"role": "user", "content": "{{question}}"},
        ],
        "model": "offline-echo",
        "labels": ["staging"],
    }
    for body in (first, second):
        created = demo.post(f"{platform.url}/v1/prompts", json=body, timeout=30)
        assert created.status_code == 201, created.text
    labelled = demo.put(f"{platform.url}/v1/prompts/{name}/labels/production", json={"version": 1}, timeout=30)
    assert labelled.status_code == 200, labelled.text
    return name


def test_an_admin_signs_in_and_sees_every_page(page: Any, portal_platform: Platform) -> None:
    # GIVEN the demo app's traffic and a prompt of it, and the portal, not signed in
    prompt = seed_demo_app(portal_platform)
    page.goto(portal_url(portal_platform))
    page.get_by_role("button", name="Sign in").wait_for()
    screenshot(page, "00-signin")
    # WHEN the seeded admin signs in through the local Hosted UI (authorization code + PKCE)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**")
    screenshot(page, "01-hosted-ui")
    page.get_by_label("Username").fill(portal_platform.credentials["admin_username"])
    page.get_by_label("Password").fill(portal_platform.credentials["admin_password"])
    page.get_by_role("button", name="Sign in").click()
    # THEN the apps page shows, with the admin's identity (GET /admin/whoami) in the header
    page.wait_for_url("**/admin/#/apps")
    page.get_by_test_id("whoami").filter(has_text=portal_platform.credentials["admin_username"]).wait_for()
    page.get_by_role("heading", name="Apps").wait_for()
    assert "code=" not in page.url  # the code is not left in the address bar (or the history)
    screenshot(page, "02-apps")
    # AND every other page renders: its data, or a notice that its admin API route is not deployed yet
    for index, name in enumerate(PAGES, start=3):
        page.get_by_role("link", name=name.capitalize(), exact=True).click()
        page.wait_for_url(f"**/admin/#/{name}")
        page.locator("main h2").first.wait_for()
        page.wait_for_load_state("networkidle")
        assert page.locator("main .error").count() == 0, page.locator("main .error").all_inner_texts()
        screenshot(page, f"{index:02d}-{name}")
    # AND the demo app (not onboarded through the admin API: typed by its client id) shows its prompt's versions
    page.get_by_role("link", name="Prompts", exact=True).click()
    page.get_by_label("or app id").fill(portal_platform.credentials["client_id"])
    page.get_by_role("button", name="Show").click()
    page.locator(f"tr[data-prompt='{prompt}']").get_by_role("button", name=prompt).click()
    detail = page.get_by_test_id("prompt-detail")
    detail.locator("article[data-version='1']").wait_for()
    assert detail.locator("article.version").count() == 2
    assert "production" in detail.locator("article[data-version='1']").inner_text()
    assert "staging" in detail.locator("article[data-version='2']").inner_text()
    assert "{{customer}}" in detail.inner_text() and "temperature" in detail.inner_text()
    page.wait_for_load_state("networkidle")
    assert page.locator("main .error").count() == 0, page.locator("main .error").all_inner_texts()
    screenshot(page, "08-prompts")
    # AND signing out forgets the tokens
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.evaluate("sessionStorage.getItem('genai-admin.tokens')") is None


def test_an_onboarded_app_calls_the_gateway_shows_in_usage_and_is_refused_once_disabled(
    page: Any, portal_platform: Platform
) -> None:
    if not admin_api_available(portal_platform):
        pytest.skip("admin API not available (POST /admin/apps answers 404)")
    sign_in(page, portal_platform)
    name = f"portal-{uuid.uuid4().hex[:8]}"

    # GIVEN an app onboarded in the portal with the invoke scope
    page.get_by_role("button", name="Onboard an app").click()
    form = page.get_by_role("form", name="Onboard")
    form.get_by_label("Name").fill(name)
    form.get_by_role("button", name="Onboard").click()
    box = page.get_by_test_id("secret-box")
    box.wait_for()
    client_id = page.locator("#client-id").input_value()
    client_secret = page.locator("#client-secret").input_value()
    screenshot(page, "10-onboarded-secret-once")
    # WHEN the admin copies the secret, THEN the clipboard holds it; once dismissed, it is nowhere on the page
    box.get_by_role("button", name="Copy secret").click()
    assert page.evaluate("navigator.clipboard.readText()") == client_secret
    box.get_by_role("button", name="I have stored it").click()
    box.wait_for(state="detached")
    assert client_secret not in page.content()

    # WHEN the app uses its credentials: a token at /oauth2/token, then a chat completion
    token = requests.post(
        f"{portal_platform.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "genai/invoke"},
        auth=(client_id, client_secret),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    access_token = token.json()["access_token"]
    first = chat(portal_platform, access_token)
    assert first.status_code == 200, first.text

    # THEN the call shows in the usage page's per-app chart and table
    page.get_by_role("link", name="Usage", exact=True).click()
    row = page.get_by_test_id("usage-per-app").locator(f"tr[data-key='{client_id}'] td.requests")
    deadline = time.monotonic() + 60
    while row.count() == 0 or row.inner_text().strip() in ("", "0"):
        assert time.monotonic() < deadline, "the call did not show in the usage per app within 60 s"
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_load_state("networkidle")
        time.sleep(1)
    assert int(row.inner_text().replace(",", "")) >= 1
    screenshot(page, "11-usage-with-call")

    # WHEN the admin disables the app in the portal
    page.get_by_role("link", name="Apps", exact=True).click()
    app_row = page.locator(f"tr[data-app='{name}']")
    app_row.get_by_role("button", name="Disable").click()
    app_row.locator(".badge.disabled").wait_for()
    screenshot(page, "12-app-disabled")
    # THEN its next call is refused within 60 s, even with the token issued before, saying it is disabled
    deadline = time.monotonic() + 65
    while (refused := chat(portal_platform, access_token)).status_code == 200:
        assert time.monotonic() < deadline, "a disabled app could still call the gateway after 60 s"
        time.sleep(2)
    assert refused.status_code == 403, refused.text
    assert "disabled" in refused.json()["error"]["message"]
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_test_id("audit-table").wait_for()
    screenshot(page, "13-audit")
