"""The JSON shapes the knowledge API returns, as models: the routes' response schemas in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from genai_core.knowledge.chunking import ChunkingConfig
from genai_core.knowledge.models import STEPS, Collection, Document, Extraction, Status
from genai_core.knowledge.service import Listing, SourcedHit, Upload


class CollectionView(BaseModel):
    id: str
    name: str
    description: str | None
    embedding_model: str
    chunking: ChunkingConfig
    extraction: Extraction
    created_at: str


class CollectionListing(BaseModel):
    data: list[CollectionView]
    next_token: str | None


class Failure(BaseModel):
    step: str = Field(description="upload | extract | chunk | index | unknown")
    error: str = Field(description="The error's name, e.g. DocumentUnreadable, EmbeddingFailed, States.Timeout")
    message: str = Field(description="What went wrong, in words")


class Timings(BaseModel):
    """Milliseconds per step, from when each step started to when the next one did (or the run ended)."""

    extract_ms: int | None = None
    chunk_ms: int | None = None
    index_ms: int | None = None
    total_ms: int | None = None


class DocumentView(BaseModel):
    id: str
    collection_id: str
    filename: str
    content_type: str
    size_bytes: int
    metadata: dict[str, Any]
    status: Status
    step: str | None = Field(description="The step running now (extract, chunk, index) while the status is one")
    failure: Failure | None
    pages: int | None
    chunks: int | None
    extraction_method: str | None = Field(description="pypdf, textract, html, docx, text or markdown")
    timings: Timings
    execution_arn: str | None = Field(description="The Step Functions execution that ingested this version")
    created_at: str
    updated_at: str


class UploadView(BaseModel):
    url: str
    method: str
    headers: dict[str, str] = Field(description="Send exactly these headers with the upload")
    expires_at: str


class RegisteredDocument(DocumentView):
    upload: UploadView


class DocumentListing(BaseModel):
    data: list[DocumentView]
    next_token: str | None


class ChunkView(BaseModel):
    id: str
    index: int
    text: str
    pages: list[int]
    heading_path: list[str]
    start: int
    end: int
    token_count: int


class ChunkListing(BaseModel):
    document_id: str
    data: list[ChunkView]
    next_token: str | None


class HitView(BaseModel):
    chunk_id: str
    document_id: str
    collection_id: str
    filename: str | None
    text: str
    score: float
    page: int | None = Field(description="The first page the chunk is on")
    pages: list[int]
    heading_path: list[str]
    metadata: dict[str, Any]


class SearchResults(BaseModel):
    mode: str
    data: list[HitView]


def collection_view(collection: Collection) -> CollectionView:
    return CollectionView(
        id=collection.collection_id,
        name=collection.name,
        description=collection.description,
        embedding_model=collection.embedding_model,
        chunking=collection.chunking,
        extraction=collection.extraction,
        created_at=collection.created_at,
    )


def collections_view(listing: Listing) -> CollectionListing:
    return CollectionListing(data=[collection_view(c) for c in listing.items], next_token=listing.next_token)


def _ms(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
    return max(0, round(delta.total_seconds() * 1000))


def timings_of(document: Document) -> Timings:
    """A step ends where the next one started, or where the run finished (READY or FAILED)."""
    started = document.started
    values: dict[str, int | None] = {}
    for i, step in enumerate(STEPS):
        end = next((started[later] for later in STEPS[i + 1 :] if later in started), document.finished_at)
        values[f"{step}_ms"] = _ms(started.get(step), end)
    values["total_ms"] = _ms(started.get("extract"), document.finished_at)
    return Timings(**values)


def document_view(document: Document) -> DocumentView:
    failure = None
    if document.status == "FAILED":
        failure = Failure(
            step=document.failed_step or "unknown",
            error=document.error or "Unknown",
            message=document.cause or document.error or "",
        )
    return DocumentView(
        id=document.document_id,
        collection_id=document.collection_id,
        filename=document.filename,
        content_type=document.content_type,
        size_bytes=document.size_bytes,
        metadata=document.metadata,
        status=document.status,
        step=document.step if document.status not in {"READY", "FAILED"} else None,
        failure=failure,
        pages=document.pages,
        chunks=document.chunks,
        extraction_method=document.method,
        timings=timings_of(document),
        execution_arn=document.execution_arn,
        created_at=document.created_at,
        updated_at=document.updated_at,
    )


def registered_view(document: Document, upload: Upload) -> RegisteredDocument:
    return RegisteredDocument(
        **document_view(document).model_dump(),
        upload=UploadView(url=upload.url, method=upload.method, headers=upload.headers, expires_at=upload.expires_at),
    )


def documents_view(listing: Listing) -> DocumentListing:
    return DocumentListing(data=[document_view(d) for d in listing.items], next_token=listing.next_token)


def chunks_view(document: Document, listing: Listing) -> ChunkListing:
    return ChunkListing(
        document_id=document.document_id,
        data=[ChunkView.model_validate(row) for row in listing.items],
        next_token=listing.next_token,
    )


def hit_view(found: SourcedHit) -> HitView:
    hit = found.hit
    return HitView(
        chunk_id=hit.chunk_id,
        document_id=hit.document_id,
        collection_id=found.collection_id,
        filename=found.filename,
        text=hit.text,
        score=hit.score,
        page=hit.pages[0] if hit.pages else None,
        pages=list(hit.pages),
        heading_path=list(hit.heading_path),
        metadata=dict(hit.metadata),
    )
