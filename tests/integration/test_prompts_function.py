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
from tests.conftest import use_mocked_aws
from tests.integration.conftest import Context, create_from_template, event, load_function


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    use_mocked_aws(monkeypatch)
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


# -- review findings 4, 5, 6 ---------------------------------------------------------------------------------------
def _create(prompts: ModuleType, name: str) -> tuple[int, Any]:
    ev = event("prompts_create")
    ev["body"] = json.dumps({"name": name, "template": "Hi {{who}}"})
    return invoke(prompts, ev)


@pytest.mark.parametrize("name", ["nl-test\n", "nl-test\r\n", "\nnl-test"])
def test_a_name_with_a_newline_is_refused_in_a_body(prompts: ModuleType, name: str) -> None:
    # GIVEN a name that only differs from a valid one by a newline ("$" alone matches before a trailing newline)
    # WHEN a prompt is created with it
    status, body = _create(prompts, name)

    # THEN it is a 400 naming the rule, and nothing is stored
    assert status == 400
    assert body["error"]["code"] == "invalid_parameter" and "invalid prompt name" in body["error"]["message"]
    status, listing = invoke(prompts, event("prompts_list"))
    assert listing["data"] == []


@pytest.mark.parametrize("label", ["prod\n", "staging\n"])
def test_a_label_with_a_newline_is_refused_in_a_path(prompts: ModuleType, label: str) -> None:
    # GIVEN an existing prompt
    assert _create(prompts, "support-reply")[0] == 201
    ev = event("prompts_set_label")
    ev["pathParameters"] = {"name": "support-reply", "label": label}
    ev["path"] = f"/v1/prompts/support-reply/labels/{label}"

    # WHEN a label with a trailing newline is set
    status, body = invoke(prompts, ev)

    # THEN it is refused with the label rule
    assert status == 400
    assert "invalid label" in body["error"]["message"]


@pytest.mark.parametrize("version", ["1e40", str(10**40), str(2**31)])
def test_a_huge_version_is_a_400_not_a_500(prompts: ModuleType, version: str) -> None:
    # GIVEN an existing prompt
    assert _create(prompts, "support-reply")[0] == 201
    ev = event("prompts_set_label")
    ev["pathParameters"] = {"name": "support-reply", "label": "production"}
    ev["path"] = "/v1/prompts/support-reply/labels/production"
    ev["body"] = '{"version": ' + version + "}"

    # WHEN a label is pointed at a version number beyond any bound (DynamoDB's serializer raised decimal.Rounded)
    status, body = invoke(prompts, ev)

    # THEN a 400 names the problem
    assert status == 400, body
    assert body["error"]["code"] in ("invalid_parameter", "invalid_json")


@pytest.mark.parametrize("name", ["naïve", "🙂", "名前", 'a"b'])
def test_a_non_ascii_name_in_a_path_gets_the_same_400_as_in_a_body(prompts: ModuleType, name: str) -> None:
    # GIVEN the same name in a body and in a path
    _, in_body = _create(prompts, name)
    ev = event("prompts_get")
    ev["pathParameters"] = {"name": name}
    ev["path"] = f"/v1/prompts/{name}"
    ev["queryStringParameters"] = ev["multiValueQueryStringParameters"] = None

    # WHEN it is looked up by path
    status, in_path = invoke(prompts, ev)

    # THEN both are 400s about the prompt name (not 404 route_not_found for the path)
    assert status == 400, in_path
    assert in_path["error"]["code"] == "invalid_prompt_name"
    assert "invalid prompt name" in in_body["error"]["message"]
