"""The ingest functions (functions/ingest/app.py) invoked as Lambda invokes them: SQS batches for the trigger and the
Textract callback (partial batch responses), the state machine's task input for the steps. moto holds the documents
table (from template.yaml), the bucket and the state machine; the gateway is replaced by the fake embedder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from genai_core import aws
from genai_core.config import get_settings
from genai_core.knowledge import files as keys
from genai_core.knowledge import pipeline as pipeline_module
from genai_core.knowledge import service as service_module
from genai_core.knowledge.pipeline import DocumentGone
from tests.integration.conftest import Context, load_function
from tests.integration.knowledge_support import (
    BUCKET,
    MAX_BYTES,
    MODEL,
    REGION,
    KnowledgeWorld,
    batch_input,
    execution_input,
    knowledge_world,
)

APP = "app-ingest"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:genai-test-IngestQueue"
MARKDOWN = "# Guide\n\n## Install\n\nRun the installer to set up the wombat toolkit.\n"

CACHES = (
    get_settings,
    aws.client,
    aws.s3_presigner,
    pipeline_module.get_pipeline,
    service_module.get_knowledge_settings,
    service_module.get_document_files,
    service_module.get_knowledge_service,
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KnowledgeWorld]:
    with knowledge_world(monkeypatch, tmp_path) as arranged:
        yield arranged


@pytest.fixture
def state_machine(world: KnowledgeWorld) -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})
    answer = sfn.create_state_machine(
        name="genai-test-ingest", definition=definition, roleArn="arn:aws:iam::123456789012:role/genai-test-ingest"
    )
    return str(answer["stateMachineArn"])


@pytest.fixture
def ingest(
    world: KnowledgeWorld, state_machine: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ModuleType]:
    """functions/ingest/app.py with the template's environment, sharing the world's table, bucket and index file."""
    for name, value in {
        "DOCUMENTS_TABLE": world.table,
        "DOCUMENTS_BUCKET": BUCKET,
        "DEFAULT_EMBEDDING_MODEL": MODEL,
        "MAX_DOCUMENT_BYTES": str(MAX_BYTES),
        "VECTOR_STORE_PATH": str(tmp_path / "vectors.db"),
        "INGEST_STATE_MACHINE_ARN": state_machine,
        "POWERTOOLS_SERVICE_NAME": "genai-ingest",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(service_module, "GatewayEmbedder", lambda: world.embedder)
    for cached in CACHES:
        cached.cache_clear()
    yield load_function("ingest")
    if service_module.get_vector_store.cache_info().currsize:
        service_module.get_vector_store().close()  # type: ignore[attr-defined]
    service_module.get_vector_store.cache_clear()
    for cached in CACHES:
        cached.cache_clear()


def sqs_event(*bodies: str) -> dict[str, Any]:
    """A batch as Lambda's SQS event source mapping delivers it; message ids msg-0, msg-1, ..."""
    return {
        "Records": [
            {
                "messageId": f"msg-{i}",
                "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1740830405123",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1740830405130",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def upload_event(key: str, size: int, sequencer: str = "0066F1A2B3C4D5E6F7") -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2025-03-01T12:00:05.123Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": key, "size": size, "eTag": "9b2cf535f27731c974343645a3985328", "sequencer": sequencer},
        },
    }
    return json.dumps({"Records": [record]})


def executions(state_machine: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    listed: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=state_machine)["executions"]
    return listed


# -- trigger (SQS) -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "broken",
    ["this is not JSON", json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})],
    ids=["not JSON", "record without s3"],
)
def test_the_trigger_reports_only_the_broken_message(
    world: KnowledgeWorld, ingest: ModuleType, state_machine: str, broken: str
) -> None:
    # GIVEN a batch of an upload's event and a message the trigger cannot read
    document = world.register(world.collection(APP), MARKDOWN.encode())
    key = keys.upload_key(APP, document.collection_id, document.document_id)
    batch = sqs_event(upload_event(key, len(MARKDOWN)), broken)
    # WHEN the trigger function handles the batch
    response = ingest.trigger(batch, Context())
    # THEN only the broken message goes back to the queue
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    # AND the upload started its execution and the document is QUEUED with it
    [execution] = executions(state_machine)
    queued = world.service().get_document(APP, document.document_id)
    assert (queued.status, queued.execution_arn) == ("QUEUED", execution["executionArn"])
    started = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(started["input"])["key"] == key


