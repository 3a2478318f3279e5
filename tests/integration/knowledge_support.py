"""Scaffolding shared by the knowledge tests: the documents table (from template.yaml) and bucket on moto, the real
repository and files adapters, the embedded vector store, and a deterministic fake embedder."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from genai_core.errors import GenAIError, InvalidRequest
from genai_core.knowledge import files as keys
from genai_core.knowledge.files import S3DocumentFiles
from genai_core.knowledge.models import Collection, CreateCollectionRequest, CreateDocumentRequest, Document
from genai_core.knowledge.pipeline import Pipeline, PipelineSettings, Starter, TaskTokens, TextractJobs
from genai_core.knowledge.repository import DynamoKnowledgeRepository
from genai_core.knowledge.service import KnowledgeService, iso
from genai_core.knowledge.vectorstores.sqlite import SqliteVectorStore
from tests.conftest import use_mocked_aws
from tests.integration.conftest import create_from_template

REGION = "us-east-1"
BUCKET = "genai-test-docs"
MODEL = "embed-small"
DIMS = 64
MAX_BYTES = 1_000_000
APP_A, APP_B = "app-a", "app-b"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def bag_of_words(text: str) -> list[float]:
    """A unit vector counting hashed words: texts sharing words are near, unrelated texts are not."""
    vector = [0.0] * DIMS
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if not norm:
        vector[0] = 1.0
        return vector
    return [x / norm for x in vector]


class FakeEmbedder:
    """The gateway as the knowledge code sees it: records every call; `error` makes the next calls raise it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []
        self.checked: list[tuple[str, str]] = []
        self.error: GenAIError | None = None
        self.refused_models: set[str] = set()
        self.window = 8192  # the most tokens the model embeds at once

    def check_model(self, app_id: str, model: str) -> int:
        self.checked.append((app_id, model))
        if model in self.refused_models:
            raise InvalidRequest(f"{model!r} is not an embeddings model", code="model_not_supported")
        return self.window

    def embed(self, app_id: str, model: str, texts: list[str]) -> list[list[float]]:
        self.calls.append((app_id, model, list(texts)))
        if self.error is not None:
            raise self.error
        return [bag_of_words(text) for text in texts]


