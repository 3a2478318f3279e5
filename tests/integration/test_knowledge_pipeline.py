"""The ingestion pipeline's steps on moto (documents table from template.yaml, S3), with the embedded vector store, a
fake embedder, and fakes of Step Functions (starter, task tokens) and Textract. The Step Functions adapters
themselves are checked against botocore's Stubber."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from genai_core.errors import (
    GenAIError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from genai_core.knowledge import files as keys
from genai_core.knowledge import views
from genai_core.knowledge.models import Collection, Document
from genai_core.knowledge.pipeline import (
    MAX_CAUSE_CHARS,
    DocumentGone,
    DocumentUnreadable,
    EmbeddingFailed,
    EmbeddingThrottled,
    Pipeline,
    StepFunctionsStarter,
    StepFunctionsTokens,
    TextractJobUnknown,
)
from genai_core.knowledge.repository import TextractJob
from genai_core.knowledge.vectorstores.base import IndexNotFound
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

# Cognito app client ids may contain '+', which S3 event notifications URL-encode in the object key.
APP = "7kq2+client"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:genai-test-ingest"

GUIDE = """<!-- page 1 -->
# Guide

## Install

Run the installer and accept the licence to install the kangaroo toolkit.

<!-- page 2 -->
## Upgrade

Upgrading keeps your settings; restart the service afterwards.
"""


# -- fakes -------------------------------------------------------------------------------------------------------------
class FakeStarter:
    """Step Functions' StartExecution as the trigger sees it; ARNs derived like StepFunctionsStarter's."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, dict[str, Any]]] = []

    def execution_arn(self, name: str) -> str:
        return StepFunctionsStarter(None, STATE_MACHINE_ARN).execution_arn(name)

    def start(self, name: str, input: dict[str, Any]) -> str:
        self.starts.append((name, input))
        return self.execution_arn(name)


class FakeTokens:
    def __init__(self, waiting: bool = True) -> None:
        self.waiting = waiting
        self.succeeded: list[tuple[str, dict[str, Any]]] = []
        self.failed: list[tuple[str, str, str]] = []

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        self.succeeded.append((token, output))
        return self.waiting

    def fail(self, token: str, error: str, cause: str) -> bool:
        self.failed.append((token, error, cause))
        return self.waiting


class FakeTextract:
    def __init__(self, markdown: str = "<!-- page 1 -->\n# Scan\n\nScanned words.\n", pages: int = 1) -> None:
        self.result: tuple[str, int] | Exception = (markdown, pages)
        self.started: list[dict[str, str]] = []

    def start(self, bucket: str, key: str, *, job_tag: str, client_request_token: str) -> str:
        self.started.append({"bucket": bucket, "key": key, "job_tag": job_tag, "token": client_request_token})
        return f"job-{len(self.started)}"

    def markdown(self, job_id: str) -> tuple[str, int]:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


# -- fixtures and helpers ----------------------------------------------------------------------------------------------
@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KnowledgeWorld]:
    with knowledge_world(monkeypatch, tmp_path) as arranged:
        yield arranged


@pytest.fixture
def starter() -> FakeStarter:
    return FakeStarter()


@pytest.fixture
def pipeline(world: KnowledgeWorld, starter: FakeStarter) -> Pipeline:
    return world.pipeline(starter=starter)


