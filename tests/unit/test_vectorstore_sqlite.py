"""The embedded vector store as its users see it: what searches return, what filters allow, what survives."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from genai_core.knowledge.vectorstores import sqlite as sqlite_store
from genai_core.knowledge.vectorstores.base import (
    Filter,
    Hit,
    IndexedChunk,
    IndexNotFound,
    VectorStore,
    hybrid_search,
    reciprocal_rank_fusion,
)
from genai_core.knowledge.vectorstores.sqlite import SqliteVectorStore

DIMS = 8


def basis(i: int, scale: float = 1.0) -> list[float]:
    vector = [0.0] * DIMS
    vector[i] = scale
    return vector


def mix(*parts: tuple[int, float]) -> list[float]:
    vector = [0.0] * DIMS
    for i, weight in parts:
        vector[i] += weight
    return vector


def chunk(
    chunk_id: str,
    vector: list[float],
    text: str = "",
    document_id: str = "doc-1",
    **metadata: str | int | float | bool,
) -> IndexedChunk:
    return IndexedChunk(
        id=chunk_id,
        document_id=document_id,
        text=text or f"chunk {chunk_id}",
        vector=vector,
        pages=(1,),
        heading_path=("Intro",),
        metadata=dict(metadata),
    )


def ids(hits: list[Hit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteVectorStore]:
    s = SqliteVectorStore(tmp_path / "vectors.db")
    yield s
    s.close()


@pytest.fixture
def docs(store: SqliteVectorStore) -> SqliteVectorStore:
    store.create_index("docs", DIMS, "cosine")
    return store


# -- the interface


def test_the_sqlite_store_implements_the_interface(store: SqliteVectorStore) -> None:
    assert isinstance(store, VectorStore)


# -- vector search


def test_knn_ranks_the_nearest_chunk_first(docs: SqliteVectorStore) -> None:
    # GIVEN chunks at growing angles from the query
    docs.upsert(
        "docs",
        [
            chunk("far", mix((0, 0.1), (1, 1.0))),
            chunk("exact", basis(0)),
            chunk("near", mix((0, 1.0), (1, 0.2))),
            chunk("opposite", basis(0, -1.0)),
        ],
    )

    # WHEN searching by the first axis
    hits = docs.search_vector("docs", basis(0), k=3)

    # THEN the nearest come first with similarities, and the full hit is returned
    assert ids(hits) == ["exact", "near", "far"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert hits[0].score > hits[1].score > hits[2].score
    assert hits[0].document_id == "doc-1"
    assert hits[0].pages == (1,)
    assert hits[0].heading_path == ("Intro",)


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        # same direction wins under cosine, whatever its length
        ("cosine", ["same-direction", "close-by", "big"]),
        # the closest point wins under l2
        ("l2", ["close-by", "same-direction", "big"]),
        # the largest projection wins under inner product
        ("innerproduct", ["big", "close-by", "same-direction"]),
    ],
)
def test_the_space_decides_what_nearest_means(store: SqliteVectorStore, space: str, expected: list[str]) -> None:
    # GIVEN three points that each space ranks differently from the query (1, 0, ...)
    store.create_index("spaces", DIMS, space)  # type: ignore[arg-type]
    store.upsert(
        "spaces",
        [
            chunk("same-direction", basis(0, 0.5)),
            chunk("close-by", mix((0, 1.0), (1, 0.3))),
            chunk("big", mix((0, 5.0), (1, 5.0))),
        ],
    )

    # WHEN searching
    hits = store.search_vector("spaces", basis(0), k=3)

    # THEN the order follows the space, best score first
    assert ids(hits) == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_inner_product_scores_are_dot_products(store: SqliteVectorStore) -> None:
    store.create_index("ip", DIMS, "innerproduct")
    store.upsert("ip", [chunk("a", mix((0, 2.0), (1, 3.0)))])

    hits = store.search_vector("ip", mix((0, 1.0), (1, 2.0)), k=1)

    assert hits[0].score == pytest.approx(8.0, rel=1e-5)


def test_knn_returns_fewer_than_k_only_when_the_collection_is_smaller(docs: SqliteVectorStore) -> None:
    docs.upsert("docs", [chunk("a", basis(0)), chunk("b", basis(1))])

    assert ids(docs.search_vector("docs", basis(0), k=10)) == ["a", "b"]


# -- filters


@pytest.fixture(params=["scan", "vec0"])
def knn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    # Small collections are always scanned; a zero threshold sends filtered kNN through vec0 with a rowid list.
    monkeypatch.setattr(sqlite_store, "SCAN_THRESHOLD", 10**9 if request.param == "scan" else 0)
    return str(request.param)


def test_a_filter_still_returns_k_chunks_when_most_are_filtered_out(docs: SqliteVectorStore, knn_path: str) -> None:
    # GIVEN 200 chunks of which only 10 are in French, and the English ones are all nearer the query
    chunks = [chunk(f"en-{i:03}", mix((0, 1.0), (1, i / 1000)), lang="en") for i in range(190)]
    chunks += [chunk(f"fr-{i:03}", mix((0, 0.2), (2, 1.0 + i / 10)), lang="fr") for i in range(10)]
    docs.upsert("docs", chunks)

    # WHEN asking for the 5 nearest French chunks
    hits = docs.search_vector("docs", basis(0), k=5, filter=Filter.parse({"lang": "fr"}))

    # THEN 5 French chunks come back, not the French share of the 5 nearest overall (none)
    assert len(hits) == 5
    assert {h.metadata["lang"] for h in hits} == {"fr"}
    assert ids(hits) == ["fr-000", "fr-001", "fr-002", "fr-003", "fr-004"]


@pytest.fixture
def tagged(docs: SqliteVectorStore) -> SqliteVectorStore:
    docs.upsert(
        "docs",
        [
            chunk("en-1", basis(0), document_id="d1", lang="en", year=2024, draft=True),
            chunk("en-2", basis(1), document_id="d2", lang="en", year=2025, draft=False),
            chunk("fr-1", basis(2), document_id="d2", lang="fr", year=2025),
            chunk("de-1", basis(3), document_id="d3", lang="de", year=1, score=1.5),
            chunk("bare", basis(4), document_id="d3"),
            chunk("one", basis(5), document_id="d4", lang="1", year="2024"),
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
        ({"lang": "es"}, set()),
        ({}, {"en-1", "en-2", "fr-1", "de-1", "bare", "one"}),
    ],
)
def test_filter_forms(tagged: SqliteVectorStore, knn_path: str, raw: dict[str, object], expected: set[str]) -> None:
    # GIVEN chunks with metadata  WHEN searching with a filter
    flt = Filter.parse(raw)
    by_vector = tagged.search_vector("docs", basis(0), k=10, filter=flt)
    by_text = tagged.search_lexical("docs", "chunk", k=10, filter=flt)

    # THEN both searches return exactly the chunks it allows
    assert set(ids(by_vector)) == expected
    assert set(ids(by_text)) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"lang": {"$in": ["en"]}}, "not supported"),
        ({"$or": [{"lang": "en"}]}, "not a metadata key"),
        ({"lang": []}, "empty list"),
        ({"lang": None}, "not supported"),
        ({"lang": ["en", None]}, "not supported"),
        ({"lang": float("nan")}, "not supported"),
        ({"meta.lang": "en"}, "not a metadata key"),
        ({"lang'; DROP TABLE collections; --": "en"}, "not a metadata key"),
        ({"document_id": 3}, "document_id"),
        ({"lang": [str(i) for i in range(101)]}, "at most 100"),
        ({f"k{i}": 1 for i in range(17)}, "at most 16"),
        (["lang", "en"], "must be an object"),
    ],
)
def test_unsupported_filters_are_refused_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Filter.parse(raw)  # type: ignore[arg-type]


def test_no_filter_allows_everything() -> None:
    assert Filter.parse(None).empty


# -- lexical search


def test_bm25_ranks_the_chunk_with_the_rare_term_first(docs: SqliteVectorStore) -> None:
    # GIVEN many chunks about invoices and one that also mentions a rare word
    chunks = [chunk(f"c{i}", basis(0), text=f"invoice number {i} payment due invoice total") for i in range(30)]
    chunks.append(chunk("rare", basis(1), text="invoice payment with a reconciliation note"))
    docs.upsert("docs", chunks)

    # WHEN searching for a common word and the rare one
    hits = docs.search_lexical("docs", "invoice reconciliation", k=5)

    # THEN the rare word decides, scores are positive and decreasing
    assert hits[0].chunk_id == "rare"
    assert len(hits) == 5
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_lexical_search_ignores_case_and_diacritics(docs: SqliteVectorStore) -> None:
    docs.upsert("docs", [chunk("cafe", basis(0), text="Le Café de Flore à Paris"), chunk("x", basis(1), text="tea")])

    assert ids(docs.search_lexical("docs", "CAFE a paris", k=5)) == ["cafe"]
    assert ids(docs.search_lexical("docs", "café", k=5)) == ["cafe"]


def test_a_query_without_matches_returns_nothing(docs: SqliteVectorStore) -> None:
    docs.upsert("docs", [chunk("a", basis(0), text="alpha")])

    assert docs.search_lexical("docs", "omega", k=5) == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced',
        "*",
        "alpha*",
        "AND OR",
        "NOT",
        "NEAR(alpha beta)",
        ")(",
        "text:alpha",
        "^alpha",
        "alpha + beta - gamma",
        "",
        "   ",
        "🙂🙂",
        "'; DROP TABLE collections; --",
        "alpha " * 2000,
        "x" * 10_000,
        "\x00alpha",
    ],
)
def test_hostile_lexical_queries_never_raise(docs: SqliteVectorStore, query: str) -> None:
    # GIVEN a chunk whose text contains FTS5 operator words
    docs.upsert("docs", [chunk("a", basis(0), text="alpha AND beta OR NOT gamma near text")])

    # WHEN the user's text is searched  THEN it is plain words, never FTS5 syntax
    hits = docs.search_lexical("docs", query, k=5)

    assert ids(hits) in ([], ["a"])
    assert docs.count("docs") == 1


def test_operator_words_are_searched_as_words(docs: SqliteVectorStore) -> None:
    docs.upsert("docs", [chunk("ops", basis(0), text="this AND that"), chunk("other", basis(1), text="plain")])

    assert ids(docs.search_lexical("docs", "AND", k=5)) == ["ops"]


# -- hybrid


def hit(chunk_id: str, score: float = 0.0) -> Hit:
    return Hit(chunk_id, "doc", chunk_id, score, (), (), {})


def test_rrf_prefers_second_in_both_lists_over_first_in_one() -> None:
    # GIVEN "both" is 2nd in both lists, "vec-only" 1st in one and absent from the other
    by_vector = [hit("vec-only", 0.99), hit("both", 0.9), hit("v3")]
    by_text = [hit("text-only", 25.0), hit("both", 20.0), hit("t3")]

    # WHEN fused
    fused = reciprocal_rank_fusion([by_vector, by_text], k=3)

    # THEN 2/(60+2) beats 1/(60+1)
    assert fused[0].chunk_id == "both"
    assert fused[0].score == pytest.approx(2 / 62)
    assert fused[1].score == pytest.approx(1 / 61)


def test_rrf_breaks_ties_the_same_way_every_time() -> None:
    # GIVEN two chunks each first in one list (equal fused scores)
    first = [hit("b"), hit("x")]
    second = [hit("a"), hit("y")]

    # WHEN fused in either order
    one = reciprocal_rank_fusion([first, second], k=4)
    other = reciprocal_rank_fusion([second, first], k=4)

    # THEN the order is the same: equal score and best rank, then chunk id
    assert ids(one) == ids(other) == ["a", "b", "x", "y"]


def test_rrf_counts_a_chunk_once_per_list_and_cuts_at_k() -> None:
    fused = reciprocal_rank_fusion([[hit("a"), hit("a"), hit("b")], [hit("c")]], k=2)

    assert ids(fused) == ["a", "c"]
    assert fused[0].score == pytest.approx(1 / 61)


def test_hybrid_search_brings_the_chunk_both_searches_like_to_the_top(docs: SqliteVectorStore) -> None:
    # GIVEN one chunk that is the nearest by vector, one that matches the words best, and one decent at both
    docs.upsert(
        "docs",
        [
            chunk("vector-best", basis(0), text="unrelated words entirely"),
            chunk("text-best", basis(3), text="refund policy refund policy refund"),
            chunk("both", mix((0, 1.0), (1, 0.3)), text="our refund policy"),
            chunk("noise", basis(2), text="shipping times"),
        ],
    )

    # WHEN running a hybrid search
    hits = hybrid_search(docs, "docs", "refund policy", basis(0), k=3)

    # THEN the chunk both searches rank well comes first
    assert hits[0].chunk_id == "both"
    assert len(hits) == 3


def test_hybrid_search_applies_the_filter_to_both_searches(tagged: SqliteVectorStore) -> None:
    hits = hybrid_search(tagged, "docs", "chunk", basis(0), k=10, filter=Filter.parse({"lang": "fr"}))

    assert ids(hits) == ["fr-1"]


def test_hybrid_search_refuses_fewer_candidates_than_k(docs: SqliteVectorStore) -> None:
    with pytest.raises(ValueError, match="candidates"):
        hybrid_search(docs, "docs", "q", basis(0), k=10, candidates=5)


# -- writes


def test_upserting_the_same_ids_again_replaces_instead_of_duplicating(docs: SqliteVectorStore) -> None:
    # GIVEN two chunks
    docs.upsert("docs", [chunk("a", basis(0), text="old words", lang="en"), chunk("b", basis(1), text="bee")])

    # WHEN "a" is written again with new text, vector and metadata
    docs.upsert("docs", [chunk("a", basis(2), text="fresh words", lang="fr")])

    # THEN there are still two chunks and every search sees only the new version
    assert docs.count("docs") == 2
    assert docs.search_lexical("docs", "old", k=5) == []
    assert ids(docs.search_lexical("docs", "fresh", k=5)) == ["a"]
    assert docs.search_vector("docs", basis(2), k=1)[0].chunk_id == "a"
    assert "a" not in ids(docs.search_vector("docs", basis(0), k=1))
    assert docs.search_vector("docs", basis(0), k=5, filter=Filter.parse({"lang": "en"})) == []
    updated = docs.search_vector("docs", basis(2), k=5, filter=Filter.parse({"lang": "fr"}))
    assert [(h.chunk_id, h.text, h.metadata) for h in updated] == [("a", "fresh words", {"lang": "fr"})]


def test_a_failed_upsert_writes_nothing(docs: SqliteVectorStore) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        docs.upsert("docs", [chunk("ok", basis(0)), chunk("bad", [1.0, 2.0])])

    assert docs.count("docs") == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (chunk("x", [math.nan] + [0.0] * (DIMS - 1)), "finite"),
        (chunk("x", [0.0] * DIMS), "all zeros"),
        (chunk("x", basis(0), document_id=""), "document_id"),
        (IndexedChunk("x", "d", "t", basis(0), metadata={"document_id": "other"}), "reserved"),
        (IndexedChunk("x", "d", "t", basis(0), metadata={"nested": {"a": 1}}), "string, number or boolean"),  # type: ignore[dict-item]
    ],
)
def test_invalid_chunks_are_refused(docs: SqliteVectorStore, bad: IndexedChunk, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        docs.upsert("docs", [bad])


def test_deleting_a_document_removes_it_from_vector_and_lexical_results(docs: SqliteVectorStore) -> None:
    # GIVEN two documents sharing a word
    docs.upsert(
        "docs",
        [
            chunk("d1-a", basis(0), text="shared alpha", document_id="d1", lang="en"),
            chunk("d1-b", basis(1), text="shared beta", document_id="d1"),
            chunk("d2-a", basis(2), text="shared gamma", document_id="d2", lang="en"),
        ],
    )

    # WHEN the first is deleted
    removed = docs.delete_document("docs", "d1")

    # THEN its chunks are gone from every search and the other document stays
    assert removed == 2
    assert docs.count("docs") == 1
    assert ids(docs.search_vector("docs", basis(0), k=5)) == ["d2-a"]
    assert ids(docs.search_lexical("docs", "shared alpha beta", k=5)) == ["d2-a"]
    assert ids(docs.search_vector("docs", basis(0), k=5, filter=Filter.parse({"lang": "en"}))) == ["d2-a"]
    assert docs.delete_document("docs", "d1") == 0


def test_dropping_an_index_removes_the_collection(docs: SqliteVectorStore) -> None:
    docs.upsert("docs", [chunk("a", basis(0))])

    docs.drop_index("docs")

    with pytest.raises(IndexNotFound):
        docs.count("docs")
    with pytest.raises(IndexNotFound):
        docs.search_vector("docs", basis(0), k=1)
    docs.drop_index("docs")  # dropping again is a no-op
    docs.create_index("docs", DIMS, "cosine")
    assert docs.count("docs") == 0


def test_create_index_is_idempotent_but_refuses_a_different_shape(docs: SqliteVectorStore) -> None:
    docs.upsert("docs", [chunk("a", basis(0))])

    docs.create_index("docs", DIMS, "cosine")
    assert docs.count("docs") == 1
    with pytest.raises(ValueError, match="already has an index"):
        docs.create_index("docs", 16, "cosine")
    with pytest.raises(ValueError, match="already has an index"):
        docs.create_index("docs", DIMS, "l2")


def test_two_collections_are_isolated(docs: SqliteVectorStore) -> None:
    # GIVEN a second collection with a chunk of the same id
    docs.create_index("other", DIMS, "cosine")
    docs.upsert("docs", [chunk("same-id", basis(0), text="from docs", document_id="d")])
    docs.upsert("other", [chunk("same-id", basis(0), text="from other", document_id="d")])

    # WHEN one collection's document is deleted
    docs.delete_document("other", "d")

    # THEN the other collection is untouched
    assert docs.count("other") == 0
    assert [h.text for h in docs.search_vector("docs", basis(0), k=5)] == ["from docs"]
    assert [h.text for h in docs.search_lexical("docs", "from", k=5)] == ["from docs"]
    assert docs.search_lexical("other", "from", k=5) == []


@pytest.mark.parametrize(
    "collection_id",
    [
        "x; DROP TABLE collections; --",
        'docs"',
        "docs' OR '1'='1",
        "",
        "-docs",
        "a" * 129,
        "c1_chunks UNION SELECT 1",
    ],
)
def test_a_collection_id_with_sql_in_it_is_refused(docs: SqliteVectorStore, collection_id: str) -> None:
    docs.upsert("docs", [chunk("a", basis(0))])

    with pytest.raises(ValueError, match="collection id"):
        docs.create_index(collection_id, DIMS, "cosine")
    with pytest.raises(ValueError, match="collection id"):
        docs.search_lexical(collection_id, "a", k=1)

    assert docs.count("docs") == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.search_vector("docs", basis(0), k=0), "k must be"),
        (lambda s: s.search_vector("docs", basis(0), k=1001), "k must be"),
        (lambda s: s.search_vector("docs", [1.0, 0.0], k=1), "dimensions"),
        (lambda s: s.create_index("new", 0, "cosine"), "dimensions"),
        (lambda s: s.create_index("new", DIMS, "dot"), "space"),
    ],
)
def test_invalid_arguments_are_refused(docs: SqliteVectorStore, call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(docs)  # type: ignore[operator]


def test_an_unknown_collection_is_not_found(store: SqliteVectorStore) -> None:
    with pytest.raises(IndexNotFound):
        store.upsert("missing", [chunk("a", basis(0))])
    with pytest.raises(IndexNotFound):
        store.search_lexical("missing", "a", k=1)


# -- concurrency and persistence


def test_concurrent_upserts_and_searches_do_not_corrupt_or_raise(docs: SqliteVectorStore) -> None:
    # GIVEN 4 threads each writing its own document in small batches while searching
    errors: list[BaseException] = []
    per_thread, batch = 60, 5
    start = threading.Barrier(4)

    def work(t: int) -> None:
        try:
            start.wait()
            for b in range(per_thread // batch):
                docs.upsert(
                    "docs",
                    [
                        chunk(
                            f"t{t}-{b * batch + i}",
                            mix((t, 1.0), (4 + i % 4, 0.1)),
                            text=f"thread{t} words",
                            document_id=f"doc-{t}",
                            thread=t,
                        )
                        for i in range(batch)
                    ],
                )
                docs.search_vector("docs", basis(t), k=5, filter=Filter.parse({"thread": t}))
                docs.search_lexical("docs", f"thread{t}", k=5)
                docs.count("docs")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN nothing raised and every chunk is there once, findable both ways
    assert errors == []
    assert docs.count("docs") == 4 * per_thread
    for t in range(4):
        mine = Filter.parse({"document_id": f"doc-{t}"})
        assert len(docs.search_vector("docs", basis(t), k=100, filter=mine)) == per_thread
        assert len(docs.search_lexical("docs", f"thread{t}", k=100)) == per_thread


def test_the_file_persists_across_store_instances(tmp_path: Path) -> None:
    # GIVEN a store that indexed chunks and was closed
    path = tmp_path / "persist.db"
    first = SqliteVectorStore(path)
    first.create_index("docs", DIMS, "l2")
    first.upsert("docs", [chunk("a", basis(0), text="persistent words", lang="en"), chunk("b", basis(1))])
    first.close()

    # WHEN another store opens the same file
    second = SqliteVectorStore(path)

    # THEN it searches what the first wrote
    assert second.count("docs") == 2
    assert ids(second.search_vector("docs", basis(0), k=1, filter=Filter.parse({"lang": "en"}))) == ["a"]
    assert ids(second.search_lexical("docs", "persistent", k=1)) == ["a"]
    second.close()


# -- a realistic size


def test_filtered_knn_is_exact_on_a_realistic_collection(store: SqliteVectorStore, knn_path: str) -> None:
    # GIVEN 3,000 unit vectors of 384 dimensions across 6 tenants
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((3000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tenants = [f"tenant-{i % 6}" for i in range(3000)]
    store.create_index("big", 384, "cosine")
    store.upsert(
        "big",
        [
            IndexedChunk(f"c{i:04}", f"d{i // 10}", f"text {i}", vectors[i].tolist(), metadata={"tenant": tenants[i]})
            for i in range(3000)
        ],
    )
    query = vectors[1234] + 0.05 * rng.standard_normal(384).astype(np.float32)

    # WHEN searching one tenant, and everything
    hits = store.search_vector("big", query.tolist(), k=10, filter=Filter.parse({"tenant": "tenant-1"}))
    everything = store.search_vector("big", query.tolist(), k=10)

    # THEN the results are numpy's exact cosine top 10 among the allowed chunks
    similarity = vectors @ query / np.linalg.norm(query)
    allowed = [i for i in range(3000) if tenants[i] == "tenant-1"]
    expected = sorted(allowed, key=lambda i: -similarity[i])[:10]
    assert ids(hits) == [f"c{i:04}" for i in expected]
    assert [h.score for h in hits] == pytest.approx([float(similarity[i]) for i in expected], abs=1e-4)
    assert ids(everything)[0] == "c1234"
    assert ids(everything) == [f"c{i:04}" for i in np.argsort(-similarity)[:10]]
