"""Admin prompt browsing in the operations function: an app's prompts, saved through the prompts function's own
sample events, read back with the operations sample events (an admin's token) against moto tables from template.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from genai_core import aws
from genai_core.config import get_settings
from genai_core.prompts.service import get_prompt_service
from tests.conftest import use_mocked_aws
from tests.integration.conftest import Context, create_from_template, event, load_function

APP = "4m8n2p6q0r4s8t2u6v0w4x8y2z"  # the client id of the prompts_*.json events' app token


@pytest.fixture
def functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    use_mocked_aws(monkeypatch)
    with mock_aws():
        tables = create_from_template("PromptsTable", "GatewayTable")
        monkeypatch.setenv("PROMPTS_TABLE", tables["PromptsTable"])
        monkeypatch.setenv("GATEWAY_TABLE", tables["GatewayTable"])
        for cached in (get_settings, aws.client, get_prompt_service):
            cached.cache_clear()
        yield {"prompts": load_function("prompts"), "operations": load_function("operations")}
        for cached in (get_settings, aws.client, get_prompt_service):
            cached.cache_clear()


def invoke(module: ModuleType, ev: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(ev, Context())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body


def with_query(name: str, params: dict[str, str] | None, **changes: Any) -> dict[str, Any]:
    multi = {k: [v] for k, v in params.items()} if params else None
    return event(name, queryStringParameters=params, multiValueQueryStringParameters=multi, **changes)


def second_version() -> dict[str, Any]:
    body = json.loads(event("prompts_create")["body"])
    body.update(template="Answer {{customer}} briefly about {{topic}}.", labels=[], parameters={"temperature": 0.0})
    return event("prompts_create", body=json.dumps(body))


def test_an_admin_browses_an_apps_prompts_with_their_versions_and_labels(functions: dict[str, ModuleType]) -> None:
    prompts, operations = functions["prompts"], functions["operations"]
    # GIVEN the app saved a text prompt twice (v1 labelled staging, then production) and a chat prompt
    assert invoke(prompts, event("prompts_create"))[0] == 201
    assert invoke(prompts, event("prompts_set_label"))[0] == 200  # production -> 1
    assert invoke(prompts, second_version())[0] == 201
    assert invoke(prompts, event("prompts_create_chat"))[0] == 201

    # WHEN an admin lists the app's prompts starting with "support"
    status, listed = invoke(operations, event("operations_app_prompts"))

    # THEN both show, each with its latest version and labels
    assert status == 200, listed
    by_name = {p["name"]: p for p in listed["data"]}
    assert set(by_name) == {"support-chat", "support-reply"} and listed["next_token"] is None
    assert by_name["support-reply"]["latest_version"] == 2
    assert by_name["support-reply"]["labels"] == {"latest": 2, "production": 1, "staging": 1}

    # WHEN the admin opens one
    status, detail = invoke(operations, event("operations_app_prompt"))

    # THEN it resolves as a caller would by default (production) and lists every version newest first, with labels
    assert status == 200, detail
    assert detail["name"] == "support-reply" and detail["labels"]["production"] == 1
    assert detail["resolved"]["version"] == 1
    assert detail["resolved"]["resolved"] == {"by": "default", "label": "production"}
    assert [(v["version"], v["labels"]) for v in detail["versions"]] == [
        (2, ["latest"]),
        (1, ["production", "staging"]),
    ]
    v2, v1 = detail["versions"]
    assert v2["template"] == "Answer {{customer}} briefly about {{topic}}." and v2["variables"] == ["customer", "topic"]
    assert v1["model"] == "claude-haiku" and v1["parameters"] == {"temperature": 0.2, "max_tokens": 400}
    # AND ?label= and ?version= resolve like the app's own route, a page of versions carries a token
    status, latest = invoke(operations, with_query("operations_app_prompt", {"label": "latest", "limit": "1"}))
    assert status == 200 and latest["resolved"]["version"] == 2 and len(latest["versions"]) == 1
    assert latest["next_token"]
    status, rest = invoke(
        operations, with_query("operations_app_prompt", {"limit": "1", "next_token": latest["next_token"]})
    )
    assert status == 200 and [v["version"] for v in rest["versions"]] == [1]
    status, chat = invoke(
        operations,
        event(
            "operations_app_prompt",
            path=f"/admin/apps/{APP}/prompts/support-chat",
            pathParameters={"app_id": APP, "name": "support-chat"},
        ),
    )
    assert status == 200 and chat["resolved"]["type"] == "chat"
    assert [m["role"] for m in chat["resolved"]["messages"]] == ["system", "user"]


def test_another_apps_prompts_are_its_own_and_unknown_ones_are_404(functions: dict[str, ModuleType]) -> None:
    prompts, operations = functions["prompts"], functions["operations"]
    assert invoke(prompts, event("prompts_create"))[0] == 201
    other = {"app_id": "some-other-app"}
    # WHEN an admin looks at another app, THEN it has no prompts, and the name is unknown there
    status, listed = invoke(
        operations, event("operations_app_prompts", path="/admin/apps/some-other-app/prompts", pathParameters=other)
    )
    assert (status, listed["data"]) == (200, [])
    status, missing = invoke(
        operations,
        event(
            "operations_app_prompt",
            path="/admin/apps/some-other-app/prompts/support-reply",
            pathParameters=other | {"name": "support-reply"},
        ),
    )
    assert status == 404 and missing["error"]["code"] == "prompt_not_found"
    # AND a bad name or prefix is a 400 naming it
    status, bad = invoke(operations, with_query("operations_app_prompts", {"prefix": "bad prefix!"}))
    assert status == 400 and bad["error"]["param"] == "prefix"
    # AND a label the prompt does not have is a 404 listing the ones it has
    status, nolabel = invoke(operations, with_query("operations_app_prompt", {"label": "canary"}))
    assert status == 404 and nolabel["error"]["code"] == "prompt_label_not_found"