def s3_event(
    key: str,
    size: int,
    *,
    sequencer: str = "0066F1A2B3C4D5E6F7",
    etag: str = "d41d8cd98f00b204e9800998ecf8427e",
    event_name: str = "ObjectCreated:Put",
) -> str:
    """An IngestQueue message body as S3 sends it (the key URL-encoded, as in every S3 event notification)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": "2025-03-01T12:00:05.123Z",
                    "eventName": event_name,
                    "userIdentity": {"principalId": "AWS:AROAEXAMPLE:genai-knowledge"},
                    "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                    "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8x"},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "uploads",
                        "bucket": {
                            "name": BUCKET,
                            "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                            "arn": f"arn:aws:s3:::{BUCKET}",
                        },
                        "object": {
                            "key": quote_plus(key, safe="/"),
                            "size": size,
                            "eTag": etag,
                            "sequencer": sequencer,
                        },
                    },
                }
            ]
        }
    )


def upload_of(document: Document) -> str:
    return keys.upload_key(document.app_id, document.collection_id, document.document_id)


def status(world: KnowledgeWorld, document: Document) -> views.DocumentView:
    """The document as GET /v1/documents/{id} shows it."""
    return views.document_view(world.service().get_document(document.app_id, document.document_id))


def set_step(world: KnowledgeWorld, document: Document, step: str) -> None:
    """What the state machine's Mark<Step> states do before a step runs."""
    world.dynamodb.update_item(
        TableName=world.table,
        Key={"pk": {"S": f"APP#{document.app_id}"}, "sk": {"S": f"DOCUMENT#{document.document_id}"}},
        UpdateExpression="SET #step = :step",
        ExpressionAttributeNames={"#step": "step"},
        ExpressionAttributeValues={":step": {"S": step}},
    )


def write_content(world: KnowledgeWorld, document: Document, markdown: str) -> None:
    key = keys.content_key(document.app_id, document.collection_id, document.document_id)
    world.files.write(key, markdown.encode(), "text/markdown; charset=utf-8")


def chunked(world: KnowledgeWorld, pipeline: Pipeline, markdown: str) -> tuple[Collection, Document, dict[str, Any]]:
    """A document whose content.md is written and chunked: what the Map's index steps start from."""
    collection = world.collection(APP)
    document = world.register(collection, markdown.encode(), metadata={"team": "ops"})
    write_content(world, document, markdown)
    ref = execution_input(document, collection)
    pipeline.chunk(ref)
    return collection, document, ref


# -- trigger -----------------------------------------------------------------------------------------------------------
def test_an_upload_queues_the_document_and_starts_one_execution(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter
) -> None:
    # GIVEN a registered document whose bytes were uploaded
    collection = world.collection(APP, chunking={"strategy": "recursive", "size_tokens": 256, "overlap_tokens": 32})
    document = world.register(collection, GUIDE.encode(), metadata={"lang": "en"})
    assert world.raw_item(APP, document.document_id) is not None
    # WHEN S3's event for the upload arrives
    [outcome] = pipeline.on_s3_event(s3_event(upload_of(document), len(GUIDE)))
    # THEN one execution starts, named after the object's version, with everything the steps need
    assert outcome.action == "started" and outcome.document_id == document.document_id
    [(name, execution)] = starter.starts
    assert name.startswith(document.document_id + "-") and len(name) <= 80
    assert outcome.execution_arn == starter.execution_arn(name)
    assert execution == {
        "app_id": APP,
        "collection_id": collection.collection_id,
        "document_id": document.document_id,
        "bucket": BUCKET,
        "key": upload_of(document),
        "content_type": "text/markdown",
        "size_bytes": len(GUIDE),
        "extraction": "auto",
        "embedding_model": MODEL,
        "chunking": {"strategy": "recursive", "size_tokens": 256, "overlap_tokens": 32},
        "metadata": {"lang": "en"},
    }
    # AND the document shows QUEUED with its execution, and no longer expires as an abandoned registration
    shown = status(world, document)
    assert (shown.status, shown.execution_arn) == ("QUEUED", outcome.execution_arn)
    item = world.raw_item(APP, document.document_id)
    assert item is not None and "expires_at" not in item


