"""The local models over real HTTP through the API server, driven by the official OpenAI SDK, as the gateway's
OpenAI-compatible provider will reach them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import openai
import pytest

from offline.auth import TokenService
from offline.cfn import Stack, load_template
from offline.gateway import ApiServer, LocalApi
from offline.local_models import LocalModels
from offline.sam import read_application
from tests.conftest import ROOT

REGION = "us-east-1"


class NoFunctions:
    def invoke(self, function_id: str, event: object, request_id: str = "") -> object:
        raise AssertionError(f"the local models must not reach a function ({function_id})")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    stack = Stack(load_template(ROOT / "template.yaml"), ROOT, "genai-test", REGION, "123456789012")
    app = read_application(stack)
    api = LocalApi(
        routes=app.routes,
        pool=NoFunctions(),  # type: ignore[arg-type]
        tokens=TokenService(tmp_path_factory.mktemp("models") / "signing-key.pem", REGION),
        pool_ids={},
        gateway_responses=app.gateway_responses,
        stage="dev",
        account_id="123456789012",
        client_lookup=lambda client_id: None,
        access_log=lambda line: None,
        local_models=LocalModels(),
    )
    server = ApiServer("127.0.0.1", 0, api)
    server.start()
    # Any key is accepted: the SDK insists on one, the endpoint ignores it.
    yield openai.OpenAI(base_url=f"{server.url}/local-models/v1", api_key="x", max_retries=0, timeout=30)
    server.stop()


def test_the_sdk_chats_streams_and_embeds(client: openai.OpenAI) -> None:
    assert {m.id for m in client.models.list()} == {"offline-echo", "minilm"}

    reply = client.chat.completions.create(model="offline-echo", messages=[{"role": "user", "content": "over HTTP"}])
    assert reply.choices[0].message.content == "Echo: over HTTP"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0

    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
        },
    }
    called = client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "look it up"}],
        tools=[tool],  # type: ignore[list-item]
    )
    calls = called.choices[0].message.tool_calls or []
    assert called.choices[0].finish_reason == "tool_calls"
    assert json.loads(calls[0].function.arguments) == {"id": 0}  # type: ignore[union-attr]

    stream = client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "over HTTP"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: over HTTP"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == reply.usage.total_tokens

    # The SDK asks for base64 unless told otherwise, and decodes it back to floats.
    texts = ["How do I reset my password?", "Steps to change a forgotten login password", "The stock market fell"]
    vectors = np.array([d.embedding for d in client.embeddings.create(model="minilm", input=texts).data])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    floats = client.embeddings.create(model="minilm", input=texts, encoding_format="float").data
    assert np.allclose(vectors, np.array([d.embedding for d in floats]), atol=1e-7)

    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="offline-echo", messages=[{"role": "user", "content": "x"}], n=2)