class Clock:
    """A clock that moves one second per reading, so records made one after another sort by time."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class KnowledgeWorld:
    dynamodb: Any
    s3: Any
    table: str
    repository: DynamoKnowledgeRepository
    files: S3DocumentFiles
    store: SqliteVectorStore
    embedder: FakeEmbedder
    settings: PipelineSettings
    clock: Clock

    def service(self) -> KnowledgeService:
        return KnowledgeService(
            self.repository, self.files, lambda: self.store, self.embedder, self.settings, clock=self.clock
        )

    def pipeline(
        self,
        *,
        starter: Starter | None = None,
        textract: TextractJobs | None = None,
        tokens: TaskTokens | None = None,
    ) -> Pipeline:
        return Pipeline(
            self.repository,
            self.files,
            self.settings,
            vector_store=lambda: self.store,
            embedder=self.embedder,
            starter=starter,
            textract=textract,
            tokens=tokens,
            clock=self.clock,
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`."""
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def raw_item(self, app_id: str, document_id: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"APP#{app_id}"}, "sk": {"S": f"DOCUMENT#{document_id}"}}
        item: dict[str, Any] | None = self.dynamodb.get_item(TableName=self.table, Key=key).get("Item")
        return item

    # -- arranging documents the way the pipeline leaves them ----------------------------------------------------
    def collection(self, app_id: str = APP_A, name: str = "handbook", **fields: Any) -> Collection:
        return self.service().create_collection(app_id, CreateCollectionRequest(name=name, **fields))

    def register(
        self,
        collection: Collection,
        body: bytes = b"# Notes\n\nSome text.",
        *,
        filename: str = "notes.md",
        metadata: dict[str, Any] | None = None,
        upload: bool = True,
    ) -> Document:
        """A registered document, its bytes uploaded (as the client's PUT would) unless `upload` is False."""
        request = CreateDocumentRequest(
            filename=filename, content_type="text/markdown", size_bytes=len(body), metadata=metadata or {}
        )
        document, _ = self.service().register_document(collection.app_id, collection.collection_id, request)
        if upload:
            key = keys.upload_key(collection.app_id, collection.collection_id, document.document_id)
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/markdown")
        return document

    def ingest(
        self,
        collection: Collection,
        markdown: str,
        *,
        filename: str = "notes.md",
        metadata: dict[str, Any] | None = None,
    ) -> Document:
        """A READY document: uploaded, its content.md written (as extraction would), chunked and indexed by the
        pipeline's own steps, then marked READY as the state machine's MarkReady state does."""
        document = self.register(collection, markdown.encode(), filename=filename, metadata=metadata)
        ref = execution_input(document, collection)
        self.files.write(
            keys.content_key(document.app_id, document.collection_id, document.document_id),
            markdown.encode(),
            "text/markdown; charset=utf-8",
        )
        pipeline = self.pipeline()
        chunked = pipeline.chunk(ref)
        pipeline.clear({**ref, "clear": True})
        for batch in chunked["batches"]:
            pipeline.index_batch(batch_input(ref, batch))
        pages = markdown.count("<!-- page ") or 1
        self.mark_ready(document, chunks=chunked["count"], pages=pages)
        ready = self.repository.get_document(document.app_id, document.document_id)
        assert ready is not None
        return ready

    def mark_ready(self, document: Document, *, chunks: int, pages: int, method: str = "markdown") -> None:
        now = iso(self.clock())
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"APP#{document.app_id}"}, "sk": {"S": f"DOCUMENT#{document.document_id}"}},
            UpdateExpression=(
                "SET #status = :status, pages = :pages, chunks = :chunks, #method = :method, finished_at = :now, "
                "updated_at = :now, gsi2pk = :gsi2pk REMOVE #step"
            ),
            ExpressionAttributeNames={"#status": "status", "#method": "method", "#step": "step"},
            ExpressionAttributeValues={
                ":status": {"S": "READY"},
                ":pages": {"N": str(pages)},
                ":chunks": {"N": str(chunks)},
                ":method": {"S": method},
                ":now": {"S": now},
                ":gsi2pk": {"S": "STATUS#READY"},
            },
        )


def execution_input(document: Document, collection: Collection) -> dict[str, Any]:
    """What the trigger starts an execution with (every step of the state machine sees it)."""
    return {
        "app_id": document.app_id,
        "collection_id": document.collection_id,
        "document_id": document.document_id,
        "bucket": BUCKET,
        "key": keys.upload_key(document.app_id, document.collection_id, document.document_id),
        "content_type": document.content_type,
        "size_bytes": document.size_bytes,
        "extraction": collection.extraction,
        "embedding_model": collection.embedding_model,
        "chunking": collection.chunking.model_dump(),
        "metadata": document.metadata,
    }


def batch_input(ref: dict[str, Any], batch: int) -> dict[str, Any]:
    """What the IndexBatches Map's ItemSelector sends for one batch."""
    fields = ("app_id", "collection_id", "document_id", "embedding_model", "metadata")
    return {**{name: ref[name] for name in fields}, "batch": batch}


def settings(table: str, **extra: str) -> PipelineSettings:
    return PipelineSettings.model_validate(
        {
            "STAGE": "test",
            "AWS_REGION": REGION,
            "DOCUMENTS_TABLE": table,
            "DOCUMENTS_BUCKET": BUCKET,
            "DEFAULT_EMBEDDING_MODEL": MODEL,
            "MAX_DOCUMENT_BYTES": str(MAX_BYTES),
            **extra,
        }
    )


@contextmanager
def knowledge_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KnowledgeWorld]:
    use_mocked_aws(monkeypatch, REGION)
    with mock_aws():
        table = create_from_template("DocumentsTable", region=REGION)["DocumentsTable"]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        presigner = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
        store = SqliteVectorStore(tmp_path / "vectors.db")
        try:
            yield KnowledgeWorld(
                dynamodb=dynamodb,
                s3=s3,
                table=table,
                repository=DynamoKnowledgeRepository(dynamodb, table),
                files=S3DocumentFiles(s3, presigner, BUCKET),
                store=store,
                embedder=FakeEmbedder(),
                settings=settings(table),
                clock=Clock(),
            )
        finally:
            store.close()
