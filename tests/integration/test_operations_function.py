"""The operations function, invoked with the events/ samples against moto tables built from template.yaml; usage is
seeded through the gateway store's own record path, so the counters and records have their real shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from genai_core import aws
from genai_core.config import get_settings
from genai_core.gateway.store import DynamoGatewayStore, UsageRecord
from genai_core.operations import service as operations
from tests.conftest import use_mocked_aws
from tests.integration.conftest import Context, create_from_template, event, load_function

TODAY = datetime.now(UTC).date()
TABLES = ("UsageTable", "GatewayTable", "DocumentsTable", "ModelCatalogueTable")


class Trail:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str, Any, Any]] = []

    def record(self, actor: str, action: str, target: str, before: Any, after: Any) -> None:
        self.changes.append((actor, action, target, before, after))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    use_mocked_aws(monkeypatch)
    with mock_aws():
        tables = create_from_template(*TABLES)
        for name, variable in zip(
            TABLES, ("USAGE_TABLE", "GATEWAY_TABLE", "DOCUMENTS_TABLE", "CATALOGUE_TABLE"), strict=True
        ):
            monkeypatch.setenv(variable, tables[name])
        caches = (get_settings, aws.client, operations.get_operations_service)
        for cached in caches:
            cached.cache_clear()
        trail = Trail()
        monkeypatch.setattr(operations, "default_audit_trail", lambda: trail)
        client = boto3.client("dynamodb", region_name="us-east-1")
        store = DynamoGatewayStore(client, tables["GatewayTable"], tables["UsageTable"])
        yield {
            "module": load_function("operations"),
            "store": store,
            "tables": tables,
            "trail": trail,
            "client": client,
        }
        for cached in caches:
            cached.cache_clear()


def invoke(module: ModuleType, ev: dict[str, Any]) -> tuple[int, Any]:
    response = module.lambda_handler(ev, Context())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body


def query(path: str, params: dict[str, str] | None = None, name: str = "operations_usage") -> dict[str, Any]:
    return event(
        name,
        path=path,
        queryStringParameters=params,
        multiValueQueryStringParameters={k: [v] for k, v in (params or {}).items()} or None,
    )


def with_query(name: str, params: dict[str, str]) -> dict[str, Any]:
    return event(
        name, queryStringParameters=params, multiValueQueryStringParameters={k: [v] for k, v in params.items()}
    )


def call(store: DynamoGatewayStore, app: str, alias: str, day: date, latency: int, n: int, **more: Any) -> None:
    started = datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)
    for i in range(n):
        record = UsageRecord(
            app_id=app,
            request_id=f"{app}-{alias}-{day}-{latency}-{i}",
            alias=alias,
            kind="chat",
            status=more.get("status", 200),
            started_at=started + timedelta(seconds=i),
            latency_ms=latency,
            target="openai:http://local/v1:offline-echo",
            prompt_tokens=10,
            completion_tokens=5,
            cost_usd=0.001,
            error_code=more.get("error_code"),
            user="end-user-42",
        )
        store.record(record, None)


def test_usage_sums_the_daily_counters_of_every_app_with_latency_percentiles(env: dict[str, Any]) -> None:
    # GIVEN two apps' calls over two days, 90 fast and 10 slow ones for app-a today, an error for app-b yesterday
    store, yesterday = env["store"], TODAY - timedelta(days=1)
    call(store, "app-a", "chat", TODAY, 100, 90)
    call(store, "app-a", "chat", TODAY, 2000, 10)
    call(store, "app-b", "embed", yesterday, 50, 3)
    call(store, "app-b", "embed", yesterday, 50, 1, status=502, error_code="upstream_error")

    # WHEN usage is asked for the last 7 days, grouped by app
    status, report = invoke(env["module"], query("/admin/usage", {"group_by": "app"}))

    # THEN each app has its sums, the totals add up, and p50/p95 fall in the right histogram buckets (~9%)
    assert status == 200, report
    assert report["to"] == TODAY.isoformat() and report["from"] == (TODAY - timedelta(days=6)).isoformat()
    rows = {row["app_id"]: row for row in report["data"]}
    assert set(rows) == {"app-a", "app-b"} and "day" not in rows["app-a"]
    a = rows["app-a"]
    assert (a["requests"], a["errors"], a["prompt_tokens"], a["completion_tokens"]) == (100, 0, 1000, 500)
    assert a["cost_usd"] == pytest.approx(0.1)
    assert 90 <= a["latency_p50_ms"] <= 110 and 1800 <= a["latency_p95_ms"] <= 2200
    assert rows["app-b"]["errors"] == 1 and rows["app-b"]["requests"] == 4
    assert report["totals"]["requests"] == 104

    # AND by day and model, filtered to one app and model, gives one row per day
    status, report = invoke(
        env["module"], query("/admin/usage", {"group_by": "day,model", "app_id": "app-b", "model": "embed"})
    )
    assert status == 200
    assert [(r["day"], r["model"], r["requests"]) for r in report["data"]] == [(yesterday.isoformat(), "embed", 4)]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-01-01", "to": "2025-06-01"}, "from"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "from"),
        ({"group_by": "week"}, "group_by"),
    ],
)
def test_usage_refuses_a_bad_range_naming_the_parameter(
    env: dict[str, Any], params: dict[str, str], param: str
) -> None:
    status, body = invoke(env["module"], query("/admin/usage", params))
    assert status == 400 and body["error"]["param"] == param, body


def test_invocations_list_an_apps_records_newest_first_without_user_data(env: dict[str, Any]) -> None:
    # GIVEN three calls of the demo app
    call(env["store"], "4n8demoappclient0000000000", "chat", TODAY, 120, 3)

    # WHEN two are listed, then the next page
    status, page = invoke(env["module"], with_query("operations_invocations", {"limit": "2"}))
    assert status == 200, page
    status, rest = invoke(
        env["module"],
        with_query("operations_invocations", {"limit": "2", "next_token": page["next_token"]}),
    )

    # THEN they come newest first, with tokens, cost, latency and target, and nothing of the end user
    ids = [i["request_id"] for i in page["data"] + rest["data"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3 and rest["next_token"] is None
    first = page["data"][0]
    assert first["tokens"] == {"prompt": 10, "completion": 5, "cached": 0}
    assert (first["latency_ms"], first["status"], first["cache"], first["model"]) == (120, 200, False, "chat")
    assert first["cost_usd"] == pytest.approx(0.001) and first["target"].startswith("openai:")
    assert "user" not in json.dumps(page)
    # AND a token of another listing is refused
    forged = invoke(env["module"], with_query("operations_invocations", {"next_token": "eyJwayI6ICJ4In0"}))
    assert forged[0] == 400 and forged[1]["error"]["param"] == "next_token"


def test_totals_count_today_this_month_and_documents_by_status(env: dict[str, Any]) -> None:
    call(env["store"], "app-a", "chat", TODAY, 100, 2)
    call(env["store"], "app-b", "chat", TODAY, 100, 1)
    failed_document(env, "doc-1")

    status, totals = invoke(env["module"], event("operations_totals"))

    assert status == 200, totals
    assert totals["today"]["requests"] == 3 and totals["today"]["apps_with_traffic"] == 2
    assert totals["today"]["tokens"] == 45 and totals["month"]["requests"] >= 3
    assert totals["documents"]["FAILED"] == 1 and totals["documents"]["READY"] == 0


def failed_document(env: dict[str, Any], document_id: str, app: str = "app-a") -> None:
    from genai_core.knowledge.models import Document
    from genai_core.knowledge.repository import DynamoKnowledgeRepository

    repository = DynamoKnowledgeRepository(env["client"], env["tables"]["DocumentsTable"])
    now = datetime.now(UTC).isoformat()
    document = Document(app, document_id, "col-1", "broken.pdf", "application/pdf", 10, "PENDING_UPLOAD", now, now)
    repository.create_document(document, 0)
    arn = f"arn:aws:states:us-east-1:123456789012:execution:ingest:{document_id}"
    repository.mark_queued(app, document_id, arn, now)
    repository.record_failure(app, document_id, "ExtractionFailed", "the PDF has no readable pages", now, "extract")


def test_documents_lists_failed_ones_across_apps_with_reason_and_console_link(env: dict[str, Any]) -> None:
    failed_document(env, "doc-1", "app-a")
    failed_document(env, "doc-2", "app-b")

    status, listing = invoke(env["module"], event("operations_documents"))

    assert status == 200, listing
    assert {d["app_id"] for d in listing["data"]} == {"app-a", "app-b"}
    document = listing["data"][0]
    assert document["failure"] == {
        "step": "extract",
        "error": "ExtractionFailed",
        "message": "the PDF has no readable pages",
    }
    assert document["execution_console_url"].startswith("https://us-east-1.console.aws.amazon.com/states/")
    status, body = invoke(env["module"], with_query("operations_documents", {"status": "DONE"}))
    assert status == 400 and body["error"]["param"] == "status"


def test_catalogue_crud_validates_and_records_each_change(env: dict[str, Any]) -> None:
    module, trail = env["module"], env["trail"]
    # WHEN an entry is created, read, replaced and deleted with the sample events
    status, created = invoke(module, event("operations_put_model"))
    assert status == 200, created
    assert created["alias"] == "team-chat"
    status, got = invoke(module, event("operations_get_model", pathParameters={"alias": "team-chat"},
                                       path="/admin/models/team-chat"))  # fmt: skip
    assert status == 200 and got["context_window"] == 8192
    status, _ = invoke(module, event("operations_put_model"))
    assert status == 200
    status, listed = invoke(module, event("operations_list_models"))
    assert [m["alias"] for m in listed["data"]] == ["team-chat"]
    status, _ = invoke(module, event("operations_delete_model"))
    assert status == 204
    status, missing = invoke(module, event("operations_delete_model"))
    assert status == 404 and missing["error"]["code"] == "model_not_found"

    # THEN the trail has who did what, with before and after
    actions = [(a, action, target) for a, action, target, _, _ in trail.changes]
    actor = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
    assert actions == [
        (actor, "model.create", "model/team-chat"),
        (actor, "model.replace", "model/team-chat"),
        (actor, "model.delete", "model/team-chat"),
    ]
    assert trail.changes[0][3] is None and trail.changes[2][4] is None


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"input_price_per_1m": -1}, "input_price_per_1m"),
        ({"targets": [{"provider": "azure", "model": "x"}]}, "targets"),
        ({"targets": [{"provider": "openai", "model": "x"}]}, "targets"),
        ({"capabilities": ["chat", "embeddings"]}, "capabilities"),
        ({"capabilities": ["embeddings", "tools"], "dimensions": 8}, "capabilities"),
        ({"dimensions": 8}, "dimensions"),
        ({"alias": "other"}, "alias"),
        (
            {"targets": [{"provider": "openai", "base_url": "https://x/v1", "model": "m", "api_key_secret": "mine"}]},
            "targets.0.api_key_secret",
        ),
    ],
)
def test_an_invalid_entry_is_refused_naming_the_field(env: dict[str, Any], change: dict[str, Any], param: str) -> None:
    sample = event("operations_put_model")
    body = json.loads(sample["body"]) | change
    status, answer = invoke(env["module"], {**sample, "body": json.dumps(body)})
    assert status == 400, answer
    assert answer["error"]["param"] == param or param in answer["error"]["message"], answer
    assert env["trail"].changes == []
