"""The ingestion pipeline's steps (statemachines/ingest.asl.json): trigger, extract, Textract, chunk, index, failure.

Each step takes the execution's state as input, returns a small plain dict, and raises a named error so the state
machine can `Retry` what is transient (`EmbeddingThrottled`, `VectorStoreBusy`) and `Catch` the rest into a FAILED
record whose `error` is the error's name and whose `message` says what went wrong.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from genai_core.config import load_area_settings
from genai_core.errors import GenAIError, InvalidRequest, NotFound, PermissionDenied
from genai_core.knowledge import files as keys
from genai_core.knowledge.chunking import ChunkingConfig, chunk_document
from genai_core.knowledge.files import DocumentFiles
from genai_core.knowledge.models import Collection, Document, Extraction
from genai_core.knowledge.repository import KnowledgeRepository, TextractJob
from genai_core.knowledge.service import CHUNK_BATCH, Embedder, KnowledgeSettings, iso
from genai_core.knowledge.vectorstores.base import IndexedChunk, IndexNotFound, VectorStore

log = logging.getLogger(__name__)

MAX_CAUSE_CHARS = 2000
TEXTRACT_JOB_TTL_SECONDS = 2 * 24 * 3600


# -- named errors (the state machine matches them by class name) ---------------------------------------------------
class IngestError(Exception):
    """A step failed; the message is what the document's status shows."""


class UploadMissing(IngestError):
    pass


class DocumentTooLarge(IngestError):
    pass


class DocumentUnreadable(IngestError):
    pass


class DocumentGone(IngestError):
    """The document or its collection was deleted while the pipeline ran: nothing more is written."""


class TextractJobUnknown(IngestError):
    """A completion arrived before its job was recorded (or long after): SQS delivers it again later."""


class EmbeddingThrottled(IngestError):
    """The gateway refused or failed for now (limits, provider throttling, outage): retried with backoff."""


class EmbeddingFailed(IngestError):
    """The gateway refused the batch for good (unknown model, not allowed, invalid input)."""


class VectorStoreBusy(IngestError):
    """The vector store throttled or was unreachable: retried with backoff."""


# -- inputs ----------------------------------------------------------------------------------------------------------
class DocumentRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    app_id: str
    collection_id: str
    document_id: str


class ExecutionInput(DocumentRef):
    """What the trigger starts an execution with (and every step sees)."""

    bucket: str
    key: str
    content_type: str
    size_bytes: int
    extraction: Extraction
    embedding_model: str
    chunking: ChunkingConfig
    metadata: dict[str, Any] = {}


class BatchInput(DocumentRef):
    embedding_model: str
    batch: int
    metadata: dict[str, Any] = {}


class Starter(Protocol):
    def start(self, name: str, input: dict[str, Any]) -> str:
        """Start an execution named `name`; its ARN. An execution of that name that exists already is not an error:
        its ARN is returned (re-delivered events must not start a second one)."""
        ...

    def execution_arn(self, name: str) -> str: ...


class TaskTokens(Protocol):
    def succeed(self, token: str, output: dict[str, Any]) -> bool: ...

    def fail(self, token: str, error: str, cause: str) -> bool: ...


class TextractJobs(Protocol):
    def start(self, bucket: str, key: str, *, job_tag: str, client_request_token: str) -> str: ...

    def markdown(self, job_id: str) -> tuple[str, int]: ...


@dataclass(frozen=True)
class TriggerOutcome:
    key: str
    action: str  # started | duplicate | failed | ignored
    document_id: str | None = None
    execution_arn: str | None = None


def execution_name(document_id: str, bucket: str, key: str, version: str) -> str:
    """One name per uploaded object version: a re-delivered event maps to the execution it started before."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()[:24]
    return f"{document_id}-{digest}"[:80]


def message_of(cause: str | None) -> str:
    """The readable part of a Step Functions failure cause: a Lambda error's message, never its stack trace."""
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:MAX_CAUSE_CHARS]
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])[:MAX_CAUSE_CHARS]
    return cause[:MAX_CAUSE_CHARS]