def test_a_redelivered_event_starts_nothing_new(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an upload whose event was handled once
    document = world.register(world.collection(APP), GUIDE.encode())
    body = s3_event(upload_of(document), len(GUIDE))
    [first] = pipeline.on_s3_event(body)
    queued = world.service().get_document(APP, document.document_id)
    marks: list[str] = []
    mark_queued = world.repository.mark_queued

    def counted(app_id: str, document_id: str, execution_arn: str, now: str) -> bool:
        marks.append(document_id)
        return mark_queued(app_id, document_id, execution_arn, now)

    monkeypatch.setattr(world.repository, "mark_queued", counted)
    # WHEN SQS delivers the same event again
    [again] = pipeline.on_s3_event(body)
    # THEN it is a duplicate: the record is not queued again, and the start repeats the same execution name (which
    # Step Functions answers with the existing execution)
    assert (again.action, again.execution_arn) == ("duplicate", first.execution_arn)
    assert marks == []
    assert [name for name, _ in starter.starts] == [starter.starts[0][0]] * 2
    assert world.service().get_document(APP, document.document_id) == queued


def test_a_reupload_starts_a_new_execution(world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter) -> None:
    document = world.register(world.collection(APP), GUIDE.encode())
    [first] = pipeline.on_s3_event(s3_event(upload_of(document), len(GUIDE), sequencer="0066F1A2B3C4D5E6F7"))
    # WHEN the same key is uploaded again (S3 gives the new object a later sequencer)
    [second] = pipeline.on_s3_event(s3_event(upload_of(document), len(GUIDE), sequencer="0066F1A2B3C4D5E700"))
    # THEN a second execution starts under another name, and the document points at it
    assert second.action == "started"
    assert len({name for name, _ in starter.starts}) == 2
    assert second.execution_arn != first.execution_arn
    assert status(world, document).execution_arn == second.execution_arn


def test_s3s_test_event_is_ignored(pipeline: Pipeline, starter: FakeStarter) -> None:
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2025-03-01T12:00:00.000Z",
            "Bucket": BUCKET,
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
        }
    )
    assert pipeline.on_s3_event(body) == []
    assert starter.starts == []


@pytest.mark.parametrize(
    ("key_of", "event_name"),
    [
        (lambda d: keys.content_key(d.app_id, d.collection_id, d.document_id), "ObjectCreated:Put"),
        (lambda d: f"uploads/{d.app_id}/{d.collection_id}/{d.document_id}/other", "ObjectCreated:Put"),
        (lambda d: upload_of(d), "ObjectRemoved:Delete"),
    ],
    ids=["content.md", "not the source object", "removal"],
)
def test_objects_that_are_not_uploads_are_left_alone(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter, key_of: Any, event_name: str
) -> None:
    document = world.register(world.collection(APP), GUIDE.encode())
    key = key_of(document)
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    [outcome] = pipeline.on_s3_event(s3_event(key, 1, event_name=event_name))
    assert outcome.action == "ignored"
    assert starter.starts == []
    assert world.keys(key) == [key]
    assert status(world, document).status == "PENDING_UPLOAD"


def test_an_upload_of_an_unknown_document_is_deleted(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter
) -> None:
    # GIVEN bytes under an upload key whose document was deleted (or never registered)
    collection = world.collection(APP)
    key = keys.upload_key(APP, collection.collection_id, "doc_unknown")
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"stray")
    # WHEN their event arrives
    [outcome] = pipeline.on_s3_event(s3_event(key, 5))
    # THEN nothing starts and the bytes are removed
    assert (outcome.action, outcome.document_id) == ("ignored", "doc_unknown")
    assert starter.starts == []
    assert world.keys("uploads/") == []


def test_an_upload_into_another_collection_than_registered_is_deleted(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter
) -> None:
    document = world.register(world.collection(APP), GUIDE.encode())
    other = world.collection(APP, "other")
    key = keys.upload_key(APP, other.collection_id, document.document_id)
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=GUIDE.encode())
    [outcome] = pipeline.on_s3_event(s3_event(key, len(GUIDE)))
    assert outcome.action == "ignored" and starter.starts == []
    assert world.keys(key) == []
    assert status(world, document).status == "PENDING_UPLOAD"


