"""The gateway function invoked with the events/ samples (as `sam local invoke` does), against moto tables and a
Bedrock runtime client stubbed with botocore's Stubber and real Converse/InvokeModel response shapes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from genai_core import aws
from genai_core.config import get_settings
from genai_core.gateway.providers import base
from genai_core.gateway.providers.bedrock import BedrockProvider
from genai_core.gateway.service import get_gateway_service
from genai_core.prompts.service import get_prompt_service
from tests.conftest import ROOT, use_mocked_aws
from tests.integration.conftest import Context, create_from_template, event, load_function

FIXTURES = ROOT / "tests" / "fixtures" / "bedrock"
HAIKU_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU_GLOBAL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Deployed:
    function: ModuleType
    bedrock: Any
    stub: Stubber
    tables: dict[str, str]

    def invoke(self, name: str, **body_changes: Any) -> tuple[int, dict[str, str], Any]:
        ev = event(name)
        if body_changes:
            ev["body"] = json.dumps({**json.loads(ev["body"]), **body_changes})
        response = self.function.lambda_handler(ev, Context())
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        headers.update({k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items()})
        body = response.get("body") or ""
        parsed = json.loads(body) if headers.get("content-type", "").startswith("application/json") else body
        return response["statusCode"], headers, parsed

    def usage(self) -> list[dict[str, Any]]:
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(self.tables["UsageTable"])
        return table.scan()["Items"]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    use_mocked_aws(monkeypatch)
    monkeypatch.setenv("CATALOGUE_DEFAULTS", "aws")
    caches = (get_settings, aws.client, get_gateway_service, get_prompt_service, base.get_provider)
    with mock_aws():
        tables = create_from_template("ModelCatalogueTable", "GatewayTable", "UsageTable", "PromptsTable")
        for logical_id, variable in {
            "ModelCatalogueTable": "CATALOGUE_TABLE",
            "GatewayTable": "GATEWAY_TABLE",
            "UsageTable": "USAGE_TABLE",
            "PromptsTable": "PROMPTS_TABLE",
        }.items():
            monkeypatch.setenv(variable, tables[logical_id])
        for cached in caches:
            cached.cache_clear()
        bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
        # The provider the registry would build, on the stubbed client.
        provider = BedrockProvider(lambda *args: bedrock)
        get_gateway_service().provider = lambda name: provider
        with Stubber(bedrock) as stub:
            yield Deployed(load_function("gateway"), bedrock, stub, tables)
        for cached in caches:
            cached.cache_clear()


def test_the_chat_sample_event_is_answered_through_converse_and_recorded(deployed: Deployed) -> None:
    # GIVEN Bedrock answers the Converse call of the sample event (temperature 0 must reach it as 0)
    deployed.stub.add_response(
        "converse",
        fixture("converse_text"),
        {
            "modelId": HAIKU_US,
            "messages": [{"role": "user", "content": [{"text": "What is Amazon Bedrock?"}]}],
            "system": [{"text": "You answer in one sentence."}],
            "inferenceConfig": {"maxTokens": 200, "temperature": 0},
        },
    )
    # WHEN the function handles events/gateway_chat.json (the catalogue table is empty: it seeds from aws.json)
    status, headers, body = deployed.invoke("gateway_chat")
    # THEN the OpenAI-shaped completion comes back, with usage, and the call is recorded with its Bedrock cost
    assert status == 200, body
    assert body["object"] == "chat.completion" and body["model"] == "claude-haiku-4-5"
    assert body["choices"][0]["message"]["content"] == "Paris is the capital of France."
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 21 and body["usage"]["completion_tokens"] == 9
    assert headers["x-request-id"] and headers["x-gateway-cache"] == "off"
    (record,) = deployed.usage()
    assert record["target"] == f"bedrock:default:{HAIKU_US}"
    assert float(record["cost_usd"]) == pytest.approx((21 * 1.0 + 9 * 5.0) / 1e6)
    deployed.stub.assert_no_pending_responses()


def test_tool_use_and_a_streamed_answer_from_the_sample_events(deployed: Deployed) -> None:
    deployed.stub.add_response("converse", fixture("converse_tool_use"))
    status, _, body = deployed.invoke("gateway_chat_tools")
    assert status == 200, body
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["tool_calls"][0]["type"] == "function"
    deployed.stub.add_response("converse", fixture("converse_text"))
    status, headers, sse = deployed.invoke("gateway_chat_stream")
    assert status == 200 and headers["content-type"] == "text/event-stream"
    events = [line.removeprefix("data: ") for line in sse.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == (
        "Paris is the capital of France."
    )
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 30


def test_bedrock_throttling_falls_back_to_the_next_profile_then_cools_the_first_down(deployed: Deployed) -> None:
    # GIVEN the US profile throttles every attempt and the global profile answers
    def throttled() -> None:
        deployed.stub.add_client_error(
            "converse", "ThrottlingException", "Too many requests, please wait before trying again.", 429
        )

    for _ in range(3):  # three requests, three attempts each on the US profile, then the fallback
        for _ in range(3):
            throttled()
        deployed.stub.add_response("converse", fixture("converse_text"), {"modelId": HAIKU_GLOBAL, **_ANY_BODY})
    # WHEN three requests come in
    for _ in range(3):
        status, _, body = deployed.invoke("gateway_chat")
        assert status == 200 and body["choices"][0]["message"]["content"] == "Paris is the capital of France."
    # THEN the US profile is cooling down: the fourth request goes straight to the global profile
    deployed.stub.add_response("converse", fixture("converse_text"), {"modelId": HAIKU_GLOBAL, **_ANY_BODY})
    status, _, _ = deployed.invoke("gateway_chat")
    assert status == 200
    deployed.stub.assert_no_pending_responses()
    last = max(deployed.usage(), key=lambda r: r["sk"])
    assert last["target"] == f"bedrock:default:{HAIKU_GLOBAL}"
    assert last["attempts"] == [f"bedrock:default:{HAIKU_US}: skipped, cooling down"]


def test_a_bedrock_validation_error_is_the_callers_400_without_fallback(deployed: Deployed) -> None:
    deployed.stub.add_client_error("converse", "ValidationException", "messages.0.content: too long", 400)
    status, _, body = deployed.invoke("gateway_chat")
    assert status == 400 and body["error"]["code"] == "provider_rejected_request"
    assert "too long" in body["error"]["message"]
    deployed.stub.assert_no_pending_responses()


def test_the_embeddings_sample_event_calls_titan_once_per_input(deployed: Deployed) -> None:
    for _ in range(2):
        raw = json.dumps(fixture("titan_embed_v2")).encode()
        deployed.stub.add_response(
            "invoke_model", {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}
        )
    status, _, body = deployed.invoke("gateway_embeddings")
    assert status == 200, body
    assert [d["index"] for d in body["data"]] == [0, 1] and body["model"] == "titan-embed-v2"
    assert body["usage"]["prompt_tokens"] > 0


def test_the_models_sample_event_lists_the_seeded_aws_catalogue(deployed: Deployed) -> None:
    status, _, body = deployed.invoke("gateway_models")
    assert status == 200
    assert {"claude-haiku-4-5", "nova-lite", "titan-embed-v2"} <= {m["id"] for m in body["data"]}
    assert all(m["object"] == "model" for m in body["data"])
    status, _, one = deployed.invoke("gateway_model")
    assert status == 200 and one["id"] == "claude-haiku-4-5" and one["pricing"]["output_per_1m"] == 5.0


_ANY_BODY: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _any_params() -> Iterator[None]:
    # Stubber compares expected params exactly; for the fallback test only the model id matters.
    from botocore.stub import ANY

    _ANY_BODY.update({"messages": ANY, "system": ANY, "inferenceConfig": ANY})
    yield
    _ANY_BODY.clear()
