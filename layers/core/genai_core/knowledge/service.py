"""Knowledge: collections, document registration (presigned upload), status, content, chunks, deletes and search.

The pipeline that turns an upload into indexed chunks is `genai_core.knowledge.pipeline`; this module is what the
API and the gateway's retrieval call. Every operation takes the caller's app id and reaches only that app's data.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Protocol

from pydantic import Field

from genai_core import aws
from genai_core.config import Settings, load_area_settings
from genai_core.errors import InvalidRequest, NotFound
from genai_core.knowledge import files as keys
from genai_core.knowledge.chunking import ChunkingConfig
from genai_core.knowledge.files import DocumentFiles, S3DocumentFiles
from genai_core.knowledge.models import (
    Collection,
    CreateCollectionRequest,
    CreateDocumentRequest,
    Document,
    SearchMode,
)
from genai_core.knowledge.repository import DynamoKnowledgeRepository, KnowledgeRepository
from genai_core.knowledge.vectorstores.base import Filter, Hit, IndexNotFound, VectorStore, hybrid_search
from genai_core.pagination import decode_token, encode_token

CHUNK_BATCH = 64  # chunks per batch file: one embeddings call and one bulk write each
# Tokens a chunk's heading path may add to what is embedded (pipeline._embedding_text caps the path to fit).
HEADING_ALLOWANCE = 48
PENDING_UPLOAD_DAYS = 7  # a registration whose upload never arrives is forgotten after this


class KnowledgeSettings(Settings):
    documents_table: str = Field(alias="DOCUMENTS_TABLE", min_length=1)
    documents_bucket: str = Field(alias="DOCUMENTS_BUCKET", min_length=1)
    default_embedding_model: str = Field(alias="DEFAULT_EMBEDDING_MODEL", min_length=1)
    max_document_bytes: int = Field(default=50 * 1024 * 1024, alias="MAX_DOCUMENT_BYTES", gt=0)
    upload_url_seconds: int = Field(default=900, alias="UPLOAD_URL_SECONDS", ge=60, le=7 * 24 * 3600)
    # One of the two: an OpenSearch endpoint (AWS), or the embedded store's file (the offline runtime).
    vector_store_endpoint: str = Field(default="", alias="VECTOR_STORE_ENDPOINT")
    vector_store_path: str = Field(default="", alias="VECTOR_STORE_PATH")


class Embedder(Protocol):
    def check_model(self, app_id: str, model: str) -> int:
        """The most tokens `model` embeds at once; InvalidRequest when it is not an embeddings alias of this app."""
        ...

    def embed(self, app_id: str, model: str, texts: list[str]) -> list[list[float]]:
        """One vector per text, through the gateway (limits apply and the call is recorded as usage)."""
        ...


class GatewayEmbedder:
    """Embeddings through the model gateway in-process: same catalogue, limits, usage records and fallbacks."""

    def __init__(self, gateway: Callable[[], Any] | None = None) -> None:
        self._gateway = gateway  # the GatewayService factory; default: the function's own

    def gateway(self) -> Any:
        if self._gateway is not None:
            return self._gateway()
        from genai_core.gateway.service import get_gateway_service

        return get_gateway_service()

    def check_model(self, app_id: str, model: str) -> int:
        try:
            entry = self.gateway().model(app_id, model)
        except NotFound:  # a body field that names nothing: the request is wrong, not the URL
            raise InvalidRequest(
                f"embedding_model {model!r} is not a model this app may use; GET /v1/models lists them",
                code="model_not_found",
                param="embedding_model",
            ) from None
        if entry.kind != "embeddings":
            raise InvalidRequest(
                f"{model!r} is a {entry.kind} model; embedding_model must name an embeddings model",
                code="model_not_supported",
                param="embedding_model",
            )
        window: int = entry.context_window
        return window

    def embed(self, app_id: str, model: str, texts: list[str]) -> list[list[float]]:
        from genai_core.gateway.models import EmbeddingsRequest
        from genai_core.gateway.service import CallContext

        context = CallContext(app_id=app_id, request_id=str(uuid.uuid4()))
        outcome = self.gateway().embed(context, EmbeddingsRequest(model=model, input=texts))
        vectors: list[list[float]] = outcome.result.vectors
        return vectors


@dataclass(frozen=True)
class Upload:
    url: str
    method: str
    headers: dict[str, str]
    expires_at: str


@dataclass(frozen=True)
class Listing:
    items: list[Any]
    next_token: str | None


@dataclass(frozen=True)
class Content:
    markdown: str | None  # inline when small enough for one response
    download_url: str | None  # else a short-lived URL


@dataclass(frozen=True)
class SourcedHit:
    """A hit with the collection it came from and its document's file name (citations show both)."""

    collection_id: str
    filename: str | None
    hit: Hit