@pytest.mark.parametrize(
    ("declared", "uploaded"),
    [(100, 99), (100, 101), (MAX_BYTES, MAX_BYTES + 5)],
    ids=["smaller", "larger", "above the limit"],
)
def test_an_upload_of_another_size_than_declared_fails_the_document(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter, declared: int, uploaded: int
) -> None:
    # GIVEN a document registered with one size
    collection = world.collection(APP)
    document = world.register(collection, b"x" * declared)
    # WHEN the upload's event reports another
    [outcome] = pipeline.on_s3_event(s3_event(upload_of(document), uploaded))
    # THEN the document FAILED at the upload, saying both sizes, and nothing started
    assert outcome.action == "failed"
    shown = status(world, document)
    assert shown.status == "FAILED" and shown.failure is not None
    assert (shown.failure.step, shown.failure.error) == ("upload", "UploadRejected")
    assert str(uploaded) in shown.failure.message
    assert str(min(declared, MAX_BYTES)) in shown.failure.message
    assert starter.starts == []
    # AND the bytes are removed
    assert world.keys(upload_of(document)) == []


# -- chunk -------------------------------------------------------------------------------------------------------------
def test_chunking_writes_batch_files_and_reports_them(world: KnowledgeWorld, pipeline: Pipeline) -> None:
    # GIVEN a document's content.md of many sections
    collection = world.collection(APP, chunking={"strategy": "layout", "size_tokens": 64, "overlap_tokens": 0})
    document = world.register(collection)
    markdown = "\n\n".join(f"# Part {i}\n\nText of part {i}." for i in range(70))
    write_content(world, document, markdown)
    # WHEN it is chunked
    result = pipeline.chunk(execution_input(document, collection))
    # THEN the count and the batch numbers come back, one file per batch of 64 chunks, in order
    assert result == {"count": 70, "batches": [0, 1]}
    prefix = keys.document_prefix(APP, collection.collection_id, document.document_id) + "chunks/"
    assert world.keys(prefix) == [prefix + "00000.json", prefix + "00001.json"]
    first, second = (world.files.read_json(key) for key in world.keys(prefix))
    assert [row["index"] for row in first + second] == list(range(70))
    assert first[0]["heading_path"] == ["Part 0"] and first[0]["pages"] == [1]
    assert set(first[0]) == {"id", "index", "text", "pages", "heading_path", "start", "end", "token_count"}
    # WHEN a shorter version is chunked again
    write_content(world, document, "# Part 0\n\nShort now.")
    assert pipeline.chunk(execution_input(document, collection)) == {"count": 1, "batches": [0]}
    # THEN the earlier version's extra batch file is gone
    assert world.keys(prefix) == [prefix + "00000.json"]


@pytest.mark.parametrize("markdown", ["", "  \n\n\t\n", "<!-- page 1 -->\n<!-- page 2 -->\n"])
def test_a_document_without_text_is_unreadable(world: KnowledgeWorld, pipeline: Pipeline, markdown: str) -> None:
    collection = world.collection(APP)
    document = world.register(collection)
    write_content(world, document, markdown)
    with pytest.raises(DocumentUnreadable, match="no text"):
        pipeline.chunk(execution_input(document, collection))


# -- index -------------------------------------------------------------------------------------------------------------
def test_a_batch_is_embedded_with_its_headings_and_becomes_searchable(
    world: KnowledgeWorld, pipeline: Pipeline
) -> None:
    # GIVEN a chunked document
    collection, document, ref = chunked(world, pipeline, GUIDE)
    # WHEN its batch is indexed
    result = pipeline.index_batch(batch_input(ref, 0))
    # THEN each chunk was embedded with its heading path before its text, in one call
    [(app_id, model, texts)] = world.embedder.calls
    assert (app_id, model) == (APP, MODEL)
    install = next(t for t in texts if "kangaroo toolkit" in t)
    assert install.startswith("Guide > Install\n\n")
    assert result == {"indexed": len(texts)}
    # AND a search finds the chunk, with its page and the document's metadata
    found = world.service().search(APP, [collection.collection_id], "kangaroo toolkit", 3, "hybrid", None)
    best = views.hit_view(found[0])
    assert best.document_id == document.document_id and best.page == 1
    assert best.metadata == {"team": "ops"}
    assert "kangaroo toolkit" in best.text and not best.text.startswith("Guide > Install")


