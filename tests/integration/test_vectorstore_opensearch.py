"""The OpenSearch store against osmem-server, an in-memory OpenSearch-compatible engine, in both write modes.

osmem serves mappings, `_bulk`, BM25, bool filters, `search_after` and delete-by-query, but refuses `knn` queries:
the scenarios of the embedded store's tests run here through lexical search (whose filters are the same clauses
kNN sends), and the kNN bodies are pinned in tests/unit/test_vectorstore_opensearch_bodies.py.

Every test runs twice: as on a domain (`_id` from the chunk id, refresh, delete-by-query) and as on AOSS
(server-generated ids, no refresh, delete by id).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch
from osmem_server import OsmemServer

from genai_core.knowledge.vectorstores.base import Filter, Hit, IndexedChunk, IndexNotFound, VectorStore
from genai_core.knowledge.vectorstores.opensearch import OpenSearchVectorStore, index_name

DIMS = 8


def basis(i: int, scale: float = 1.0) -> list[float]:
    vector = [0.0] * DIMS
    vector[i] = scale
    return vector


def chunk(
    chunk_id: str,
    vector: list[float] | None = None,
    text: str = "",
    document_id: str = "doc-1",
    **metadata: str | int | float | bool,
) -> IndexedChunk:
    return IndexedChunk(
        id=chunk_id,
        document_id=document_id,
        text=text or f"chunk {chunk_id}",
        vector=vector or basis(0),
        pages=(1,),
        heading_path=("Intro",),
        metadata=dict(metadata),
    )


def ids(hits: list[Hit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


@pytest.fixture(scope="module")
def engine() -> Iterator[OsmemServer]:
    with OsmemServer.start(japanese=False) as server:
        yield server


@pytest.fixture
def client(engine: OsmemServer) -> Iterator[OpenSearch]:
    with engine.clone() as clone:  # an empty cluster per test
        yield OpenSearch(hosts=[clone.url])


@pytest.fixture(params=["domain", "serverless"])
def store(request: pytest.FixtureRequest, client: OpenSearch) -> OpenSearchVectorStore:
    return OpenSearchVectorStore(client, serverless=request.param == "serverless")


@pytest.fixture
def docs(store: OpenSearchVectorStore) -> OpenSearchVectorStore:
    store.create_index("docs", DIMS, "cosine")
    return store


# -- collections


def test_the_opensearch_store_implements_the_interface(store: OpenSearchVectorStore) -> None:
    assert isinstance(store, VectorStore)


def test_create_index_writes_the_knn_mapping_and_its_shape(docs: OpenSearchVectorStore, client: OpenSearch) -> None:
    mapping = client.indices.get_mapping(index="chunks-docs")["chunks-docs"]["mappings"]

    assert mapping["_meta"] == {"dimensions": DIMS, "space": "cosine", "schema": 1}
    vector = mapping["properties"]["vector"]
    assert (vector["type"], vector["dimension"]) == ("knn_vector", DIMS)
    assert vector["method"]["engine"] == "faiss"
    assert vector["method"]["space_type"] == "cosinesimil"


def test_create_index_is_idempotent_but_refuses_a_different_shape(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk("a")])

    docs.create_index("docs", DIMS, "cosine")
    assert docs.count("docs") == 1
    with pytest.raises(ValueError, match="already has an index"):
        docs.create_index("docs", 16, "cosine")
    with pytest.raises(ValueError, match="already has an index"):
        docs.create_index("docs", DIMS, "l2")


def test_an_index_this_store_did_not_create_is_refused(store: OpenSearchVectorStore, client: OpenSearch) -> None:
    client.indices.create(index="chunks-foreign", body={"mappings": {"properties": {"x": {"type": "keyword"}}}})

    with pytest.raises(ValueError, match="not created by this store"):
        store.create_index("foreign", DIMS, "cosine")


def test_dropping_an_index_removes_the_collection(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk("a")])

    docs.drop_index("docs")

    with pytest.raises(IndexNotFound):
        docs.count("docs")
    with pytest.raises(IndexNotFound):
        docs.search_lexical("docs", "chunk", k=1)
    docs.drop_index("docs")  # dropping again is a no-op
    docs.create_index("docs", DIMS, "cosine")
    assert docs.count("docs") == 0


def test_an_unknown_collection_is_not_found(store: OpenSearchVectorStore, client: OpenSearch) -> None:
    with pytest.raises(IndexNotFound):
        store.upsert("missing", [chunk("a")])
    with pytest.raises(IndexNotFound):
        store.search_lexical("missing", "a", k=1)
    with pytest.raises(IndexNotFound):
        store.search_lexical("missing", "   ", k=1)
    with pytest.raises(IndexNotFound):
        store.search_vector("missing", basis(0), k=1)
    with pytest.raises(IndexNotFound):
        store.delete_document("missing", "d")
    with pytest.raises(IndexNotFound):
        store.count("missing")
    assert not client.indices.exists(index="chunks-missing")  # the upsert did not create it


def test_two_collections_are_isolated(docs: OpenSearchVectorStore) -> None:
    # GIVEN a second collection with a chunk of the same id
    docs.create_index("other", DIMS, "cosine")
    docs.upsert("docs", [chunk("same-id", text="from docs", document_id="d")])
    docs.upsert("other", [chunk("same-id", text="from other", document_id="d")])

    # WHEN one collection's document is deleted
    assert docs.delete_document("other", "d") == 1

    # THEN the other collection is untouched
    assert docs.count("other") == 0
    assert [h.text for h in docs.search_lexical("docs", "from", k=5)] == ["from docs"]
    assert docs.search_lexical("other", "from", k=5) == []


def test_collection_ids_differing_only_in_case_are_different_indexes(store: OpenSearchVectorStore) -> None:
    store.create_index("Docs", DIMS, "cosine")
    store.create_index("docs", 4, "l2")
    store.upsert("Docs", [chunk("upper", text="capital")])

    assert index_name("Docs") != index_name("docs")
    assert ids(store.search_lexical("Docs", "capital", k=5)) == ["upper"]
    assert store.count("docs") == 0


# -- writes


def test_upserting_the_same_ids_again_replaces_instead_of_duplicating(docs: OpenSearchVectorStore) -> None:
    # GIVEN two chunks
    docs.upsert("docs", [chunk("a", basis(0), text="old words", lang="en"), chunk("b", basis(1), text="bee")])

    # WHEN "a" is written again with new text, vector and metadata
    docs.upsert("docs", [chunk("a", basis(2), text="fresh words", lang="fr")])

    # THEN there are still two chunks and every search sees only the new version
    assert docs.count("docs") == 2
    assert docs.search_lexical("docs", "old", k=5) == []
    assert ids(docs.search_lexical("docs", "fresh", k=5)) == ["a"]
    assert docs.search_lexical("docs", "words", k=5, filter=Filter.parse({"lang": "en"})) == []
    updated = docs.search_lexical("docs", "words", k=5, filter=Filter.parse({"lang": "fr"}))
    assert [(h.chunk_id, h.text, h.metadata) for h in updated] == [("a", "fresh words", {"lang": "fr"})]


def test_a_repeated_id_in_one_batch_keeps_the_last_version(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk("a", text="first"), chunk("a", text="second")])

    assert docs.count("docs") == 1
    assert [h.text for h in docs.search_lexical("docs", "first second", k=5)] == ["second"]


def test_a_failed_upsert_writes_nothing(docs: OpenSearchVectorStore) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        docs.upsert("docs", [chunk("ok"), chunk("bad", [1.0, 2.0])])
    with pytest.raises(ValueError, match="all zeros"):
        docs.upsert("docs", [chunk("ok"), chunk("zero", [0.0] * DIMS)])
    with pytest.raises(ValueError, match="64-bit"):
        docs.upsert("docs", [chunk("huge", n=2**64)])

    assert docs.count("docs") == 0


def test_many_chunks_go_in_several_bulk_requests(client: OpenSearch) -> None:
    # GIVEN a 64 KiB request limit and ~1 MB of chunks
    store = OpenSearchVectorStore(client, bulk_max_bytes=64 * 1024)
    store.create_index("big", DIMS, "l2")
    chunks = [chunk(f"c{i:03}", basis(i % DIMS), text=f"needle{i} " + "filler " * 600) for i in range(150)]

    # WHEN they are upserted
    store.upsert("big", chunks)

    # THEN all arrive, once
    assert store.count("big") == 150
    assert ids(store.search_lexical("big", "needle42", k=3)) == ["c042"]


def test_deleting_a_document_removes_it_and_counts_its_chunks(docs: OpenSearchVectorStore) -> None:
    # GIVEN two documents sharing a word
    docs.upsert(
        "docs",
        [
            chunk("d1-a", text="shared alpha", document_id="d1", lang="en"),
            chunk("d1-b", text="shared beta", document_id="d1"),
            chunk("d2-a", text="shared gamma", document_id="d2", lang="en"),
        ],
    )

    # WHEN the first is deleted
    removed = docs.delete_document("docs", "d1")

    # THEN its chunks are gone from every search and the other document stays
    assert removed == 2
    assert docs.count("docs") == 1
    assert ids(docs.search_lexical("docs", "shared alpha beta", k=5)) == ["d2-a"]
    assert ids(docs.search_lexical("docs", "shared", k=5, filter=Filter.parse({"lang": "en"}))) == ["d2-a"]
    assert docs.delete_document("docs", "d1") == 0


def test_deleting_a_large_document_pages_through_it(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk(f"c{i:04}", document_id="long") for i in range(1200)] + [chunk("keep", document_id="x")])

    assert docs.delete_document("docs", "long") == 1200
    assert docs.count("docs") == 1


def test_serverless_upserts_clean_up_a_duplicate_version(client: OpenSearch) -> None:
    # GIVEN (as AOSS can leave after two quick upserts of one chunk) two stored versions of chunk "a"
    store = OpenSearchVectorStore(client, serverless=True)
    store.create_index("docs", DIMS, "cosine")
    store.upsert("docs", [chunk("a", text="one version")])
    client.index(index="chunks-docs", body={"chunk_id": "a", "document_id": "doc-1", "text": "other version"})
    assert store.count("docs") == 2

    # WHEN searched  THEN the chunk comes back once
    assert ids(store.search_lexical("docs", "version", k=5)) == ["a"]

    # WHEN it is upserted again  THEN only the new version remains
    store.upsert("docs", [chunk("a", text="final version")])
    assert store.count("docs") == 1
    assert [h.text for h in store.search_lexical("docs", "version", k=5)] == ["final version"]


# -- filters (the clauses kNN sends inside `knn.filter` are the same)


@pytest.fixture
def tagged(docs: OpenSearchVectorStore) -> OpenSearchVectorStore:
    docs.upsert(
        "docs",
        [
            chunk("en-1", document_id="d1", lang="en", year=2024, draft=True),
            chunk("en-2", document_id="d2", lang="en", year=2025, draft=False),
            chunk("fr-1", document_id="d2", lang="fr", year=2025),
            chunk("de-1", document_id="d3", lang="de", year=1, score=1.5),
            chunk("bare", document_id="d3"),
            chunk("one", document_id="d4", lang="1", year="2024"),
        ],
    )
    return docs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"lang": "en"}, {"en-1", "en-2"}),
        ({"lang": ["en", "fr"]}, {"en-1", "en-2", "fr-1"}),
        ({"document_id": "d2"}, {"en-2", "fr-1"}),
        ({"document_id": ["d1", "d3"]}, {"en-1", "de-1", "bare"}),
        ({"lang": "en", "year": 2025}, {"en-2"}),
        ({"lang": ["en", "fr"], "document_id": "d2"}, {"en-2", "fr-1"}),
        # exact types: the string "2024" is not the number 2024, true is not 1
        ({"year": 2024}, {"en-1"}),
        ({"year": "2024"}, {"one"}),
        ({"draft": True}, {"en-1"}),
        ({"draft": False}, {"en-2"}),
        ({"year": True}, set()),
        ({"lang": 1}, set()),
        # numbers compare as numbers
        ({"year": 1.0}, {"de-1"}),
        ({"score": 1.5}, {"de-1"}),
        ({"year": [2024, "2024"]}, {"en-1", "one"}),
        ({"lang": "es"}, set()),
        ({}, {"en-1", "en-2", "fr-1", "de-1", "bare", "one"}),
    ],
)
def test_filter_forms(tagged: OpenSearchVectorStore, raw: dict[str, object], expected: set[str]) -> None:
    hits = tagged.search_lexical("docs", "chunk", k=10, filter=Filter.parse(raw))

    assert set(ids(hits)) == expected


def test_hits_carry_metadata_with_its_types(tagged: OpenSearchVectorStore) -> None:
    (hit,) = tagged.search_lexical("docs", "chunk", k=10, filter=Filter.parse({"document_id": "d1"}))

    assert hit.metadata == {"lang": "en", "year": 2024, "draft": True}
    assert (hit.document_id, hit.pages, hit.heading_path) == ("d1", (1,), ("Intro",))


# -- lexical search


def test_bm25_ranks_the_chunk_with_the_rare_term_first(docs: OpenSearchVectorStore) -> None:
    # GIVEN many chunks about invoices and one that also mentions a rare word
    chunks = [chunk(f"c{i}", text=f"invoice number {i} payment due invoice total") for i in range(30)]
    chunks.append(chunk("rare", text="invoice payment with a reconciliation note"))
    docs.upsert("docs", chunks)

    # WHEN searching for a common word and the rare one
    hits = docs.search_lexical("docs", "invoice reconciliation", k=5)

    # THEN the rare word decides, scores are positive and decreasing
    assert hits[0].chunk_id == "rare"
    assert len(hits) == 5
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_lexical_search_ignores_case_and_diacritics(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk("cafe", text="Le Café de Flore à Paris"), chunk("x", basis(1), text="tea")])

    assert ids(docs.search_lexical("docs", "CAFE a paris", k=5)) == ["cafe"]
    assert ids(docs.search_lexical("docs", "café", k=5)) == ["cafe"]


def test_a_query_without_matches_returns_nothing(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk("a", text="alpha")])

    assert docs.search_lexical("docs", "omega", k=5) == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced',
        "*",
        "alpha*",
        "AND OR",
        "NEAR(alpha beta)",
        ")(",
        "text:alpha",
        "^alpha",
        "alpha + beta - gamma",
        "",
        "   ",
        "🙂🙂",
        "alpha " * 2000,
        "x" * 10_000,
        "\x00alpha",
    ],
)
def test_hostile_lexical_queries_never_raise(docs: OpenSearchVectorStore, query: str) -> None:
    docs.upsert("docs", [chunk("a", text="alpha AND beta OR NOT gamma near text")])

    hits = docs.search_lexical("docs", query, k=5)

    assert ids(hits) in ([], ["a"])
    assert docs.count("docs") == 1


def test_operator_words_are_searched_as_words(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk("ops", text="this AND that"), chunk("other", basis(1), text="plain")])

    assert ids(docs.search_lexical("docs", "AND", k=5)) == ["ops"]


def test_k_limits_lexical_results(docs: OpenSearchVectorStore) -> None:
    docs.upsert("docs", [chunk(f"c{i}", text="same words") for i in range(12)])

    assert len(docs.search_lexical("docs", "same", k=5)) == 5
    with pytest.raises(ValueError, match="k must be"):
        docs.search_lexical("docs", "same", k=0)
    with pytest.raises(ValueError, match="k must be"):
        docs.search_vector("docs", basis(0), k=1001)


def test_a_vector_of_the_wrong_size_is_refused_before_the_request(docs: OpenSearchVectorStore) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        docs.search_vector("docs", [1.0, 0.0], k=1)