class Pipeline:
    def __init__(
        self,
        repository: KnowledgeRepository,
        files: DocumentFiles,
        settings: KnowledgeSettings,
        *,
        vector_store: Callable[[], VectorStore] | None = None,
        embedder: Embedder | None = None,
        starter: Starter | None = None,
        textract: TextractJobs | None = None,
        tokens: TaskTokens | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self.files = files
        self.settings = settings
        self._vector_store = vector_store
        self._embedder = embedder
        self._starter = starter
        self._textract = textract
        self._tokens = tokens
        self.clock = clock

    # -- trigger -------------------------------------------------------------------------------------------------
    def on_s3_event(self, body: str) -> list[TriggerOutcome]:
        """An SQS message from the documents bucket: start one execution per uploaded document version."""
        event = json.loads(body)
        if event.get("Event") == "s3:TestEvent":  # S3 posts one when the notification is configured
            return []
        return [self._on_upload(record) for record in event.get("Records", [])]

    def _on_upload(self, record: dict[str, Any]) -> TriggerOutcome:
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        key = unquote_plus(s3["object"]["key"])
        owner = keys.parse_upload_key(key)
        if owner is None or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            log.info("ignoring %s of %s", record.get("eventName"), key)
            return TriggerOutcome(key, "ignored")
        app_id, collection_id, document_id = owner
        document = self.repository.get_document(app_id, document_id)
        collection = self.repository.get_collection(app_id, collection_id)
        if document is None or collection is None or document.collection_id != collection_id:
            # Deleted (or never registered) before its upload was seen: nothing may keep its bytes.
            self.files.delete(key)
            return TriggerOutcome(key, "ignored", document_id)
        size = int(s3["object"].get("size", 0))
        problem = self._upload_problem(document, size)
        if problem:
            self.repository.record_failure(app_id, document_id, "UploadRejected", problem, iso(self.clock()), "upload")
            self.files.delete(key)
            return TriggerOutcome(key, "failed", document_id)
        version = s3["object"].get("versionId") or s3["object"].get("sequencer") or s3["object"].get("eTag", "")
        assert self._starter is not None
        name = execution_name(document_id, bucket, key, version)
        arn = self._starter.execution_arn(name)
        if document.execution_arn == arn:
            action = "duplicate"  # queued by an earlier delivery; starting again is a no-op if that one started it
        else:
            action = "started"
            if not self.repository.mark_queued(app_id, document_id, arn, iso(self.clock())):
                return TriggerOutcome(key, "ignored", document_id)
        self._starter.start(name, self._execution_input(document, collection, bucket, key, size))
        return TriggerOutcome(key, action, document_id, arn)

    def _upload_problem(self, document: Document, size: int) -> str | None:
        limit = self.settings.max_document_bytes
        if size > limit:
            return f"the upload is {size} bytes; documents may be at most {limit} bytes"
        if size != document.size_bytes:
            return f"the upload is {size} bytes but {document.size_bytes} were declared at registration"
        return None

    @staticmethod
    def _execution_input(
        document: Document, collection: Collection, bucket: str, key: str, size: int
    ) -> dict[str, Any]:
        return ExecutionInput(
            app_id=document.app_id,
            collection_id=document.collection_id,
            document_id=document.document_id,
            bucket=bucket,
            key=key,
            content_type=document.content_type,
            size_bytes=size,
            extraction=collection.extraction,
            embedding_model=collection.embedding_model,
            chunking=collection.chunking,
            metadata=document.metadata,
        ).model_dump(mode="json")

    # -- extract -------------------------------------------------------------------------------------------------
    def extract(self, event: dict[str, Any]) -> dict[str, Any]:
        """Local extraction into content.md, or `{"textract": true}` for the Textract path."""
        from genai_core.knowledge.extraction import ExtractionError, extract_local, needs_textract

        task = ExecutionInput.model_validate(event)
        info = self.files.head(task.key)
        if info is None:
            raise UploadMissing("the uploaded file is gone (deleted, or expired before it was processed)")
        if info.size > self.settings.max_document_bytes:
            raise DocumentTooLarge(
                f"the upload is {info.size} bytes; documents may be at most {self.settings.max_document_bytes}"
            )
        data = self.files.read(task.key)  # images too: their signature is checked before Textract is paid for
        try:
            if needs_textract(task.content_type, data, task.extraction):
                return {"textract": True}
            extracted = extract_local(task.content_type, data)
        except ExtractionError as exc:
            raise DocumentUnreadable(str(exc)) from None
        key = keys.content_key(task.app_id, task.collection_id, task.document_id)
        self.files.write(key, extracted.markdown.encode("utf-8"), "text/markdown; charset=utf-8")
        return {"textract": False, "method": extracted.method, "pages": extracted.pages, "content_key": key}

    def start_textract(self, event: dict[str, Any]) -> dict[str, Any]:
        """Start the Textract job and park the task token with it; the completion resumes the execution."""
        task = ExecutionInput.model_validate(event)
        token = str(event["task_token"])
        assert self._textract is not None
        from genai_core.knowledge.extraction.textract import TextractError

        request_token = hashlib.sha256(token.encode()).hexdigest()[:64]
        try:
            job_id = self._textract.start(
                task.bucket, task.key, job_tag=task.document_id[:64], client_request_token=request_token
            )
        except TextractError as exc:  # the document itself: unsupported, damaged, too large for Textract
            raise DocumentUnreadable(str(exc)) from None
        content_key = keys.content_key(task.app_id, task.collection_id, task.document_id)
        expires = int(time.time()) + TEXTRACT_JOB_TTL_SECONDS
        job = TextractJob(job_id, token, task.app_id, task.document_id, task.collection_id, content_key)
        self.repository.put_textract_job(job, expires)
        return {"job_id": job_id}

    def on_textract_completion(self, job_id: str) -> str:
        """Turn a finished job into content.md and resume its execution, or fail it with Textract's reason."""
        job = self.repository.get_textract_job(job_id)
        if job is None:
            raise TextractJobUnknown(f"no execution waits for Textract job {job_id}")
        assert self._textract is not None and self._tokens is not None
        if self.repository.get_document(job.app_id, job.document_id) is None:
            # Deleted while Textract read it: write nothing (no later step would remove it) and end the execution.
            sent = self._tokens.fail(job.task_token, "DocumentGone", "the document was deleted while Textract read it")
            self.repository.delete_textract_job(job_id)
            return "gone" if sent else "expired"
        try:
            markdown, pages = self._textract.markdown(job_id)  # raises with Textract's message if the job failed
        except Exception as exc:
            sent = self._tokens.fail(job.task_token, "TextractFailed", str(exc) or type(exc).__name__)
            outcome = "failed"
        else:
            self.files.write(job.content_key, markdown.encode("utf-8"), "text/markdown; charset=utf-8")
            output = {"textract": True, "method": "textract", "pages": pages, "content_key": job.content_key}
            sent = self._tokens.succeed(job.task_token, output)
            outcome = "succeeded"
        self.repository.delete_textract_job(job_id)
        return outcome if sent else "expired"

    # -- chunk ---------------------------------------------------------------------------------------------------
    def chunk(self, event: dict[str, Any]) -> dict[str, Any]:
        """Chunk content.md into batch files of CHUNK_BATCH chunks; the Map embeds and indexes one batch each."""
        task = ExecutionInput.model_validate(event)
        content = self.files.read(keys.content_key(task.app_id, task.collection_id, task.document_id))
        chunks = chunk_document(task.document_id, content.decode("utf-8"), task.chunking, metadata=task.metadata)
        if not chunks:
            raise DocumentUnreadable("no text was found in the document")
        prefix = keys.document_prefix(task.app_id, task.collection_id, task.document_id) + "chunks/"
        self.files.delete_prefixes([prefix])  # a previous version's batches
        batches = 0
        for batch, start in enumerate(range(0, len(chunks), CHUNK_BATCH)):
            rows = [
                {
                    "id": c.id,
                    "index": c.index,
                    "text": c.text,
                    "pages": list(c.pages),
                    "heading_path": list(c.heading_path),
                    "start": c.start,
                    "end": c.end,
                    "token_count": c.token_count,
                }
                for c in chunks[start : start + CHUNK_BATCH]
            ]
            self.files.write_json(keys.batch_key(task.app_id, task.collection_id, task.document_id, batch), rows)
            batches += 1
        return {"count": len(chunks), "batches": list(range(batches))}

    # -- index ---------------------------------------------------------------------------------------------------
    def clear(self, event: dict[str, Any]) -> dict[str, Any]:
        """Remove the chunks an earlier version of the document left in the index."""
        task = DocumentRef.model_validate(event)
        try:
            removed = self._store_call(lambda store: store.delete_document(task.collection_id, task.document_id))
        except IndexNotFound:
            removed = 0
        return {"removed": removed}

    def index_batch(self, event: dict[str, Any]) -> dict[str, Any]:
        """Embed one batch through the gateway and write it to the collection's index."""
        task = BatchInput.model_validate(event)
        if self.repository.get_collection(task.app_id, task.collection_id) is None:
            raise DocumentGone("the collection was deleted while the document was being indexed")
        rows = self.files.read_json(keys.batch_key(task.app_id, task.collection_id, task.document_id, task.batch))
        vectors = self._embed(task.app_id, task.embedding_model, [_embedding_text(row) for row in rows])
        chunks = [
            IndexedChunk(
                id=row["id"],
                document_id=task.document_id,
                text=row["text"],
                vector=vector,
                pages=tuple(row["pages"]),
                heading_path=tuple(row["heading_path"]),
                metadata=task.metadata,
            )
            for row, vector in zip(rows, vectors, strict=True)
        ]
        self._store_call(lambda store: store.create_index(task.collection_id, len(vectors[0]), "cosine"))
        self._store_call(lambda store: store.upsert(task.collection_id, chunks))
        if self.repository.get_document(task.app_id, task.document_id) is None:
            # Deleted meanwhile: take back what this batch wrote, so nothing is orphaned. If the collection went too,
            # create_index above may have re-created its index after the delete dropped it: drop it again.
            if self.repository.get_collection(task.app_id, task.collection_id) is None:
                self._store_call(lambda store: store.drop_index(task.collection_id))
            else:
                self._store_call(lambda store: store.delete_document(task.collection_id, task.document_id))
            raise DocumentGone("the document was deleted while it was being indexed")
        return {"indexed": len(chunks)}

    def _embed(self, app_id: str, model: str, texts: list[str]) -> list[list[float]]:
        assert self._embedder is not None
        try:
            return self._embedder.embed(app_id, model, texts)
        except (InvalidRequest, NotFound, PermissionDenied) as exc:
            raise EmbeddingFailed(f"the embedding model {model!r} refused the batch: {exc.message}") from None
        except GenAIError as exc:  # limits (429), cool-downs (503), provider failures (502): later may work
            raise EmbeddingThrottled(f"embedding with {model!r} failed for now: {exc.message}") from None

    def _store_call(self, call: Callable[[VectorStore], Any]) -> Any:
        assert self._vector_store is not None
        try:
            return call(self._vector_store())
        except (IndexNotFound, ValueError):
            raise
        except Exception as exc:
            if _is_transient(exc):
                raise VectorStoreBusy(f"the vector store is unavailable for now: {exc}") from None
            raise

    # -- failure -------------------------------------------------------------------------------------------------
    def record_failure(self, event: dict[str, Any]) -> dict[str, Any]:
        """FAILED with the error's name, its readable message and the step that was running."""
        failure = event.get("failure") or {}
        error = str(failure.get("Error") or "Unknown")
        message = message_of(failure.get("Cause")) or error
        self.repository.record_failure(
            str(event["app_id"]), str(event["document_id"]), error, message, iso(self.clock())
        )
        return {"error": error, "message": message}


MAX_HEADING_CHARS = 160  # ~40 tokens: within HEADING_ALLOWANCE, which collections leave free of chunk text


def _embedding_text(row: dict[str, Any]) -> str:
    """A chunk's text with its heading path: the section a passage sits in is part of what it is about. The path
    is cut from the top (the nearest headings say most) to stay within the room collections leave for it."""
    path = " > ".join(row.get("heading_path") or [])
    if len(path) > MAX_HEADING_CHARS:
        path = "… " + path[-MAX_HEADING_CHARS:]
    return f"{path}\n\n{row['text']}" if path else str(row["text"])


def _is_transient(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in {429, 502, 503, 504}
    name = type(exc).__name__
    return name in {"ConnectionError", "ConnectionTimeout", "TransportError", "BusyError"}


# -- AWS adapters ---------------------------------------------------------------------------------------------------
class StepFunctionsStarter:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def start(self, name: str, input: dict[str, Any]) -> str:
        try:
            answer = self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(input)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return self.execution_arn(name)
            raise
        return str(answer["executionArn"])


class StepFunctionsTokens:
    """SendTaskSuccess/Failure; False when the execution no longer waits (timed out, stopped, token unknown)."""

    _GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}

    def __init__(self, client: Any) -> None:
        self.client = client

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._send(lambda: self.client.send_task_success(taskToken=token, output=json.dumps(output)))

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._send(
            lambda: self.client.send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])
        )

    def _send(self, call: Callable[[], Any]) -> bool:
        try:
            call()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in self._GONE:
                return False
            raise
        return True