THROTTLED: list[GenAIError] = [
    RateLimited("the app's tokens per minute are used up", retry_after_seconds=20),
    ServiceUnavailable("every target of the model is cooling down", retry_after_seconds=5),
    UpstreamError("Bedrock failed after retries"),
]
REFUSED: list[GenAIError] = [
    InvalidRequest("input is too long for the model"),
    NotFound("no model 'embed-small'"),
    PermissionDenied("the app may not use 'embed-small'"),
]


@pytest.mark.parametrize(
    ("error", "named"),
    [(e, EmbeddingThrottled) for e in THROTTLED] + [(e, EmbeddingFailed) for e in REFUSED],
    ids=[type(e).__name__ for e in THROTTLED + REFUSED],
)
def test_gateway_errors_become_the_errors_the_state_machine_retries_or_fails_on(
    world: KnowledgeWorld, pipeline: Pipeline, error: GenAIError, named: type[Exception]
) -> None:
    collection, _, ref = chunked(world, pipeline, GUIDE)
    world.embedder.error = error
    with pytest.raises(named) as raised:
        pipeline.index_batch(batch_input(ref, 0))
    assert type(raised.value) is named  # matched by class name in the ASL: a subclass would not do
    assert error.message in str(raised.value) and MODEL in str(raised.value)
    with pytest.raises(IndexNotFound):  # nothing was written
        world.store.count(collection.collection_id)


def test_a_document_deleted_while_indexing_takes_back_what_was_written(
    world: KnowledgeWorld, pipeline: Pipeline
) -> None:
    # GIVEN a chunked document, with another document already indexed in the collection
    collection, document, ref = chunked(world, pipeline, GUIDE)
    kept = world.ingest(collection, "# Other\n\nAnother document entirely.")
    # AND the document's record deleted while its batch was being embedded
    world.repository.delete_document(APP, document.document_id)
    # WHEN the batch is indexed
    with pytest.raises(DocumentGone):
        pipeline.index_batch(batch_input(ref, 0))
    # THEN none of its chunks stay in the index; the other document's do
    assert world.store.count(collection.collection_id) == kept.chunks
    assert world.service().search(APP, [collection.collection_id], "kangaroo toolkit", 5, "lexical", None) == []


def test_a_batch_of_a_deleted_collection_writes_nothing(world: KnowledgeWorld, pipeline: Pipeline) -> None:
    collection, _, ref = chunked(world, pipeline, GUIDE)
    world.repository.delete_collection(APP, collection.collection_id)
    with pytest.raises(DocumentGone):
        pipeline.index_batch(batch_input(ref, 0))
    assert world.embedder.calls == []
    with pytest.raises(IndexNotFound):
        world.store.count(collection.collection_id)


def test_clear_removes_an_earlier_versions_chunks(world: KnowledgeWorld, pipeline: Pipeline) -> None:
    # GIVEN an indexed document
    collection, _, ref = chunked(world, pipeline, GUIDE)
    indexed = pipeline.index_batch(batch_input(ref, 0))["indexed"]
    # WHEN the ClearOldChunks state runs for its next version
    result = pipeline.clear({**ref, "clear": True})
    # THEN its chunks are out of the index
    assert result == {"removed": indexed}
    assert world.store.count(collection.collection_id) == 0
    # AND clearing a collection that has no index yet removes nothing
    fresh = world.collection(APP, "fresh")
    other = world.register(fresh)
    assert pipeline.clear({**execution_input(other, fresh), "clear": True}) == {"removed": 0}


