"""KnowledgeService on moto: the documents table from template.yaml, an S3 bucket, the embedded vector store and a
fake embedder. READY documents are arranged by the pipeline's own chunk and index steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from genai_core.errors import InvalidRequest, NotFound
from genai_core.knowledge import files as keys
from genai_core.knowledge import views
from genai_core.knowledge.chunking import ChunkingConfig
from genai_core.knowledge.models import Collection, CreateDocumentRequest, Document
from genai_core.knowledge.service import CHUNK_BATCH, HEADING_ALLOWANCE, KnowledgeService, iso
from genai_core.knowledge.vectorstores.base import IndexNotFound
from genai_core.pagination import encode_token
from tests.integration.knowledge_support import (
    APP_A,
    APP_B,
    MAX_BYTES,
    MODEL,
    KnowledgeWorld,
    knowledge_world,
)

WILDLIFE = """<!-- page 1 -->
# Wildlife

## Kangaroos

Kangaroos live in the grasslands of Australia and carry their young in a pouch.

<!-- page 2 -->
## Penguins

Penguins huddle together on the Antarctic ice to survive the winter.
"""

BAKING = """# Kitchen

## Bread

Knead the dough and let it rise overnight before baking the bread.
"""


def many_sections(n: int) -> str:
    return "\n\n".join(f"# Section {i}\n\nParagraph number {i} talks about topic {i} at some length." for i in range(n))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KnowledgeWorld]:
    with knowledge_world(monkeypatch, tmp_path) as arranged:
        yield arranged


@pytest.fixture
def service(world: KnowledgeWorld) -> KnowledgeService:
    return world.service()


def md_request(size: int = 100, **changes: Any) -> CreateDocumentRequest:
    fields: dict[str, Any] = {"filename": "notes.md", "content_type": "text/markdown", "size_bytes": size}
    return CreateDocumentRequest(**{**fields, **changes})


# -- collections -----------------------------------------------------------------------------------------------------
def test_a_created_collection_reads_back_with_the_default_embedding_model(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    # GIVEN a collection created without naming a model
    created = world.collection(APP_A, "handbook", description="HR handbook", extraction="text")
    # WHEN it is read back
    got = service.get_collection(APP_A, created.collection_id)
    # THEN it is the same collection, on the platform's default embeddings model, checked with the gateway
    assert got == created
    assert got.collection_id.startswith("col_")
    assert (got.name, got.description, got.extraction) == ("handbook", "HR handbook", "text")
    assert got.embedding_model == MODEL
    assert world.embedder.checked == [(APP_A, MODEL)]


def test_a_model_the_gateway_refuses_creates_no_collection(world: KnowledgeWorld, service: KnowledgeService) -> None:
    world.embedder.refused_models.add("chat-large")
    with pytest.raises(InvalidRequest) as refused:
        world.collection(APP_A, embedding_model="chat-large")
    assert refused.value.code == "model_not_supported"
    assert service.list_collections(APP_A, 10, None).items == []


def test_chunks_fit_the_embedding_model_by_default_and_larger_ones_are_refused(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    # GIVEN an embedding model that takes at most 256 tokens at once (all-MiniLM, say)
    world.embedder.window = 256
    # WHEN a collection names no chunking, THEN its chunks leave room for the headings within the model's limit
    default = world.collection(APP_A, "small-model")
    assert (default.chunking.size_tokens, default.chunking.overlap_tokens) == (256 - HEADING_ALLOWANCE, 26)
    # AND so do the chunks of a strategy asked for without a size
    paged = world.collection(APP_A, "paged", chunking=ChunkingConfig.model_validate({"strategy": "page"}))
    assert (paged.chunking.strategy, paged.chunking.size_tokens, paged.chunking.overlap_tokens) == ("page", 208, 26)
    # AND a size beyond what the model takes is the caller's 400, naming the field and the limit
    with pytest.raises(InvalidRequest) as refused:
        world.collection(APP_A, "too-big", chunking=ChunkingConfig(size_tokens=512))
    assert refused.value.param == "chunking.size_tokens" and "at most 208" in refused.value.message


@pytest.mark.parametrize(
    "start",
    [
        {"pk": "APP#app-b", "sk": "COLLECTION#col_x"},  # another app's listing
        {"pk": "APP#app-a", "sk": "PROMPT#x"},  # another kind of item
        {"pk": "APP#app-a", "sk": "COLLECTION#x", "extra": "1"},  # not a key of this table
        {"pk": "APP#app-a", "sk": 5},  # not a string
    ],
)
def test_a_forged_page_token_is_refused(service: KnowledgeService, start: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        service.list_collections(APP_A, 10, encode_token(start))
    assert refused.value.param == "next_token"


def test_collections_are_listed_a_page_at_a_time(world: KnowledgeWorld, service: KnowledgeService) -> None:
    # GIVEN five collections
    created = {world.collection(APP_A, f"c{i}").collection_id for i in range(5)}
    # WHEN they are listed two at a time, following next_token
    pages: list[list[Collection]] = []
    token: str | None = None
    while True:
        listing = service.list_collections(APP_A, 2, token)
        pages.append(listing.items)
        token = listing.next_token
        if token is None:
            break
    # THEN every collection comes exactly once, in pages of at most two
    listed = [c.collection_id for page in pages for c in page]
    assert sorted(listed) == sorted(created)
    assert [len(page) for page in pages][:3] == [2, 2, 1]


def test_a_deleted_collection_is_not_found(world: KnowledgeWorld, service: KnowledgeService) -> None:
    collection = world.collection()
    service.delete_collection(APP_A, collection.collection_id)
    with pytest.raises(NotFound) as missing:
        service.get_collection(APP_A, collection.collection_id)
    assert missing.value.code == "collection_not_found"
    assert service.list_collections(APP_A, 10, None).items == []


# -- tenancy -----------------------------------------------------------------------------------------------------------
Attempt = Callable[[KnowledgeService, Collection, Document], object]
ATTEMPTS: dict[str, Attempt] = {
    "get collection": lambda s, c, d: s.get_collection(APP_B, c.collection_id),
    "list documents": lambda s, c, d: s.list_documents(APP_B, c.collection_id, 10, None),
    "delete collection": lambda s, c, d: s.delete_collection(APP_B, c.collection_id),
    "search": lambda s, c, d: s.search(APP_B, [c.collection_id], "kangaroos", 5, "hybrid", None),
    "register document": lambda s, c, d: s.register_document(APP_B, c.collection_id, md_request()),
    "get document": lambda s, c, d: s.get_document(APP_B, d.document_id),
    "content": lambda s, c, d: s.content(APP_B, d.document_id),
    "chunks": lambda s, c, d: s.chunks(APP_B, d.document_id, 10, None),
    "delete document": lambda s, c, d: s.delete_document(APP_B, d.document_id),
}


@pytest.mark.parametrize("attempt", ATTEMPTS.values(), ids=ATTEMPTS.keys())
def test_another_app_cannot_reach_a_collection_or_its_documents(
    world: KnowledgeWorld, service: KnowledgeService, attempt: Attempt
) -> None:
    # GIVEN app A's collection with a READY document
    collection = world.collection(APP_A)
    document = world.ingest(collection, WILDLIFE, filename="wildlife.md")
    # WHEN app B tries to use them by id
    with pytest.raises(NotFound) as missing:
        attempt(service, collection, document)
    # THEN B is told they do not exist, and A's data is untouched
    assert missing.value.code in {"collection_not_found", "document_not_found"}
    assert service.list_collections(APP_B, 10, None).items == []
    assert service.get_document(APP_A, document.document_id).status == "READY"
    assert [d.document_id for d in service.list_documents(APP_A, collection.collection_id, 10, None).items] == [
        document.document_id
    ]
    assert world.store.count(collection.collection_id) == document.chunks
    assert world.keys(f"uploads/{APP_B}/") == [] and world.keys(f"documents/{APP_B}/") == []


# -- registration ------------------------------------------------------------------------------------------------------
def test_registration_normalises_the_content_type_and_signs_size_and_type_into_the_upload_url(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    # GIVEN a collection
    collection = world.collection()
    # WHEN a document is registered with a content type in another case and with parameters
    request = md_request(1234, content_type="Text/Markdown; charset=UTF-8", metadata={"lang": "en", "year": 2024})
    document, upload = service.register_document(APP_A, collection.collection_id, request)
    registered_at = world.clock.now
    # THEN the record waits for its upload with the plain type
    assert document.content_type == "text/markdown"
    stored = service.get_document(APP_A, document.document_id)
    assert (stored.status, stored.content_type, stored.size_bytes) == ("PENDING_UPLOAD", "text/markdown", 1234)
    assert stored.metadata == {"lang": "en", "year": 2024}
    # AND the URL is a SigV4 PUT of the document's upload key that signs its length and type
    assert upload.method == "PUT"
    url = urlsplit(upload.url)
    query = parse_qs(url.query)
    assert url.path.endswith("/" + keys.upload_key(APP_A, collection.collection_id, document.document_id))
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Expires"] == [str(world.settings.upload_url_seconds)]
    # AND the client is told the exact headers to send, and until when the URL works
    assert upload.headers == {"Content-Type": "text/markdown", "Content-Length": "1234"}
    assert stored.created_at == iso(registered_at)
    assert upload.expires_at == iso(registered_at + timedelta(seconds=world.settings.upload_url_seconds))


def test_an_unsupported_content_type_is_refused_by_the_request_model() -> None:
    with pytest.raises(ValidationError) as refused:
        md_request(content_type="application/zip")
    assert "application/zip" in str(refused.value) and "not supported" in str(refused.value)


def test_a_document_above_the_size_limit_is_refused_naming_size_bytes(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    collection = world.collection()
    with pytest.raises(InvalidRequest) as refused:
        service.register_document(APP_A, collection.collection_id, md_request(MAX_BYTES + 1))
    assert refused.value.param == "size_bytes"
    assert refused.value.code == "document_too_large"
    assert str(MAX_BYTES + 1) in refused.value.message and str(MAX_BYTES) in refused.value.message
    # AND nothing was registered
    assert service.list_documents(APP_A, collection.collection_id, 10, None).items == []


def test_a_document_of_exactly_the_limit_is_accepted(world: KnowledgeWorld, service: KnowledgeService) -> None:
    collection = world.collection()
    document, upload = service.register_document(APP_A, collection.collection_id, md_request(MAX_BYTES))
    assert document.size_bytes == MAX_BYTES and upload.headers["Content-Length"] == str(MAX_BYTES)


# -- documents ---------------------------------------------------------------------------------------------------------
def test_documents_are_listed_newest_first_a_page_at_a_time(world: KnowledgeWorld, service: KnowledgeService) -> None:
    # GIVEN three documents registered one after another, and one in another collection
    collection = world.collection()
    names = ["first.md", "second.md", "third.md"]
    for name in names:
        service.register_document(APP_A, collection.collection_id, md_request(filename=name))
    other = world.collection(APP_A, "other")
    service.register_document(APP_A, other.collection_id, md_request(filename="elsewhere.md"))
    # WHEN the collection's documents are listed two at a time
    first = service.list_documents(APP_A, collection.collection_id, 2, None)
    assert first.next_token is not None
    second = service.list_documents(APP_A, collection.collection_id, 2, first.next_token)
    # THEN they come newest first, only this collection's, each once
    listed = [d.filename for d in first.items + second.items]
    assert listed == ["third.md", "second.md", "first.md"]
    assert second.next_token is None
    # AND each reads back by id with its status
    for document in first.items + second.items:
        assert service.get_document(APP_A, document.document_id) == document
        assert document.status == "PENDING_UPLOAD"


def test_content_and_chunks_exist_once_a_document_is_ready(world: KnowledgeWorld, service: KnowledgeService) -> None:
    # GIVEN a document registered but not processed yet
    collection = world.collection()
    waiting = world.register(collection, WILDLIFE.encode())
    # THEN neither its content nor its chunks are available
    for read in (
        lambda: service.content(APP_A, waiting.document_id),
        lambda: service.chunks(APP_A, waiting.document_id, 10, None),
    ):
        with pytest.raises(NotFound) as not_ready:
            read()
        assert not_ready.value.code == "document_not_ready"
        assert "PENDING_UPLOAD" in not_ready.value.message
    # WHEN a document has gone through the pipeline
    ready = world.ingest(collection, WILDLIFE)
    # THEN its markdown comes inline and its chunks in order, with pages and headings
    document, content = service.content(APP_A, ready.document_id)
    assert document.status == "READY"
    assert (content.markdown, content.download_url) == (WILDLIFE, None)
    _, listing = service.chunks(APP_A, ready.document_id, 10, None)
    chunks = views.chunks_view(ready, listing)
    assert [c.index for c in chunks.data] == list(range(ready.chunks or 0))
    assert chunks.next_token is None
    kangaroos = next(c for c in chunks.data if "Kangaroos live" in c.text)
    penguins = next(c for c in chunks.data if "Penguins huddle" in c.text)
    assert (kangaroos.pages, kangaroos.heading_path) == ([1], ["Wildlife", "Kangaroos"])
    assert (penguins.pages, penguins.heading_path) == ([2], ["Wildlife", "Penguins"])


def test_chunks_are_paged_across_batch_files(world: KnowledgeWorld, service: KnowledgeService) -> None:
    # GIVEN a READY document of more than two batch files of chunks
    collection = world.collection(chunking={"strategy": "layout", "size_tokens": 64, "overlap_tokens": 0})
    document = world.ingest(collection, many_sections(140))
    total = document.chunks or 0
    assert total > 2 * CHUNK_BATCH
    batch_files = world.keys(keys.document_prefix(APP_A, collection.collection_id, document.document_id) + "chunks/")
    assert len(batch_files) == -(-total // CHUNK_BATCH)
    # WHEN the chunks are read 50 at a time (pages that straddle batch boundaries)
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        _, listing = service.chunks(APP_A, document.document_id, 50, token)
        pages.append(listing.items)
        token = listing.next_token
        if token is None:
            break
    # THEN every chunk comes once, in order
    assert [len(page) for page in pages] == [50, 50, total - 100]
    rows = [row for page in pages for row in page]
    assert [row["index"] for row in rows] == list(range(total))
    assert rows[0]["heading_path"] == ["Section 0"] and "Paragraph number 0 " in rows[0]["text"]
    assert "Paragraph number 139 " in rows[-1]["text"]


@pytest.mark.parametrize(
    "token",
    ["not a token!", encode_token({"index": -1}), encode_token({"index": 10_000}), encode_token({"index": "3"})],
    ids=["garbage", "negative", "past the end", "not a number"],
)
def test_a_chunks_token_the_api_did_not_issue_is_a_400(
    world: KnowledgeWorld, service: KnowledgeService, token: str
) -> None:
    collection = world.collection()
    document = world.ingest(collection, WILDLIFE)
    with pytest.raises(InvalidRequest) as refused:
        service.chunks(APP_A, document.document_id, 10, token)
    assert refused.value.param == "next_token"


# -- deletes -----------------------------------------------------------------------------------------------------------
def test_deleting_a_document_removes_its_chunks_files_and_record(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    # GIVEN two READY documents in one collection
    collection = world.collection()
    wildlife = world.ingest(collection, WILDLIFE, filename="wildlife.md")
    baking = world.ingest(collection, BAKING, filename="baking.md")
    cid = collection.collection_id
    assert world.keys(keys.document_prefix(APP_A, cid, wildlife.document_id))
    # WHEN one is deleted
    service.delete_document(APP_A, wildlife.document_id)
    # THEN a search no longer finds it, but still finds the other
    assert service.search(APP_A, [cid], "kangaroos penguins", 5, "lexical", None) == []
    assert [h.filename for h in service.search(APP_A, [cid], "bread dough", 5, "lexical", None)] == ["baking.md"]
    # AND its upload and derived files are gone, the other's remain
    assert world.keys(keys.upload_key(APP_A, cid, wildlife.document_id)) == []
    assert world.keys(keys.document_prefix(APP_A, cid, wildlife.document_id)) == []
    assert world.keys(keys.upload_key(APP_A, cid, baking.document_id))
    assert world.keys(keys.document_prefix(APP_A, cid, baking.document_id))
    # AND its record is gone
    with pytest.raises(NotFound):
        service.get_document(APP_A, wildlife.document_id)
    assert [d.document_id for d in service.list_documents(APP_A, cid, 10, None).items] == [baking.document_id]


def test_a_document_deleted_before_anything_was_indexed_is_deleted(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    collection = world.collection()
    document = world.register(collection)
    service.delete_document(APP_A, document.document_id)
    assert world.keys("uploads/") == []
    with pytest.raises(NotFound):
        service.get_document(APP_A, document.document_id)


def test_deleting_a_collection_removes_its_index_files_and_documents(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    # GIVEN a collection with a READY and a pending document, and another collection of the same app
    collection = world.collection()
    ready = world.ingest(collection, WILDLIFE)
    pending = world.register(collection)
    kept = world.collection(APP_A, "kept")
    kept_document = world.ingest(kept, BAKING)
    cid = collection.collection_id
    # WHEN the collection is deleted
    service.delete_collection(APP_A, cid)
    # THEN its index, files and document records are gone
    with pytest.raises(IndexNotFound):
        world.store.count(cid)
    assert world.keys(f"uploads/{APP_A}/{cid}/") == [] and world.keys(f"documents/{APP_A}/{cid}/") == []
    for document in (ready, pending):
        with pytest.raises(NotFound):
            service.get_document(APP_A, document.document_id)
    assert list(world.repository.document_ids(APP_A, cid)) == []
    # AND the other collection is untouched
    assert world.store.count(kept.collection_id) == kept_document.chunks
    assert service.get_document(APP_A, kept_document.document_id).status == "READY"
    assert [c.collection_id for c in service.list_collections(APP_A, 10, None).items] == [kept.collection_id]


# -- search ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_search_finds_the_passage_with_its_filename_and_page(
    world: KnowledgeWorld, service: KnowledgeService, mode: Any
) -> None:
    # GIVEN a collection with two READY documents
    collection = world.collection()
    wildlife = world.ingest(collection, WILDLIFE, filename="wildlife.md", metadata={"lang": "en"})
    world.ingest(collection, BAKING, filename="baking.md")
    world.embedder.calls.clear()
    # WHEN it is searched
    found = service.search(APP_A, [collection.collection_id], "penguins huddle on the ice", 3, mode, None)
    # THEN the best hit is the passage, cited by file name and page
    best = views.hit_view(found[0])
    assert "Penguins huddle together" in best.text
    assert (best.filename, best.page, best.document_id) == ("wildlife.md", 2, wildlife.document_id)
    assert best.collection_id == collection.collection_id
    assert best.heading_path == ["Wildlife", "Penguins"]
    assert best.metadata == {"lang": "en"}
    assert len(found) <= 3
    # AND the query is embedded once, with the collection's model, unless the search is lexical only
    expected = [] if mode == "lexical" else [(APP_A, MODEL, ["penguins huddle on the ice"])]
    assert world.embedder.calls == expected


def test_search_filters_by_metadata(world: KnowledgeWorld, service: KnowledgeService) -> None:
    collection = world.collection()
    world.ingest(collection, WILDLIFE, filename="wildlife.md", metadata={"lang": "en"})
    world.ingest(collection, BAKING, filename="baking.md", metadata={"lang": "fr"})
    found = service.search(APP_A, [collection.collection_id], "kangaroos bread", 10, "hybrid", {"lang": "fr"})
    assert found and {hit.filename for hit in found} == {"baking.md"}


@pytest.mark.parametrize(
    "bad_filter",
    [{"lang": {"$ne": "en"}}, {"lang": []}, {"1st": "x"}, {"document_id": 7}],
    ids=["operator", "empty list", "bad key", "document_id not a string"],
)
def test_an_unsupported_filter_is_a_400_invalid_filter(
    world: KnowledgeWorld, service: KnowledgeService, bad_filter: dict[str, Any]
) -> None:
    collection = world.collection()
    with pytest.raises(InvalidRequest) as refused:
        service.search(APP_A, [collection.collection_id], "kangaroos", 5, "hybrid", bad_filter)
    assert (refused.value.code, refused.value.param) == ("invalid_filter", "filter")


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_searching_a_collection_with_nothing_indexed_finds_nothing(
    world: KnowledgeWorld, service: KnowledgeService, mode: Any
) -> None:
    collection = world.collection()
    world.register(collection)  # uploaded, not processed
    assert service.search(APP_A, [collection.collection_id], "anything at all", 5, mode, None) == []


def test_content_too_large_to_inline_comes_as_a_short_lived_download_url(
    world: KnowledgeWorld, service: KnowledgeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a READY document whose markdown is above the inline limit
    collection = world.collection()
    document = world.ingest(collection, WILDLIFE)
    monkeypatch.setattr("genai_core.knowledge.service.MAX_INLINE_CONTENT", len(WILDLIFE) - 1)
    # WHEN its content is asked for
    _, content = service.content(APP_A, document.document_id)
    # THEN it comes as a presigned GET of content.md instead
    assert content.markdown is None and content.download_url is not None
    url = urlsplit(content.download_url)
    assert url.path.endswith("/" + keys.content_key(APP_A, collection.collection_id, document.document_id))
    assert parse_qs(url.query)["X-Amz-Expires"] == ["300"]


def test_a_search_across_collections_embeds_the_query_once_per_model(
    world: KnowledgeWorld, service: KnowledgeService
) -> None:
    # GIVEN three collections, two sharing a model
    small_1 = world.collection(APP_A, "a")
    small_2 = world.collection(APP_A, "b")
    large = world.collection(APP_A, "c", embedding_model="embed-large")
    world.ingest(small_1, WILDLIFE, filename="wildlife.md")
    world.ingest(large, BAKING, filename="baking.md")
    world.embedder.calls.clear()
    # WHEN they are searched together
    ids = [small_1.collection_id, small_2.collection_id, large.collection_id]
    found = service.search(APP_A, ids, "kangaroos and bread", 10, "hybrid", None)
    # THEN the query was embedded once per model, and hits of every collection are merged
    assert sorted(model for _, model, _ in world.embedder.calls) == ["embed-large", MODEL]
    assert {hit.collection_id for hit in found} == {small_1.collection_id, large.collection_id}
    assert {hit.filename for hit in found} == {"wildlife.md", "baking.md"}
