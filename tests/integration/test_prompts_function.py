"""The prompts function, invoked with the events/ samples (as `sam local invoke` does) against moto."""

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
from tests.integration.conftest import Context, create_from_template, event, load_function


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for key, value in {
        "STAGE": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        tables = create_from_template("PromptsTable")
        monkeypatch.setenv("PROMPTS_TABLE", tables["PromptsTable"])
        for cached in (get_settings, aws.client, get_prompt_service):
            cached.cache_clear()
        yield load_function("prompts")
        for cached in (get_settings, aws.client, get_prompt_service):
            cached.cache_clear()


def invoke(module: ModuleType, ev: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(ev, Context())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body


def test_the_sample_events_walk_a_prompt_through_its_life(prompts: ModuleType) -> None:
    # GIVEN a prompt created from the sample event, with the staging label
    status, created = invoke(prompts, event("prompts_create"))
    assert status == 201
    assert created["version"] == 1
    assert created["variables"] == ["customer", "topic", "tone"]
    assert created["labels"] == ["latest", "staging"]
    # WHEN production is pointed at version 1
    status, labels = invoke(prompts, event("prompts_set_label"))
    assert (status, labels["labels"]) == (200, {"latest": 1, "production": 1, "staging": 1})
    # THEN get by label resolves it, and render fills it
    status, got = invoke(prompts, event("prompts_get"))
    assert status == 200 and got["version"] == 1 and got["resolved"] == {"by": "label", "label": "production"}
    status, rendered = invoke(prompts, event("prompts_render"))
    assert status == 200
    assert rendered["text"] == "Answer Ada about refunds in a friendly tone."
    status, listed = invoke(prompts, event("prompts_list"))
    assert status == 200 and [p["name"] for p in listed["data"]] == ["support-reply"]
    status, versions = invoke(prompts, event("prompts_versions"))
    assert status == 200 and [v["version"] for v in versions["data"]] == [1]
    # AND removing the staging label, then the prompt, leaves nothing behind
    status, labels = invoke(prompts, event("prompts_delete_label"))
    assert (status, labels["labels"]) == (200, {"latest": 1, "production": 1})
    assert invoke(prompts, event("prompts_delete"))[0] == 204
    status, missing = invoke(prompts, event("prompts_get"))
    assert status == 404 and missing["error"]["code"] == "prompt_not_found"


def test_a_chat_prompt_keeps_its_roles_and_finds_variables_in_every_message(prompts: ModuleType) -> None:
    status, created = invoke(prompts, event("prompts_create_chat"))
    assert status == 201
    assert created["type"] == "chat"
    assert created["variables"] == ["product", "question"]
    assert [m["role"] for m in created["messages"]] == ["system", "user"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"body": '{"name": "x", "template": '}, 400, "invalid_json"),
        (
            {"headers": {"Content-Type": "text/plain"}, "multiValueHeaders": {"Content-Type": ["text/plain"]}},
            415,
            "unsupported_media_type",
        ),
        ({"body": json.dumps({"name": "x", "template": "y" * 1_100_000})}, 413, "payload_too_large"),
        ({"path": "/v1/nothing-here", "resource": "/v1/nothing-here"}, 404, "route_not_found"),
    ],
    ids=["malformed-json", "wrong-content-type", "body-over-limit", "unknown-route"],
)
def test_bad_input_gets_the_error_envelope_from_the_handler(
    prompts: ModuleType, changes: dict[str, Any], status: int, code: str
) -> None:
    got_status, body = invoke(prompts, event("prompts_create", **changes))
    assert got_status == status
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_a_token_without_the_write_scope_cannot_save_even_if_the_authorizer_let_it_through(
    prompts: ModuleType,
) -> None:
    ev = event("prompts_create")
    ev["requestContext"]["authorizer"]["claims"]["scope"] = "genai/prompts.read"
    status, body = invoke(prompts, ev)
    assert status == 403
    assert body["error"]["code"] == "insufficient_scope"


def test_saves_and_renders_are_counted_in_cloudwatch_metrics(
    prompts: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(prompts, event("prompts_create"))
    invoke(
        prompts,
        event(
            "prompts_render",
            body=json.dumps({"variables": {"customer": "A", "topic": "B", "tone": "C"}, "label": "latest"}),
        ),
    )
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = [m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert names == ["PromptVersionsSaved", "PromptsRendered"]
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "GenAIPlatform" for doc in emf)