# -- failure -----------------------------------------------------------------------------------------------------------
def test_a_lambda_error_is_recorded_by_its_message_without_the_stack_trace(
    world: KnowledgeWorld, pipeline: Pipeline
) -> None:
    # GIVEN a document whose chunk step raised (the record says which step was running)
    collection = world.collection(APP)
    document = world.register(collection)
    set_step(world, document, "chunk")
    cause = json.dumps(
        {
            "errorMessage": "no text was found in the document",
            "errorType": "DocumentUnreadable",
            "requestId": "5f6e1a3c-0000-4000-8000-000000000000",
            "stackTrace": ['  File "/var/task/app.py", line 57, in chunk\n    result = get_pipeline().chunk(event)\n'],
        }
    )
    state = {**execution_input(document, collection), "failure": {"Error": "DocumentUnreadable", "Cause": cause}}
    # WHEN RecordFailure runs with the caught error
    result = pipeline.record_failure(state)
    # THEN the document is FAILED at that step with the error's name and message only
    assert result == {"error": "DocumentUnreadable", "message": "no text was found in the document"}
    shown = status(world, document)
    assert shown.status == "FAILED" and shown.failure is not None
    assert shown.failure.model_dump() == {
        "step": "chunk",
        "error": "DocumentUnreadable",
        "message": "no text was found in the document",
    }
    assert shown.step is None


def test_a_plain_text_cause_is_recorded_truncated(world: KnowledgeWorld, pipeline: Pipeline) -> None:
    collection = world.collection(APP)
    document = world.register(collection)
    cause = "The Map state failed: " + "x" * 3000
    state = {**execution_input(document, collection), "failure": {"Error": "States.ExceedToleratedFailureThreshold"}}
    state["failure"]["Cause"] = cause
    pipeline.record_failure(state)
    shown = status(world, document)
    assert shown.failure is not None
    assert shown.failure.message == cause[:MAX_CAUSE_CHARS]
    assert (shown.failure.step, shown.failure.error) == ("unknown", "States.ExceedToleratedFailureThreshold")


def test_a_failure_without_a_cause_shows_the_errors_name(world: KnowledgeWorld, pipeline: Pipeline) -> None:
    collection = world.collection(APP)
    document = world.register(collection)
    set_step(world, document, "index")
    pipeline.record_failure({**execution_input(document, collection), "failure": {"Error": "States.Timeout"}})
    shown = status(world, document)
    assert shown.failure is not None
    assert shown.failure.model_dump() == {"step": "index", "error": "States.Timeout", "message": "States.Timeout"}


def test_the_failure_of_a_deleted_document_creates_no_record(world: KnowledgeWorld, pipeline: Pipeline) -> None:
    collection = world.collection(APP)
    document = world.register(collection)
    world.service().delete_document(APP, document.document_id)
    failure = {"Error": "DynamoDB.ConditionalCheckFailedException", "Cause": "The conditional request failed"}
    pipeline.record_failure({**execution_input(document, collection), "failure": failure})
    assert world.raw_item(APP, document.document_id) is None


# -- Textract ----------------------------------------------------------------------------------------------------------
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAeXAMPLEtaskTOKEN"
# What a Mark<Step> state's Catch passes on when the document's record is gone.
GONE = {"Error": "DynamoDB.ConditionalCheckFailedException", "Cause": "The conditional request failed"}


def started_textract(world: KnowledgeWorld, textract: FakeTextract, tokens: FakeTokens) -> tuple[Pipeline, Document]:
    """A scanned document whose Textract job was started by the extract function (the Textract state's task)."""
    pipeline = world.pipeline(textract=textract, tokens=tokens)
    collection = world.collection(APP, extraction="textract")
    document = world.register(collection, b"%PDF-1.7 scanned")
    answer = pipeline.start_textract({**execution_input(document, collection), "task_token": TASK_TOKEN})
    assert answer == {"job_id": "job-1"}
    return pipeline, document


def test_starting_textract_parks_the_task_token_with_an_idempotent_request(world: KnowledgeWorld) -> None:
    textract = FakeTextract()
    _, document = started_textract(world, textract, FakeTokens())
    job = world.repository.get_textract_job("job-1")
    assert job == TextractJob(
        job_id="job-1",
        task_token=TASK_TOKEN,
        app_id=APP,
        document_id=document.document_id,
        collection_id=document.collection_id,
        content_key=keys.content_key(APP, document.collection_id, document.document_id),
    )
    [started] = textract.started
    assert (started["bucket"], started["key"], started["job_tag"]) == (
        BUCKET,
        upload_of(document),
        document.document_id,
    )
    # A retried invocation with the same task token asks Textract with the same request token (no second job).
    assert started["token"] == hashlib.sha256(TASK_TOKEN.encode()).hexdigest()[:64]


