"""Prompt management over HTTP, as an app developer uses it (issue: immutable versions, labels, rendering)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.e2e.conftest import Platform

JSON = {"Content-Type": "application/json"}


def save(session: requests.Session, url: str, **body: Any) -> requests.Response:
    return session.post(f"{url}/v1/prompts", json=body, timeout=30)


def test_versions_labels_and_rendering(platform: Platform) -> None:
    s, url = platform.session(), platform.url
    # GIVEN three versions of a prompt
    for n, tone in enumerate(["plain", "warm", "formal"], start=1):
        created = save(s, url, name="welcome", template=f"Hello {{{{ name }}}}, in a {tone} tone about {{{{topic}}}}.")
        assert created.status_code == 201, created.text
        assert created.json()["version"] == n
        assert created.json()["variables"] == ["name", "topic"]
    # WHEN production is pointed at version 2
    moved = s.put(f"{url}/v1/prompts/welcome/labels/production", json={"version": 2}, timeout=10)
    assert moved.status_code == 200
    assert moved.json()["labels"] == {"latest": 3, "production": 2}
    # THEN a plain get resolves production, and says so
    response = s.get(f"{url}/v1/prompts/welcome", timeout=10)
    got = response.json()
    assert (got["version"], got["resolved"]) == (2, {"by": "default", "label": "production"})
    assert response.headers["cache-control"] == "no-store"  # nothing between app and API may serve a stale one
    assert got["labels"] == ["production"]
    # AND explicit version / label / latest resolve as asked
    assert s.get(f"{url}/v1/prompts/welcome?version=1", timeout=10).json()["version"] == 1
    assert s.get(f"{url}/v1/prompts/welcome?label=latest", timeout=10).json()["version"] == 3
    # WHEN production moves on to version 3, rendering follows it
    s.put(f"{url}/v1/prompts/welcome/labels/production", json={"version": 3}, timeout=10)
    rendered = s.post(
        f"{url}/v1/prompts/welcome/render", json={"variables": {"name": "Ada", "topic": "invoices"}}, timeout=10
    )
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["text"] == "Hello Ada, in a formal tone about invoices."
    assert rendered.json()["version"] == 3
    # AND a pinned version still renders its own text
    pinned = s.post(
        f"{url}/v1/prompts/welcome/render", json={"variables": {"name": "Ada", "topic": "x"}, "version": 1}, timeout=10
    )
    assert pinned.json()["text"] == "Hello Ada, in a plain tone about x."
    # AND the versions list, newest first, shows where labels point
    versions = s.get(f"{url}/v1/prompts/welcome/versions", timeout=10).json()["data"]
    assert [(v["version"], v["labels"]) for v in versions] == [(3, ["latest", "production"]), (2, []), (1, [])]
    # WHEN production is removed, the default falls back to latest
    removed = s.delete(f"{url}/v1/prompts/welcome/labels/production", timeout=10)
    assert removed.json()["labels"] == {"latest": 3}
    assert s.get(f"{url}/v1/prompts/welcome", timeout=10).json()["resolved"] == {"by": "default", "label": "latest"}


def test_chat_prompts_render_variables_in_every_message(platform: Platform) -> None:
    s, url = platform.session(), platform.url
    created = save(
        s,
        url,
        name="triage",
        messages=[
            {"role": "system", "content": "You triage tickets for {{product}}. Use \\{{braces}} literally."},
            {"role": "user", "content": "Ticket from {{customer}}: {{text}}"},
        ],
        model="claude-haiku",
        parameters={"temperature": 0, "max_tokens": 200},
    )
    assert created.status_code == 201, created.text
    assert created.json()["variables"] == ["product", "customer", "text"]
    rendered = s.post(
        f"{url}/v1/prompts/triage/render",
        json={"variables": {"product": "Acme", "customer": "Bob", "text": "{{not a variable}}"}},
        timeout=10,
    ).json()
    assert rendered["messages"] == [
        {"role": "system", "content": "You triage tickets for Acme. Use {{braces}} literally."},
        {"role": "user", "content": "Ticket from Bob: {{not a variable}}"},
    ]
    assert rendered["parameters"] == {"temperature": 0, "max_tokens": 200}


def test_each_bad_request_is_a_400_that_names_the_problem(platform: Platform) -> None:
    s, url = platform.session(), platform.url
    save(s, url, name="letter", template="Dear {{name}}, {{body}}")

    missing = s.post(f"{url}/v1/prompts/letter/render", json={"variables": {"name": "Ada"}}, timeout=10)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "prompt_variable_missing"
    assert "body" in missing.json()["error"]["message"]

    unknown = s.post(
        f"{url}/v1/prompts/letter/render", json={"variables": {"name": "A", "body": "B", "sign": "C"}}, timeout=10
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "prompt_variable_unknown"
    assert "sign" in unknown.json()["error"]["message"]

    bad_name = save(s, url, name="no spaces allowed", template="x")
    assert bad_name.status_code == 400
    assert bad_name.json()["error"]["param"] == "name"
    assert "invalid prompt name" in bad_name.json()["error"]["message"]
    bad_path = s.get(f"{url}/v1/prompts/bad%21name", timeout=10)
    assert (bad_path.status_code, bad_path.json()["error"]["code"]) == (400, "invalid_prompt_name")

    oversize = save(s, url, name="huge", template="x" * 100_001)
    assert oversize.status_code == 400
    assert oversize.json()["error"]["param"] == "template"
    assert "100000" in oversize.json()["error"]["message"]

    broken = save(s, url, name="broken", template="Hello {{name")
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "prompt_template_invalid"
    assert "line 1, column 7" in broken.json()["error"]["message"]

    both = save(s, url, name="both", template="x", messages=[{"role": "user", "content": "y"}])
    assert both.status_code == 400 and "exactly one" in both.json()["error"]["message"]

    latest = s.put(f"{url}/v1/prompts/letter/labels/latest", json={"version": 1}, timeout=10)
    assert (latest.status_code, latest.json()["error"]["code"]) == (400, "label_reserved")

    no_version = s.put(f"{url}/v1/prompts/letter/labels/production", json={"version": 9}, timeout=10)
    assert (no_version.status_code, no_version.json()["error"]["code"]) == (404, "prompt_version_not_found")
    # nothing half-written: the failed saves created no prompt, and the label was not set
    names = [p["name"] for p in s.get(f"{url}/v1/prompts", timeout=10).json()["data"]]
    assert {"huge", "broken", "both"}.isdisjoint(names)
    assert s.get(f"{url}/v1/prompts/letter", timeout=10).json()["labels"] == ["latest"]


def test_malformed_json_and_wrong_content_type_are_4xx_in_the_envelope(platform: Platform) -> None:
    s, url = platform.session(), platform.url
    malformed = s.post(f"{url}/v1/prompts", data=b'{"name": "x", ', headers=JSON, timeout=10)
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "invalid_json")
    text = s.post(f"{url}/v1/prompts", data=b"name=x", headers={"Content-Type": "text/plain"}, timeout=10)
    assert (text.status_code, text.json()["error"]["code"]) == (415, "unsupported_media_type")
    big = s.post(f"{url}/v1/prompts", data=b'{"name": "' + b"x" * 1_100_000 + b'"}', headers=JSON, timeout=30)
    assert (big.status_code, big.json()["error"]["code"]) == (413, "payload_too_large")


def test_concurrent_saves_of_one_name_all_succeed_with_distinct_versions(platform: Platform) -> None:
    url, token, count = platform.url, platform.token(), 12

    def one(i: int) -> requests.Response:
        return save(platform.session(token), url, name="racy", template=f"draft {i}")

    with ThreadPoolExecutor(max_workers=count) as pool:
        responses = list(pool.map(one, range(count)))
    assert [r.status_code for r in responses] == [201] * count, [r.text for r in responses if r.status_code != 201]
    versions = sorted(r.json()["version"] for r in responses)
    assert versions == list(range(1, count + 1))
    # and every saved text is stored under exactly one version
    listed = platform.session(token).get(f"{url}/v1/prompts/racy/versions?limit=100", timeout=10).json()["data"]
    assert sorted(v["template"] for v in listed) == sorted(f"draft {i}" for i in range(count))


def test_two_apps_each_own_a_prompt_of_the_same_name(platform: Platform) -> None:
    # (that another app cannot read, list, change or delete a prompt is in test_tenancy.py)
    owner, url = platform.session(), platform.url
    save(owner, url, name="shared-name", template="owner's {{x}}")
    owner.put(f"{url}/v1/prompts/shared-name/labels/production", json={"version": 1}, timeout=10)
    client_id, secret = platform.new_app("second-app", ["genai/prompts.read", "genai/prompts.write"])
    other = platform.session(platform.token(client_id=client_id, secret=secret))

    # saving the same name creates the second app's own prompt, version 1
    mine = save(other, url, name="shared-name", template="second's {{y}}")
    assert (mine.status_code, mine.json()["version"]) == (201, 1)
    # and the first app's prompt is untouched
    theirs = owner.get(f"{url}/v1/prompts/shared-name", timeout=10).json()
    assert (theirs["version"], theirs["template"], theirs["labels"]) == (1, "owner's {{x}}", ["latest", "production"])
    assert other.get(f"{url}/v1/prompts/shared-name", timeout=10).json()["template"] == "second's {{y}}"


def test_scopes_are_enforced_per_route(platform: Platform) -> None:
    url = platform.url
    reader = platform.session(platform.token(scope="genai/prompts.read"))
    denied = reader.post(f"{url}/v1/prompts", json={"name": "nope", "template": "x"}, timeout=10)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "insufficient_scope")
    invoker = platform.session(platform.token(scope="genai/invoke"))
    assert invoker.get(f"{url}/v1/prompts", timeout=10).status_code == 403
    assert requests.get(f"{url}/v1/prompts", timeout=10).status_code == 401


def test_listing_pages_through_prompts_by_prefix(platform: Platform) -> None:
    s, url = platform.session(), platform.url
    for name in ["pager-a", "pager-b", "pager-c", "other-d"]:
        save(s, url, name=name, template="t")
    first = s.get(f"{url}/v1/prompts?prefix=pager-&limit=2", timeout=10).json()
    assert [p["name"] for p in first["data"]] == ["pager-a", "pager-b"]
    second = s.get(f"{url}/v1/prompts?prefix=pager-&limit=2&next_token={first['next_token']}", timeout=10).json()
    assert [p["name"] for p in second["data"]] == ["pager-c"]
    assert second["next_token"] is None
    bad = s.get(f"{url}/v1/prompts?next_token=garbage!", timeout=10)
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "next_token")


def test_deleting_a_prompt_removes_every_version_and_label(platform: Platform) -> None:
    s, url = platform.session(), platform.url
    save(s, url, name="temp", template="one", labels=["production"])
    save(s, url, name="temp", template="two")
    assert s.delete(f"{url}/v1/prompts/temp", timeout=10).status_code == 204
    assert s.get(f"{url}/v1/prompts/temp", timeout=10).status_code == 404
    assert s.get(f"{url}/v1/prompts/temp/versions", timeout=10).status_code == 404
    # a new prompt of the same name starts again at version 1, without the old labels
    again = save(s, url, name="temp", template="fresh")
    assert (again.json()["version"], again.json()["labels"]) == (1, ["latest"])