MAX_INLINE_CONTENT = 4 * 1024 * 1024  # below Lambda's 6 MB response, leaving room for the JSON escaping


def _now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class KnowledgeService:
    def __init__(
        self,
        repository: KnowledgeRepository,
        files: DocumentFiles,
        vector_store: Callable[[], VectorStore],
        embedder: Embedder,
        settings: KnowledgeSettings,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.repository = repository
        self.files = files
        self.vector_store = vector_store
        self.embedder = embedder
        self.settings = settings
        self.clock = clock

    # -- collections ---------------------------------------------------------------------------------------------
    def create_collection(self, app_id: str, request: CreateCollectionRequest) -> Collection:
        model = request.embedding_model or self.settings.default_embedding_model
        window = self.embedder.check_model(app_id, model)
        chunking = _chunking_for(request, model, window)
        collection = Collection(
            app_id=app_id,
            collection_id=f"col_{uuid.uuid4().hex}",
            name=request.name,
            description=request.description,
            embedding_model=model,
            chunking=chunking,
            extraction=request.extraction,
            created_at=iso(self.clock()),
        )
        self.repository.create_collection(collection)
        return collection

    def get_collection(self, app_id: str, collection_id: str) -> Collection:
        collection = self.repository.get_collection(app_id, collection_id)
        if collection is None:
            raise NotFound(f"no collection {collection_id!r}", code="collection_not_found", param="collection_id")
        return collection

    def list_collections(self, app_id: str, limit: int, next_token: str | None) -> Listing:
        page = self.repository.list_collections(app_id, limit, decode_token(next_token))
        return Listing(page.items, encode_token(page.next_key))

    def delete_collection(self, app_id: str, collection_id: str) -> None:
        """The collection, its index, its documents' records and files. The record goes first, so a pipeline still
        running for one of its documents finds it gone and writes nothing more."""
        self.get_collection(app_id, collection_id)
        self.repository.delete_collection(app_id, collection_id)
        self.vector_store().drop_index(collection_id)
        self.files.delete_prefixes([f"uploads/{app_id}/{collection_id}/", f"documents/{app_id}/{collection_id}/"])
        for document_id in list(self.repository.document_ids(app_id, collection_id)):
            self.repository.delete_document(app_id, document_id)

    # -- documents -----------------------------------------------------------------------------------------------
    def register_document(
        self, app_id: str, collection_id: str, request: CreateDocumentRequest
    ) -> tuple[Document, Upload]:
        """A PENDING_UPLOAD record and a presigned PUT that only takes a body of the declared type and size."""
        self.get_collection(app_id, collection_id)
        limit = self.settings.max_document_bytes
        if request.size_bytes > limit:
            raise InvalidRequest(
                f"size_bytes is {request.size_bytes}; documents may be at most {limit} bytes",
                code="document_too_large",
                param="size_bytes",
            )
        now = self.clock()
        document = Document(
            app_id=app_id,
            document_id=f"doc_{uuid.uuid4().hex}",
            collection_id=collection_id,
            filename=request.filename,
            content_type=request.content_type,
            size_bytes=request.size_bytes,
            metadata=request.metadata,
            status="PENDING_UPLOAD",
            created_at=iso(now),
            updated_at=iso(now),
        )
        expires = int((now + timedelta(days=PENDING_UPLOAD_DAYS)).timestamp())
        self.repository.create_document(document, expires)
        seconds = self.settings.upload_url_seconds
        url = self.files.presign_upload(
            keys.upload_key(app_id, collection_id, document.document_id),
            request.content_type,
            request.size_bytes,
            seconds,
        )
        headers = {"Content-Type": request.content_type, "Content-Length": str(request.size_bytes)}
        return document, Upload(url, "PUT", headers, iso(now + timedelta(seconds=seconds)))

    def get_document(self, app_id: str, document_id: str) -> Document:
        document = self.repository.get_document(app_id, document_id)
        if document is None:
            raise NotFound(f"no document {document_id!r}", code="document_not_found", param="document_id")
        return document

    def list_documents(self, app_id: str, collection_id: str, limit: int, next_token: str | None) -> Listing:
        self.get_collection(app_id, collection_id)
        page = self.repository.list_documents(app_id, collection_id, limit, decode_token(next_token))
        return Listing(page.items, encode_token(page.next_key))

    def content(self, app_id: str, document_id: str) -> tuple[Document, Content]:
        document = self._ready(app_id, document_id, "content")
        key = keys.content_key(app_id, document.collection_id, document_id)
        info = self.files.head(key)
        if info is None:
            raise NotFound(f"document {document_id!r} has no extracted content", code="content_not_found")
        if info.size <= MAX_INLINE_CONTENT:
            return document, Content(self.files.read(key).decode("utf-8"), None)
        return document, Content(None, self.files.presign_download(key, 300))

    def chunks(self, app_id: str, document_id: str, limit: int, next_token: str | None) -> tuple[Document, Listing]:
        """The document's chunks in order, `limit` at a time, read from the batches the pipeline wrote."""
        document = self._ready(app_id, document_id, "chunks")
        token = decode_token(next_token) or {"index": 0}
        start = token.get("index")
        total = document.chunks or 0
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= total:
            raise InvalidRequest("next_token is not a token this API issued", param="next_token")
        end = min(start + limit, total)
        items: list[dict[str, Any]] = []
        for batch in range(start // CHUNK_BATCH, (end - 1) // CHUNK_BATCH + 1 if end > start else 0):
            rows = self.files.read_json(keys.batch_key(app_id, document.collection_id, document_id, batch))
            items.extend(row for row in rows if start <= row["index"] < end)
        return document, Listing(items, encode_token({"index": end}) if end < total else None)

    def delete_document(self, app_id: str, document_id: str) -> None:
        """Its chunks in the index, its files and its record; the record last, so a failure can be retried."""
        document = self.get_document(app_id, document_id)
        with contextlib.suppress(IndexNotFound):
            self.vector_store().delete_document(document.collection_id, document_id)
        self.files.delete_prefixes(
            [
                keys.upload_key(app_id, document.collection_id, document_id),
                keys.document_prefix(app_id, document.collection_id, document_id),
            ]
        )
        self.repository.delete_document(app_id, document_id)

    def _ready(self, app_id: str, document_id: str, what: str) -> Document:
        document = self.get_document(app_id, document_id)
        if document.status != "READY":
            raise NotFound(
                f"document {document_id!r} is {document.status}; its {what} can be read once it is READY",
                code="document_not_ready",
            )
        return document

    # -- search --------------------------------------------------------------------------------------------------
    def search(
        self,
        app_id: str,
        collection_ids: Sequence[str],
        query: str,
        k: int,
        mode: SearchMode,
        raw_filter: dict[str, Any] | None,
    ) -> list[SourcedHit]:
        """The k best chunks across the app's collections. Collections sharing an embedding model share one
        query embedding; results of several collections are merged by score within a mode."""
        try:
            where = Filter.parse(raw_filter)
        except ValueError as exc:
            raise InvalidRequest(str(exc), code="invalid_filter", param="filter") from None
        collections = [self.get_collection(app_id, cid) for cid in dict.fromkeys(collection_ids)]
        vectors: dict[str, list[float]] = {}
        if mode != "lexical":
            for model in dict.fromkeys(c.embedding_model for c in collections):
                vectors[model] = self.embedder.embed(app_id, model, [query])[0]
        store = self.vector_store()
        found: list[tuple[str, Hit]] = []
        for collection in collections:
            cid = collection.collection_id
            try:
                if mode == "lexical":
                    hits = store.search_lexical(cid, query, k, where)
                elif mode == "vector":
                    hits = store.search_vector(cid, vectors[collection.embedding_model], k, where)
                else:
                    hits = hybrid_search(store, cid, query, vectors[collection.embedding_model], k, where)
            except IndexNotFound:  # nothing indexed yet
                hits = []
            found.extend((cid, hit) for hit in hits)
        found.sort(key=lambda pair: -pair[1].score)
        best = found[:k]
        names = self._filenames(app_id, {hit.document_id for _, hit in best})
        return [SourcedHit(cid, names.get(hit.document_id), hit) for cid, hit in best]

    def _filenames(self, app_id: str, document_ids: set[str]) -> dict[str, str]:
        names = {}
        for document_id in document_ids:
            document = self.repository.get_document(app_id, document_id)
            if document is not None:
                names[document_id] = document.filename
        return names


def _chunking_for(request: CreateCollectionRequest, model: str, window: int) -> ChunkingConfig:
    """Chunks the embedding model takes whole: the default size shrinks to the model's input limit, and a size asked
    for beyond it is refused (the model would cut the chunk, or the gateway refuse it)."""
    room = window - HEADING_ALLOWANCE
    asked = request.chunking.model_fields_set
    if "size_tokens" not in asked:
        size = max(32, min(request.chunking.size_tokens, room))
        overlap = request.chunking.overlap_tokens if "overlap_tokens" in asked else min(64, size // 8)
        if overlap >= size:
            raise InvalidRequest(
                f"chunking.overlap_tokens is {overlap}, but chunks for {model!r} hold {size} tokens; use less",
                code="invalid_chunking",
                param="chunking.overlap_tokens",
            )
        return request.chunking.model_copy(update={"size_tokens": size, "overlap_tokens": overlap})
    if request.chunking.size_tokens > room:
        raise InvalidRequest(
            f"chunking.size_tokens is {request.chunking.size_tokens}, but {model!r} embeds at most {window} tokens "
            f"at once; use at most {max(room, 32)} (chunks carry up to {HEADING_ALLOWANCE} tokens of headings)",
            code="chunk_too_large",
            param="chunking.size_tokens",
        )
    return request.chunking


def vector_store_from(settings: KnowledgeSettings) -> VectorStore:
    """OpenSearch when an endpoint is configured, else the embedded store's file; neither is a setup error."""
    if settings.vector_store_endpoint:
        from genai_core.knowledge.vectorstores.opensearch import connect

        return connect(settings.vector_store_endpoint, settings.region)
    if settings.vector_store_path:
        from genai_core.knowledge.vectorstores.sqlite import SqliteVectorStore

        return SqliteVectorStore(settings.vector_store_path)
    from genai_core.config import ConfigurationError

    raise ConfigurationError(
        "no vector store is configured: deploy with VectorStoreMode=serverless, or give VectorStoreEndpoint"
    )


@lru_cache(maxsize=1)
def get_knowledge_settings() -> KnowledgeSettings:
    return load_area_settings(KnowledgeSettings)


@cache
def get_vector_store() -> VectorStore:
    return vector_store_from(get_knowledge_settings())


@lru_cache(maxsize=1)
def get_document_files() -> S3DocumentFiles:
    return S3DocumentFiles(aws.client("s3"), aws.s3_presigner(), get_knowledge_settings().documents_bucket)


@lru_cache(maxsize=1)
def get_knowledge_service() -> KnowledgeService:
    settings = get_knowledge_settings()
    return KnowledgeService(
        DynamoKnowledgeRepository(aws.client("dynamodb"), settings.documents_table),
        get_document_files(),
        get_vector_store,
        GatewayEmbedder(),
        settings,
    )