def test_a_completion_for_an_unknown_job_is_retried_later(world: KnowledgeWorld) -> None:
    pipeline = world.pipeline(textract=FakeTextract(), tokens=FakeTokens())
    with pytest.raises(TextractJobUnknown, match="job-404"):
        pipeline.on_textract_completion("job-404")


def test_a_finished_job_writes_the_content_and_resumes_the_execution(world: KnowledgeWorld) -> None:
    # GIVEN a started Textract job
    textract, tokens = FakeTextract("<!-- page 1 -->\n# Scan\n\nScanned words.\n", 3), FakeTokens()
    pipeline, document = started_textract(world, textract, tokens)
    # WHEN its completion arrives
    outcome = pipeline.on_textract_completion("job-1")
    # THEN content.md holds the markdown and the execution resumes with what extraction returns
    content_key = keys.content_key(APP, document.collection_id, document.document_id)
    assert outcome == "succeeded"
    assert world.files.read(content_key).decode() == "<!-- page 1 -->\n# Scan\n\nScanned words.\n"
    assert tokens.succeeded == [
        (TASK_TOKEN, {"textract": True, "method": "textract", "pages": 3, "content_key": content_key})
    ]
    assert tokens.failed == []
    # AND the job is forgotten
    assert world.repository.get_textract_job("job-1") is None


def test_a_failed_job_fails_the_execution_with_textracts_reason(world: KnowledgeWorld) -> None:
    textract, tokens = FakeTextract(), FakeTokens()
    pipeline, document = started_textract(world, textract, tokens)
    textract.result = RuntimeError("Textract could not read the document: UNSUPPORTED_DOCUMENT")
    assert pipeline.on_textract_completion("job-1") == "failed"
    assert tokens.failed == [
        (TASK_TOKEN, "TextractFailed", "Textract could not read the document: UNSUPPORTED_DOCUMENT")
    ]
    assert tokens.succeeded == []
    assert world.keys(keys.document_prefix(APP, document.collection_id, document.document_id)) == []
    assert world.repository.get_textract_job("job-1") is None


def test_a_completion_after_the_execution_stopped_waiting_is_expired(world: KnowledgeWorld) -> None:
    pipeline, _ = started_textract(world, FakeTextract(), FakeTokens(waiting=False))
    assert pipeline.on_textract_completion("job-1") == "expired"
    assert world.repository.get_textract_job("job-1") is None


def test_a_completion_for_a_deleted_document_leaves_no_content_behind(world: KnowledgeWorld) -> None:
    # GIVEN a document deleted by its owner while Textract was analysing it
    tokens = FakeTokens()
    pipeline, document = started_textract(world, FakeTextract(), tokens)
    world.service().delete_document(APP, document.document_id)
    collection = world.service().get_collection(APP, document.collection_id)
    # WHEN the job's completion arrives, and the execution ends as it does for a deleted document: its next state
    # (MarkChunking) fails on its condition and RecordFailure runs
    pipeline.on_textract_completion("job-1")
    pipeline.record_failure({**execution_input(document, collection), "failure": GONE})
    # THEN none of the document's bytes are kept
    assert world.keys(keys.document_prefix(APP, document.collection_id, document.document_id)) == []
    assert world.keys(f"documents/{APP}/") == []


