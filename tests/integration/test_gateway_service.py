"""The gateway service against moto-backed tables (built from template.yaml) and a scripted provider: limits,
cache, fallbacks and cool-downs, usage records and counters, managed prompts, and refusals that bill nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from genai_core import aws
from genai_core.config import get_settings
from genai_core.errors import InvalidRequest, NotFound, RateLimited, ServiceUnavailable, UpstreamError
from genai_core.gateway import views
from genai_core.gateway.catalogue import Catalogue, DynamoCatalogue, ModelEntry, Target
from genai_core.gateway.models import ChatCompletionRequest, EmbeddingsRequest, KnowledgeReference
from genai_core.gateway.providers.base import ProviderRejected, ProviderRetryable
from genai_core.gateway.service import (
    SOURCES_INSTRUCTION,
    CallContext,
    GatewayService,
    GatewaySettings,
    Retriever,
    Source,
)
from genai_core.gateway.store import AppSettings, DynamoGatewayStore, Limits
from genai_core.gateway.types import ChatResult, EmbeddingResult, StreamEvent, Usage, stream_of
from genai_core.prompts.models import CreatePromptRequest
from genai_core.prompts.repository import DynamoPromptRepository
from genai_core.prompts.service import PromptService
from tests.conftest import use_mocked_aws
from tests.integration.conftest import create_from_template

APP, OTHER = "app-one", "app-two"
PRIMARY = Target(provider="openai", base_url="http://primary.test/v1", model="m1")
BACKUP = Target(provider="openai", base_url="http://backup.test/v1", model="m1")


@dataclass
class ScriptedProvider:
    """Answers per target: a list of outcomes (an exception to raise, or None to answer), the last one repeating."""

    name: str = "openai"
    script: dict[str, list[Exception | None]] = field(default_factory=dict)
    calls: list[tuple[str, ChatCompletionRequest | list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self, target: Target) -> None:
        with self.lock:
            outcomes = self.script.get(target.id, [None])
            outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if outcome is not None:
            raise outcome

    def unsupported(self, target: Target, request: ChatCompletionRequest) -> list[str]:
        return ["seed"] if request.seed is not None else []

    def chat(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> ChatResult:
        with self.lock:
            self.calls.append((target.id, request))
        self._next(target)
        return ChatResult(
            "Hello there", [], "stop", Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=200)
        )

    def chat_stream(self, target: Target, request: ChatCompletionRequest, *, timeout: float) -> Iterator[StreamEvent]:
        return iter(stream_of(self.chat(target, request, timeout=timeout)))

    def embed(self, target: Target, texts: list[str], *, dimensions: int | None, timeout: float) -> EmbeddingResult:
        with self.lock:
            self.calls.append((target.id, texts))
        self._next(target)
        return EmbeddingResult([[0.1, 0.2, 0.3] for _ in texts], prompt_tokens=7 * len(texts))


ENTRIES = [
    ModelEntry(
        alias="chat-model",
        targets=[PRIMARY, BACKUP],
        capabilities=["chat", "tools"],
        context_window=8000,
        max_output_tokens=1000,
        input_price_per_1m=2.0,
        output_price_per_1m=10.0,
        cached_input_price_per_1m=0.5,
    ),
    ModelEntry(
        alias="cached-model",
        targets=[PRIMARY],
        capabilities=["chat"],
        context_window=8000,
        input_price_per_1m=2.0,
        output_price_per_1m=10.0,
        cache={"enabled": True, "ttl_seconds": 60},
    ),
    ModelEntry(alias="embed-model", targets=[PRIMARY], capabilities=["embeddings"], context_window=512, dimensions=3),
]


class Serialized:
    """moto's in-process backend is not thread-safe; DynamoDB makes each request atomic. One request at a time
    gives the emulation that guarantee (as the offline runtime's moto server does), and nothing more: a limit
    check made of a read then a write would still overshoot."""

    def __init__(self, client: Any) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


@dataclass
class Gateway:
    provider: ScriptedProvider
    store: DynamoGatewayStore
    prompts: PromptService
    tables: dict[str, str]
    make: Callable[..., GatewayService]
    service: GatewayService

    def counters(self, app: str) -> dict[str, Any]:
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(self.tables["GatewayTable"])
        items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"APP#{app}"})
        return {i["sk"]: i for i in items["Items"]}

    def usage(self, app: str) -> list[dict[str, Any]]:
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(self.tables["UsageTable"])
        return table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": app})["Items"]


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    use_mocked_aws(monkeypatch)
    with mock_aws():
        tables = create_from_template("ModelCatalogueTable", "GatewayTable", "UsageTable", "PromptsTable")
        client = Serialized(boto3.client("dynamodb", region_name="us-east-1"))
        DynamoCatalogue(client, tables["ModelCatalogueTable"]).seed(ENTRIES)
        store = DynamoGatewayStore(client, tables["GatewayTable"], tables["UsageTable"])
        prompts = PromptService(DynamoPromptRepository(client, tables["PromptsTable"]))
        provider = ScriptedProvider()

        def make(retrieve: Retriever | None = None, **overrides: Any) -> GatewayService:
            settings = GatewaySettings.model_validate(
                {
                    "STAGE": "test",
                    "AWS_REGION": "us-east-1",
                    "CATALOGUE_TABLE": tables["ModelCatalogueTable"],
                    "GATEWAY_TABLE": tables["GatewayTable"],
                    "USAGE_TABLE": tables["UsageTable"],
                    **overrides,
                }
            )
            return GatewayService(
                Catalogue(DynamoCatalogue(client, tables["ModelCatalogueTable"]), defaults=None),
                store,
                settings,
                render_prompt=lambda app, name, variables, version, label: prompts.render(
                    app, name, variables, version=version, label=label
                ),
                retrieve=retrieve,
                provider=lambda name: provider,
                sleep=lambda seconds: None,
            )

        yield Gateway(provider, store, prompts, tables, make, make())
        get_settings.cache_clear()
        aws.client.cache_clear()


def chat(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "chat-model", "messages": [{"role": "user", "content": "Hi"}], **fields}
    )


def ctx(app: str = APP, request_id: str = "req-1") -> CallContext:
    return CallContext(app, request_id)


def test_a_chat_call_reaches_the_provider_unchanged_and_is_billed_and_recorded(gateway: Gateway) -> None:
    # WHEN an app calls with temperature 0
    outcome = gateway.service.chat(ctx(), chat(temperature=0, max_tokens=500, user="u-42", metadata={"team": "ops"}))
    # THEN the provider got temperature 0 (not a default), and the answer comes back with its usage
    target, sent = gateway.provider.calls[0]
    assert target == PRIMARY.id and isinstance(sent, ChatCompletionRequest) and sent.temperature == 0
    assert outcome.result.content == "Hello there" and outcome.context.target == PRIMARY.id
    # AND one usage record with tokens and cost: 1000 fresh input x 2 + 200 cached x 0.5 + 300 output x 10 per 1M
    (record,) = gateway.usage(APP)
    assert record["alias"] == "chat-model" and record["status"] == 200 and record["target"] == PRIMARY.id
    assert (record["prompt_tokens"], record["completion_tokens"], record["cached_tokens"]) == (1200, 300, 200)
    assert record["cost_usd"] == Decimal("0.0051")
    assert record["request_id"] == "req-1"
    assert (record["user"], record["metadata"]) == ("u-42", {"team": "ops"})
    # AND the daily per-model counters and the app's limit counters moved
    counters = gateway.counters(APP)
    (daily,) = [v for k, v in counters.items() if k.startswith("DAY#")]
    assert (daily["requests"], daily["errors"], daily["prompt_tokens"], daily["cost_micros"]) == (1, 0, 1200, 5100)
    live = counters["LIMITS"]
    assert [v for k, v in live.items() if k.startswith("td_")] == [1500]
    assert [v for k, v in live.items() if k.startswith("mc_")] == [5100]


@pytest.mark.parametrize(
    ("request_fields", "error", "code"),
    [
        ({"model": "no-such-model"}, NotFound, "model_not_found"),
        ({"model": "embed-model"}, InvalidRequest, "model_not_supported"),
        ({"max_tokens": 1001}, InvalidRequest, "max_tokens_too_large"),
        ({"messages": [{"role": "user", "content": "word " * 9000}]}, InvalidRequest, "context_length_exceeded"),
        ({"n": 2}, InvalidRequest, "unsupported_parameter"),
        ({"seed": 7}, InvalidRequest, "unsupported_parameter"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "tool", "tool_call_id": "call_nowhere", "content": "42"},
                ]
            },
            InvalidRequest,
            "invalid_tool_call_id",
        ),
    ],
)
def test_bad_requests_are_refused_before_any_model_call_and_bill_nothing(
    gateway: Gateway, request_fields: dict[str, Any], error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as raised:
        gateway.service.chat(ctx(), chat(**request_fields))
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert gateway.provider.calls == []
    # the refusal is recorded with its status, but nothing is billed or counted against the limits
    (record,) = gateway.usage(APP)
    assert record["status"] in (400, 404) and record["error_code"] == code and record["cost_usd"] == 0
    assert "LIMITS" not in gateway.counters(APP)


def test_requests_per_minute_are_enforced_atomically_under_concurrency(gateway: Gateway) -> None:
    # GIVEN an app allowed 5 requests per minute
    gateway.store.put_app_settings(APP, AppSettings(Limits(requests_per_minute=5)))
    service = gateway.make()

    def call(i: int) -> str:
        try:
            service.chat(ctx(request_id=f"r{i}"), chat())
            return "ok"
        except RateLimited as exc:
            assert exc.retry_after_seconds >= 1 and exc.code == "requests_per_minute_exceeded"
            return "limited"

    # WHEN 20 requests arrive at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(call, range(20)))
    # THEN exactly 5 are served (a minute boundary in between would open a new window: then at most 10)
    assert outcomes.count("ok") in (5, 10) and outcomes.count("ok") + outcomes.count("limited") == 20
    # AND another app is not affected
    gateway.service.chat(ctx(OTHER), chat())


def test_token_and_budget_limits_refuse_once_used_up(gateway: Gateway) -> None:
    # GIVEN an app whose daily tokens are used up by one call (1,500 tokens) and another with a tiny budget
    gateway.store.put_app_settings(APP, AppSettings(Limits(tokens_per_day=1000)))
    gateway.store.put_app_settings(OTHER, AppSettings(Limits(monthly_budget_usd=0.004)))
    service = gateway.make()
    service.chat(ctx(), chat())
    service.chat(ctx(OTHER), chat())
    # THEN the next calls are refused naming the limit, with Retry-After until the window ends
    with pytest.raises(RateLimited) as day:
        service.chat(ctx(request_id="r2"), chat())
    assert day.value.code == "tokens_per_day_exceeded" and 1 <= day.value.retry_after_seconds <= 86400
    with pytest.raises(RateLimited) as month:
        service.chat(ctx(OTHER, request_id="r2"), chat())
    assert month.value.code == "monthly_budget_exceeded"
    assert len(gateway.provider.calls) == 2


def test_the_cache_answers_identical_requests_without_the_provider_or_cost(gateway: Gateway) -> None:
    first = gateway.service.chat(ctx(request_id="r1"), chat(model="cached-model", user="alice"))
    # a different `user` or stream setting is the same question: still a hit
    second = gateway.service.chat(ctx(request_id="r2"), chat(model="cached-model", user="bob", stream=True))
    assert (first.context.cache, second.context.cache) == ("miss", "hit")
    assert len(gateway.provider.calls) == 1
    assert second.events is not None and "".join(e.delta.get("content", "") for e in second.events) == "Hello there"
    records = sorted(gateway.usage(APP), key=lambda r: r["request_id"])
    assert [(r["cache_hit"], r["cost_usd"] > 0) for r in records] == [(False, True), (True, False)]
    # another app never sees this app's cached answer; and the cache is opt-in per request too
    assert gateway.service.chat(ctx(OTHER), chat(model="cached-model")).context.cache == "miss"
    assert gateway.service.chat(ctx(request_id="r3"), chat(cache=False, model="cached-model")).context.cache == "off"


def test_a_failing_target_is_retried_then_falls_back_then_cools_down_for_every_container(gateway: Gateway) -> None:
    # GIVEN the primary target always throttles
    gateway.provider.script[PRIMARY.id] = [ProviderRetryable("throttled", status=429)]
    # WHEN three requests come in (threshold 3)
    for i in range(3):
        outcome = gateway.service.chat(ctx(request_id=f"r{i}"), chat())
        assert outcome.context.target == BACKUP.id
    calls = [t for t, _ in gateway.provider.calls]
    assert calls.count(PRIMARY.id) == 9 and calls.count(BACKUP.id) == 3  # 3 attempts each, then the fallback
    # THEN a fresh container (new service, empty caches) skips the primary without calling it
    gateway.provider.calls.clear()
    fresh = gateway.make()
    assert fresh.chat(ctx(request_id="r9"), chat()).context.target == BACKUP.id
    assert [t for t, _ in gateway.provider.calls] == [BACKUP.id]
    record = next(r for r in gateway.usage(APP) if r["request_id"] == "r9")
    assert record["attempts"] == [f"{PRIMARY.id}: skipped, cooling down"]


def test_when_every_target_is_cooling_down_the_caller_gets_503_with_retry_after(gateway: Gateway) -> None:
    gateway.provider.script[PRIMARY.id] = [ProviderRetryable("down", status=503)]
    gateway.provider.script[BACKUP.id] = [ProviderRetryable("down", status=503)]
    for i in range(3):
        with pytest.raises(UpstreamError):
            gateway.service.chat(ctx(request_id=f"r{i}"), chat())
    gateway.provider.calls.clear()
    with pytest.raises(ServiceUnavailable) as raised:
        gateway.make().chat(ctx(request_id="r9"), chat())
    assert 1 <= raised.value.retry_after_seconds <= 30 and gateway.provider.calls == []
    failed = [r for r in gateway.usage(APP) if r["status"] >= 500]
    assert len(failed) == 4 and all(r["cost_usd"] == 0 for r in failed)


def test_a_provider_refusal_is_the_callers_400_without_retry_or_fallback(gateway: Gateway) -> None:
    gateway.provider.script[PRIMARY.id] = [ProviderRejected("messages: too many images", status=400)]
    with pytest.raises(InvalidRequest) as raised:
        gateway.service.chat(ctx(), chat())
    assert "too many images" in raised.value.message and raised.value.code == "provider_rejected_request"
    assert [t for t, _ in gateway.provider.calls] == [PRIMARY.id]


def test_a_managed_prompt_is_rendered_into_the_messages_and_named_in_the_usage_record(gateway: Gateway) -> None:
    # GIVEN a chat prompt with a model and a temperature
    gateway.prompts.create_version(
        APP,
        CreatePromptRequest.model_validate(
            {
                "name": "support",
                "messages": [{"role": "system", "content": "You help {{customer}}."}],
                "model": "chat-model",
                "parameters": {"temperature": 0.2, "max_tokens": 300},
            }
        ),
    )
    # WHEN a request names it, sets its own max_tokens, and sends a user message
    request = ChatCompletionRequest.model_validate(
        {
            "prompt": {"name": "support", "variables": {"customer": "Ada"}},
            "messages": [{"role": "user", "content": "Where is my parcel?"}],
            "max_tokens": 50,
        }
    )
    gateway.service.chat(ctx(), request)
    # THEN the provider got the rendered system message first, the prompt's model and temperature, our max_tokens
    _, sent = gateway.provider.calls[0]
    assert isinstance(sent, ChatCompletionRequest)
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "You help Ada."),
        ("user", "Where is my parcel?"),
    ]
    assert (sent.model, sent.temperature, sent.max_tokens) == ("chat-model", 0.2, 50)
    (record,) = gateway.usage(APP)
    assert (record["prompt_name"], record["prompt_version"]) == ("support", 1)
    # AND another app cannot use this app's prompt
    with pytest.raises(NotFound):
        gateway.service.chat(ctx(OTHER), request)


def _sources(*pages: int) -> list[Source]:
    return [
        Source(
            index=i,
            collection_id="col_1",
            document_id="doc_1",
            filename="handbook.pdf",
            chunk_id=f"chunk-{page}",
            pages=(page,),
            heading_path=("Handbook", f"Section {page}"),
            score=1.0 / i,
            text=f"Text of page {page}.",
        )
        for i, page in enumerate(pages, start=1)
    ]


def test_knowledge_puts_numbered_sources_before_the_question_and_the_answer_cites_them(gateway: Gateway) -> None:
    searched: list[tuple[str, KnowledgeReference, str]] = []

    def retrieve(app: str, reference: KnowledgeReference, query: str) -> list[Source]:
        searched.append((app, reference, query))
        return _sources(4, 2)

    service = gateway.make(retrieve=retrieve)
    # WHEN a chat names collections as knowledge, after a system message of its own
    request = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "How do I claim expenses?"}]},
        ],
        knowledge={"collection_ids": ["col_1"], "k": 2, "mode": "lexical", "filter": {"team": "hr"}},
    )
    outcome = service.chat(ctx(), request)
    # THEN the last user message's text was searched, for this app, with the request's k, mode and filter
    ((app, reference, query),) = searched
    assert (app, query, reference.k, reference.mode, reference.filter) == (
        APP,
        "How do I claim expenses?",
        2,
        "lexical",
        {"team": "hr"},
    )
    # AND the provider got the sources as a system message right before the question, numbered with their places
    _, sent = gateway.provider.calls[0]
    assert [m.role for m in sent.messages] == ["system", "system", "user"]
    sources = sent.messages[1].content
    assert sources.startswith(SOURCES_INSTRUCTION)
    assert "[1] handbook.pdf, page 4, Handbook > Section 4\nText of page 4." in sources
    assert "[2] handbook.pdf, page 2, Handbook > Section 2\nText of page 2." in sources
    # AND the response and the first chunk of a stream carry the citations
    citations = views.chat_completion(outcome).model_dump()["citations"]
    assert [(c["index"], c["page"], c["chunk_id"]) for c in citations] == [(1, 4, "chunk-4"), (2, 2, "chunk-2")]
    first = views.event_stream(outcome, stream_of(outcome.result), include_usage=False).split("\n\n")[0]
    assert json.loads(first.removeprefix("data: "))["citations"][0]["page"] == 4


def test_knowledge_without_hits_or_question_and_without_retrieval(gateway: Gateway) -> None:
    # GIVEN a search that finds nothing: the request goes as it was, with an empty list of citations
    service = gateway.make(retrieve=lambda app, reference, query: [])
    outcome = service.chat(ctx(), chat(knowledge={"collection_ids": ["col_1"]}))
    assert [m.role for m in gateway.provider.calls[0][1].messages] == ["user"]
    assert views.chat_completion(outcome).model_dump()["citations"] == []
    # AND without citations, a plain completion has no citations field at all
    plain = service.chat(ctx(), chat())
    assert "citations" not in views.chat_completion(plain).model_dump()
    # AND knowledge without a user message to search with is the caller's 400
    assistant_only = chat(messages=[{"role": "assistant", "content": "Hello"}], knowledge={"collection_ids": ["col_1"]})
    with pytest.raises(InvalidRequest) as refused:
        service.chat(ctx(), assistant_only)
    assert refused.value.param == "knowledge"
    # AND a gateway without retrieval refuses knowledge rather than ignoring it
    with pytest.raises(InvalidRequest):
        gateway.service.chat(ctx(), chat(knowledge={"collection_ids": ["col_1"]}))


def test_embeddings_are_billed_per_input_token_and_checked_against_the_model(gateway: Gateway) -> None:
    outcome = gateway.service.embed(ctx(), EmbeddingsRequest(model="embed-model", input=["a", "b"]))
    assert len(outcome.result.vectors) == 2 and outcome.result.prompt_tokens == 14
    with pytest.raises(InvalidRequest) as too_wide:
        gateway.service.embed(ctx(), EmbeddingsRequest(model="embed-model", input="a", dimensions=4))
    assert too_wide.value.param == "dimensions"
    # an answer too big for one Lambda response is refused before the call, saying how many inputs fit
    with pytest.raises(InvalidRequest) as too_many:
        gateway.service.embed(ctx(), EmbeddingsRequest(model="embed-model", input=["a"] * 2048, dimensions=256))
    assert too_many.value.code == "too_many_inputs" and "at most 976 inputs" in too_many.value.message
    with pytest.raises(InvalidRequest) as chat_model:
        gateway.service.embed(ctx(), EmbeddingsRequest(model="chat-model", input="a"))
    assert chat_model.value.code == "model_not_supported"


def test_allowed_models_limit_what_an_app_sees_and_calls(gateway: Gateway) -> None:
    gateway.store.put_app_settings(APP, AppSettings(Limits(), allowed_models=("embed-model",)))
    service = gateway.make()
    assert [e.alias for e in service.models(APP)] == ["embed-model"]
    assert [e.alias for e in service.models(OTHER)] == ["cached-model", "chat-model", "embed-model"]
    with pytest.raises(Exception, match="may not use"):
        service.chat(ctx(), chat())


def test_a_usage_record_that_cannot_be_written_does_not_fail_an_answered_call(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the usage table refuses writes (the model call has been made and paid for by then)
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DynamoDB is having a bad day")

    monkeypatch.setattr(gateway.store, "record", refuse)
    # THEN the caller still gets the answer (the failure is logged and counted in GatewayUsageRecordErrors)
    assert gateway.service.chat(ctx(), chat()).result.content == "Hello there"