def test_the_same_upload_twice_in_a_batch_starts_one_execution(
    world: KnowledgeWorld, ingest: ModuleType, state_machine: str
) -> None:
    document = world.register(world.collection(APP), MARKDOWN.encode())
    body = upload_event(keys.upload_key(APP, document.collection_id, document.document_id), len(MARKDOWN))
    assert ingest.trigger(sqs_event(body, body), Context()) == {"batchItemFailures": []}
    assert len(executions(state_machine)) == 1


# -- Step Functions tasks ----------------------------------------------------------------------------------------------
def test_the_chunk_and_index_functions_take_a_document_to_searchable(world: KnowledgeWorld, ingest: ModuleType) -> None:
    # GIVEN a document whose content.md the extract step wrote
    collection = world.collection(APP)
    document = world.register(collection, MARKDOWN.encode())
    world.files.write(
        keys.content_key(APP, collection.collection_id, document.document_id), MARKDOWN.encode(), "text/markdown"
    )
    state = execution_input(document, collection)
    # WHEN the state machine runs Chunk, ClearOldChunks and the Map's IndexBatch with its inputs
    chunked = ingest.chunk(state, Context())
    assert chunked == {"count": 1, "batches": [0]}
    clear = {"app_id": APP, "collection_id": collection.collection_id, "document_id": document.document_id}
    assert ingest.index({**clear, "clear": True}, Context()) == {"removed": 0}
    indexed = ingest.index(batch_input(state, 0), Context())
    # THEN the chunk is in the index and a search finds it
    assert indexed == {"indexed": 1}
    found = world.service().search(APP, [collection.collection_id], "wombat toolkit", 3, "lexical", None)
    assert [(sourced.hit.document_id, sourced.filename) for sourced in found] == [(document.document_id, "notes.md")]


def test_a_task_raises_the_named_error_the_state_machine_matches(world: KnowledgeWorld, ingest: ModuleType) -> None:
    collection = world.collection(APP)
    document = world.register(collection)
    world.service().delete_collection(APP, collection.collection_id)
    with pytest.raises(DocumentGone) as raised:
        ingest.index(batch_input(execution_input(document, collection), 0), Context())
    # Lambda reports the class name as errorType: the ASL's Catch and Retry match it
    assert type(raised.value).__name__ == "DocumentGone"


def test_the_record_failure_function_stores_the_readable_message(world: KnowledgeWorld, ingest: ModuleType) -> None:
    collection = world.collection(APP)
    document = world.register(collection)
    cause = json.dumps({"errorMessage": "the upload is gone", "errorType": "UploadMissing", "stackTrace": ["..."]})
    state = {**execution_input(document, collection), "failure": {"Error": "UploadMissing", "Cause": cause}}
    assert ingest.record_failure(state, Context()) == {"error": "UploadMissing", "message": "the upload is gone"}
    failed = world.service().get_document(APP, document.document_id)
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "UploadMissing", "the upload is gone")


def test_the_extract_function_writes_markdown_content(world: KnowledgeWorld, ingest: ModuleType) -> None:
    pytest.importorskip("genai_core.knowledge.extraction", reason="the extraction package is not merged yet")
    collection = world.collection(APP)
    document = world.register(collection, MARKDOWN.encode())
    result = ingest.extract(execution_input(document, collection), Context())
    content_key = keys.content_key(APP, collection.collection_id, document.document_id)
    assert result["textract"] is False and result["content_key"] == content_key
    assert "wombat toolkit" in world.files.read(content_key).decode()