# -- Step Functions adapters -------------------------------------------------------------------------------------------
@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "stepfunctions", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_the_starter_returns_the_new_executions_arn(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    arn = "arn:aws:states:us-east-1:123456789012:execution:genai-test-ingest:doc_1-abc"
    stubber.add_response(
        "start_execution",
        {"executionArn": arn, "startDate": "2025-03-01T12:00:00Z"},
        {"stateMachineArn": STATE_MACHINE_ARN, "name": "doc_1-abc", "input": json.dumps({"document_id": "doc_1"})},
    )
    assert StepFunctionsStarter(client, STATE_MACHINE_ARN).start("doc_1-abc", {"document_id": "doc_1"}) == arn


def test_the_starter_answers_an_existing_execution_with_its_arn(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_client_error("start_execution", "ExecutionAlreadyExists", "Execution Already Exists: 'doc_1-abc'", 400)
    starter = StepFunctionsStarter(client, STATE_MACHINE_ARN)
    arn = starter.start("doc_1-abc", {})
    assert arn == "arn:aws:states:us-east-1:123456789012:execution:genai-test-ingest:doc_1-abc"
    assert arn == starter.execution_arn("doc_1-abc")


def test_the_starter_raises_other_errors(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_client_error("start_execution", "ExecutionLimitExceeded", "too many executions", 400)
    with pytest.raises(ClientError, match="ExecutionLimitExceeded"):
        StepFunctionsStarter(client, STATE_MACHINE_ARN).start("doc_1-abc", {})


def test_the_tokens_send_success_with_the_output(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_response("send_task_success", {}, {"taskToken": "t1", "output": json.dumps({"pages": 2})})
    assert StepFunctionsTokens(client).succeed("t1", {"pages": 2}) is True


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_the_tokens_report_an_execution_that_no_longer_waits(sfn: tuple[Any, Stubber], code: str) -> None:
    client, stubber = sfn
    stubber.add_client_error("send_task_success", code, "no longer waiting", 400)
    stubber.add_client_error("send_task_failure", code, "no longer waiting", 400)
    tokens = StepFunctionsTokens(client)
    assert tokens.succeed("t1", {}) is False
    assert tokens.fail("t1", "TextractFailed", "bad scan") is False


def test_the_tokens_send_failure_within_step_functions_limits(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_response("send_task_failure", {}, {"taskToken": "t1", "error": "E" * 256, "cause": "c" * 32768})
    assert StepFunctionsTokens(client).fail("t1", "E" * 300, "c" * 40000) is True


def test_the_tokens_raise_other_errors(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_client_error("send_task_success", "ThrottlingException", "slow down", 400)
    with pytest.raises(ClientError, match="ThrottlingException"):
        StepFunctionsTokens(client).succeed("t1", {})


def test_metadata_reaches_the_execution_with_its_types(
    world: KnowledgeWorld, pipeline: Pipeline, starter: FakeStarter
) -> None:
    # GIVEN a document registered with metadata of every supported type (stored in DynamoDB as numbers and BOOLs)
    metadata = {"lang": "en", "year": 2024, "score": 0.25, "draft": False}
    document = world.register(world.collection(APP), GUIDE.encode(), metadata=metadata)
    # WHEN its upload starts the execution
    pipeline.on_s3_event(s3_event(upload_of(document), len(GUIDE)))
    # THEN the chunks will carry the same values, of the same types (filters match by type)
    [(_, execution)] = starter.starts
    assert execution["metadata"] == metadata
    assert [type(v) for v in execution["metadata"].values()] == [str, int, float, bool]


def test_a_collection_deleted_while_a_batch_is_embedded_leaves_no_index(
    world: KnowledgeWorld, pipeline: Pipeline
) -> None:
    # GIVEN a chunked document whose collection its owner deletes while the batch is being embedded
    collection, _, ref = chunked(world, pipeline, GUIDE)
    embed = world.embedder.embed

    def embed_while_deleted(app_id: str, model: str, texts: list[str]) -> list[list[float]]:
        world.service().delete_collection(APP, collection.collection_id)
        return embed(app_id, model, texts)

    world.embedder.embed = embed_while_deleted  # type: ignore[method-assign]
    # WHEN the batch finishes, and the Map's Catch sends the execution to RecordFailure
    with pytest.raises(DocumentGone) as gone:
        pipeline.index_batch(batch_input(ref, 0))
    pipeline.record_failure({**ref, "failure": {"Error": "DocumentGone", "Cause": str(gone.value)}})
    # THEN the collection has no index, as after any delete
    with pytest.raises(IndexNotFound):
        world.store.count(collection.collection_id)