class PipelineSettings(KnowledgeSettings):
    state_machine_arn: str = Field(default="", alias="INGEST_STATE_MACHINE_ARN")
    textract_topic_arn: str = Field(default="", alias="TEXTRACT_TOPIC_ARN")
    textract_role_arn: str = Field(default="", alias="TEXTRACT_ROLE_ARN")


class TextractAdapter:
    """StartDocumentAnalysis (LAYOUT + TABLES, completion to the SNS topic) and its results as markdown."""

    def __init__(self, client: Callable[[], Any], topic_arn: str, role_arn: str) -> None:
        self.client = client  # created on first use: only two of the pipeline's functions call Textract
        self.topic_arn = topic_arn
        self.role_arn = role_arn

    @property
    def analysis(self) -> Any:
        from genai_core.knowledge.extraction.textract import TextractAnalysis

        return TextractAnalysis(self.client())

    def start(self, bucket: str, key: str, *, job_tag: str, client_request_token: str) -> str:
        return self.analysis.start(
            bucket,
            key,
            sns_topic_arn=self.topic_arn,
            role_arn=self.role_arn,
            job_tag=job_tag,
            client_request_token=client_request_token,
        )

    def markdown(self, job_id: str) -> tuple[str, int]:
        from genai_core.knowledge.extraction.textract import blocks_to_markdown

        document = blocks_to_markdown(self.analysis.blocks(job_id))
        return document.markdown, document.pages


@lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    from genai_core import aws
    from genai_core.knowledge.repository import DynamoKnowledgeRepository
    from genai_core.knowledge.service import GatewayEmbedder, get_document_files, get_vector_store

    settings = load_area_settings(PipelineSettings)
    return Pipeline(
        DynamoKnowledgeRepository(aws.client("dynamodb"), settings.documents_table),
        get_document_files(),
        settings,
        vector_store=get_vector_store,
        embedder=GatewayEmbedder(),
        starter=StepFunctionsStarter(aws.client("stepfunctions"), settings.state_machine_arn),
        textract=TextractAdapter(
            lambda: aws.client("textract"), settings.textract_topic_arn, settings.textract_role_arn
        ),
        tokens=StepFunctionsTokens(aws.client("stepfunctions")),
    )
