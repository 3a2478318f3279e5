"""The OpenSearch store's requests, byte for byte: no local engine accepts `knn`, so the bodies are the contract.

A recording connection stands in for the cluster: it keeps every request and answers from a queue of canned
responses. `connect()` is checked one level lower, on the wire headers urllib3 would send, for SigV4.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import Connection, OpenSearch
from urllib3 import HTTPHeaderDict

from genai_core.knowledge.vectorstores import opensearch as os_store
from genai_core.knowledge.vectorstores.base import Filter, IndexedChunk, IndexNotFound, VectorStore
from genai_core.knowledge.vectorstores.opensearch import (
    BulkWriteError,
    OpenSearchVectorStore,
    connect,
    index_body,
    index_name,
    infer_service,
)

DIMS = 3
MAPPING = {"chunks-docs": {"mappings": {"_meta": {"dimensions": DIMS, "space": "cosine", "schema": 1}}}}
NOT_FOUND = {
    "error": {"type": "index_not_found_exception", "reason": "no such index [chunks-docs]"},
    "status": 404,
}


class Request:
    def __init__(self, method: str, url: str, params: dict[str, Any], body: bytes | None) -> None:
        self.method = method
        self.path = url
        self.params = {key: value.decode() if isinstance(value, bytes) else value for key, value in params.items()}
        self.raw = body.decode() if isinstance(body, bytes) else body

    @property
    def json(self) -> Any:
        assert self.raw is not None
        return json.loads(self.raw)

    @property
    def lines(self) -> list[Any]:
        assert self.raw is not None
        return [json.loads(line) for line in self.raw.splitlines() if line.strip()]


class RecordingConnection(Connection):
    """Records requests; answers each with the next queued (status, body)."""

    requests: list[Request]
    responses: list[tuple[int, Any]]

    def perform_request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        body: Any = None,
        timeout: Any = None,
        ignore: Any = (),
        headers: Any = None,
    ) -> tuple[int, dict[str, str], str]:
        self.requests.append(Request(method, url, dict(params or {}), body))
        status, payload = self.responses.pop(0) if self.responses else (200, {})
        raw = json.dumps(payload)
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, raw, "application/json")
        return status, {"content-type": "application/json"}, raw


@pytest.fixture
def wire() -> Iterator[RecordingConnection]:
    client = OpenSearch(hosts=["http://fake:9200"], connection_class=RecordingConnection)
    connection = client.transport.get_connection()
    connection.requests = []
    connection.responses = []
    connection.client = client  # type: ignore[attr-defined]
    yield connection


def store_on(wire: RecordingConnection, **kwargs: Any) -> OpenSearchVectorStore:
    return OpenSearchVectorStore(wire.client, **kwargs)  # type: ignore[attr-defined]


def chunk(chunk_id: str, **metadata: Any) -> IndexedChunk:
    return IndexedChunk(chunk_id, "doc-1", f"text {chunk_id}", [1.0, 0.0, 0.0], (2,), ("Intro",), dict(metadata))


def search_response(*hits: tuple[str, float]) -> dict[str, Any]:
    return {
        "hits": {
            "total": {"value": len(hits), "relation": "eq"},
            "hits": [
                {
                    "_id": f"id-{chunk_id}",
                    "_score": score,
                    "_source": {
                        "chunk_id": chunk_id,
                        "document_id": "doc-1",
                        "text": f"text {chunk_id}",
                        "pages": [2],
                        "heading_path": ["Intro"],
                        "metadata": {"lang": "en", "year": 2024, "draft": True, "ratio": 1.0},
                    },
                }
                for chunk_id, score in hits
            ],
        }
    }


def bulk_ok(*ops: str) -> dict[str, Any]:
    return {"errors": False, "items": [{op: {"status": 200, "result": "ok"}} for op in ops]}


# -- the interface and names


def test_the_opensearch_store_implements_the_interface(wire: RecordingConnection) -> None:
    assert isinstance(store_on(wire), VectorStore)


@pytest.mark.parametrize(
    ("collection_id", "expected"),
    [
        ("docs", "chunks-docs"),
        ("Docs", "chunks-docs.1"),
        ("dOcs", "chunks-docs.2"),
        ("DOCS", "chunks-docs.f"),
        ("a_b-9", "chunks-a_b-9"),
    ],
)
def test_index_names_are_lowercase_and_keep_case_apart(collection_id: str, expected: str) -> None:
    assert index_name(collection_id) == expected


def test_index_names_never_collide_and_fit_opensearch_limits() -> None:
    ids = ["ab", "Ab", "aB", "AB", "a-b", "a_b", "A" * 128, "a" * 128, "Z9" * 64]
    names = [index_name(i) for i in ids]

    assert len(set(names)) == len(names)
    assert all(name == name.lower() and len(name.encode()) <= 255 for name in names)


def test_a_bad_collection_id_never_reaches_the_wire(wire: RecordingConnection) -> None:
    with pytest.raises(ValueError, match="collection id"):
        store_on(wire).count("../_all")
    assert wire.requests == []


@pytest.mark.parametrize(
    ("endpoint", "service"),
    [
        ("https://abc123.us-east-1.aoss.amazonaws.com", "aoss"),
        ("abc123.eu-west-1.aoss.amazonaws.com", "aoss"),
        ("https://search-kb-xyz.eu-west-1.es.amazonaws.com", "es"),
        ("https://vpc-kb-xyz.eu-west-1.es.amazonaws.com:443/", "es"),
        ("https://aoss.amazonaws.com.evil.example", "es"),
    ],
)
def test_the_service_is_inferred_from_the_endpoint(endpoint: str, service: str) -> None:
    assert infer_service(endpoint) == service


# -- index creation


def test_create_index_sends_the_knn_mapping(wire: RecordingConnection) -> None:
    # GIVEN no index yet
    wire.responses = [(404, NOT_FOUND), (200, {"acknowledged": True})]

    # WHEN creating one
    store_on(wire).create_index("docs", 384, "l2")

    # THEN it looked first, then sent exactly this body
    assert [(r.method, r.path) for r in wire.requests] == [("GET", "/chunks-docs/_mapping"), ("PUT", "/chunks-docs")]
    assert wire.requests[1].json == {
        "settings": {
            "index": {"knn": True},
            "analysis": {
                "analyzer": {
                    "chunk_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}
                }
            },
        },
        "mappings": {
            "_meta": {"dimensions": 384, "space": "l2", "schema": 1},
            "dynamic": "strict",
            "dynamic_templates": [
                {"meta_str": {"path_match": "meta_str.*", "mapping": {"type": "keyword"}}},
                {"meta_int": {"path_match": "meta_int.*", "mapping": {"type": "long"}}},
                {"meta_float": {"path_match": "meta_float.*", "mapping": {"type": "double"}}},
                {"meta_bool": {"path_match": "meta_bool.*", "mapping": {"type": "boolean"}}},
            ],
            "properties": {
                "chunk_id": {"type": "keyword"},
                "document_id": {"type": "keyword"},
                "write_id": {"type": "keyword"},
                "text": {"type": "text", "analyzer": "chunk_text"},
                "pages": {"type": "integer"},
                "heading_path": {"type": "keyword"},
                "vector": {
                    "type": "knn_vector",
                    "dimension": 384,
                    "method": {
                        "name": "hnsw",
                        "engine": "faiss",
                        "space_type": "l2",
                        "parameters": {"m": 16, "ef_construction": 128},
                    },
                },
                "metadata": {"type": "object", "enabled": False},
                "meta_str": {"type": "object", "dynamic": True},
                "meta_int": {"type": "object", "dynamic": True},
                "meta_float": {"type": "object", "dynamic": True},
                "meta_bool": {"type": "object", "dynamic": True},
            },
        },
    }


@pytest.mark.parametrize(
    ("space", "space_type"), [("cosine", "cosinesimil"), ("l2", "l2"), ("innerproduct", "innerproduct")]
)
def test_each_space_maps_to_its_opensearch_space_type(space: Any, space_type: str) -> None:
    assert index_body(8, space)["mappings"]["properties"]["vector"]["method"]["space_type"] == space_type


def test_create_index_of_an_existing_alike_index_sends_nothing_more(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING)]

    store_on(wire).create_index("docs", DIMS, "cosine")

    assert [(r.method, r.path) for r in wire.requests] == [("GET", "/chunks-docs/_mapping")]


def test_create_index_loses_a_race_gracefully(wire: RecordingConnection) -> None:
    # GIVEN another writer creates the index between our look and our create
    exists = {"error": {"type": "resource_already_exists_exception", "reason": "exists"}, "status": 400}
    wire.responses = [(404, NOT_FOUND), (400, exists), (200, MAPPING)]

    # WHEN creating  THEN theirs is compared with ours (alike: no error) ...
    store_on(wire).create_index("docs", DIMS, "cosine")

    # ... and otherwise refused
    wire.responses = [(404, NOT_FOUND), (400, exists), (200, MAPPING)]
    with pytest.raises(ValueError, match="already has an index"):
        store_on(wire).create_index("docs", DIMS, "l2")


# -- searches


def test_knn_without_a_filter(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING), (200, search_response(("a", 1.0)))]

    store_on(wire).search_vector("docs", [0.5, 0.25, 1], k=7)

    search = wire.requests[1]
    assert (search.method, search.path) == ("POST", "/chunks-docs/_search")
    assert search.json == {
        "size": 7,
        "query": {"knn": {"vector": {"vector": [0.5, 0.25, 1.0], "k": 7}}},
        "_source": {"excludes": ["vector", "meta_*"]},
    }


def test_knn_with_a_filter_filters_inside_the_knn_clause(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING), (200, search_response())]
    flt = Filter.parse({"document_id": ["d1", "d2"], "lang": "en", "year": [2024, 2025.5], "draft": True})

    store_on(wire).search_vector("docs", [1, 0, 0], k=3, filter=flt)

    assert wire.requests[1].json == {
        "size": 3,
        "query": {
            "knn": {
                "vector": {
                    "vector": [1.0, 0.0, 0.0],
                    "k": 3,
                    "filter": {
                        "bool": {
                            "filter": [
                                {"terms": {"document_id": ["d1", "d2"]}},
                                {"term": {"meta_str.lang": "en"}},
                                {
                                    "bool": {
                                        "should": [
                                            {"term": {"meta_int.year": 2024}},
                                            {"terms": {"meta_float.year": [2024.0, 2025.5]}},
                                        ],
                                        "minimum_should_match": 1,
                                    }
                                },
                                {"term": {"meta_bool.draft": True}},
                            ]
                        }
                    },
                }
            }
        },
        "_source": {"excludes": ["vector", "meta_*"]},
    }


@pytest.mark.parametrize(
    ("raw", "clause"),
    [
        # exact types: each type has its own field, so true never meets 1 and "1" never meets 1
        ({"k": True}, {"term": {"meta_bool.k": True}}),
        ({"k": "1"}, {"term": {"meta_str.k": "1"}}),
        (
            {"k": 1},
            {
                "bool": {
                    "should": [{"term": {"meta_int.k": 1}}, {"term": {"meta_float.k": 1.0}}],
                    "minimum_should_match": 1,
                }
            },
        ),
        ({"k": 1.5}, {"term": {"meta_float.k": 1.5}}),
        (
            {"k": ["a", False]},
            {
                "bool": {
                    "should": [{"term": {"meta_str.k": "a"}}, {"term": {"meta_bool.k": False}}],
                    "minimum_should_match": 1,
                }
            },
        ),
        ({"k": 2**70 + 1}, {"bool": {"must_not": [{"match_all": {}}]}}),  # no stored number can equal it
    ],
)
def test_filter_values_go_to_the_field_of_their_type(raw: dict[str, Any], clause: dict[str, Any]) -> None:
    assert os_store.filter_clauses(Filter.parse(raw)) == [clause]


def test_lexical_search_is_a_match_on_text_with_a_bool_filter(wire: RecordingConnection) -> None:
    wire.responses = [(200, search_response(("a", 3.2)))]

    store_on(wire).search_lexical("docs", 'refund "policy" AND refund*', k=5, filter=Filter.parse({"lang": "en"}))

    search = wire.requests[0]
    assert (search.method, search.path) == ("POST", "/chunks-docs/_search")
    assert search.json == {
        "size": 5,
        "query": {
            "bool": {
                "must": [{"match": {"text": {"query": "refund policy AND"}}}],
                "filter": [{"term": {"meta_str.lang": "en"}}],
            }
        },
        "_source": {"excludes": ["vector", "meta_*"]},
    }


def test_lexical_search_without_a_filter_has_no_filter_clause(wire: RecordingConnection) -> None:
    wire.responses = [(200, search_response())]

    store_on(wire).search_lexical("docs", "alpha", k=2)

    assert wire.requests[0].json["query"] == {"bool": {"must": [{"match": {"text": {"query": "alpha"}}}]}}


@pytest.mark.parametrize(
    ("space", "wire_score", "score"),
    [
        ("cosine", 1.0, 1.0),  # (1 + cos) / 2 on the wire
        ("cosine", 0.75, 0.5),
        ("cosine", 0.0, -1.0),
        ("l2", 0.2, 0.2),  # 1 / (1 + d^2) on both
        ("innerproduct", 9.0, 8.0),  # ip + 1 for ip >= 0
        ("innerproduct", 0.25, -3.0),  # 1 / (1 - ip) for ip < 0
    ],
)
def test_knn_scores_are_on_the_embedded_stores_scale(
    wire: RecordingConnection, space: str, wire_score: float, score: float
) -> None:
    mapping = {"chunks-docs": {"mappings": {"_meta": {"dimensions": DIMS, "space": space, "schema": 1}}}}
    wire.responses = [(200, mapping), (200, search_response(("a", wire_score)))]

    hits = store_on(wire).search_vector("docs", [1, 2, 3], k=1)

    assert hits[0].score == pytest.approx(score)
    assert hits[0].metadata == {"lang": "en", "year": 2024, "draft": True, "ratio": 1.0}
    assert (hits[0].pages, hits[0].heading_path) == ((2,), ("Intro",))


def test_hits_are_deduplicated_by_chunk_id_best_first(wire: RecordingConnection) -> None:
    wire.responses = [(200, search_response(("b", 2.0), ("a", 3.0), ("b", 1.0)))]

    hits = store_on(wire).search_lexical("docs", "text", k=3)

    assert [(h.chunk_id, h.score) for h in hits] == [("a", 3.0), ("b", 2.0)]


def test_a_query_without_words_only_checks_the_index_exists(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING)]

    assert store_on(wire).search_lexical("docs", " *** ", k=3) == []
    assert [(r.method, r.path) for r in wire.requests] == [("GET", "/chunks-docs/_mapping")]


def test_a_missing_index_is_index_not_found(wire: RecordingConnection) -> None:
    wire.responses = [(404, NOT_FOUND)]

    with pytest.raises(IndexNotFound):
        store_on(wire).search_lexical("docs", "alpha", k=3)


def test_count_reads_the_total_of_an_empty_search(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING), (200, {"hits": {"total": {"value": 42, "relation": "eq"}, "hits": []}})]

    assert store_on(wire).count("docs") == 42
    assert wire.requests[1].json == {"size": 0, "track_total_hits": True, "query": {"match_all": {}}}


# -- writes


def test_a_domain_upsert_is_one_bulk_index_with_deterministic_ids(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING), (200, bulk_ok("index", "index"))]

    store_on(wire).upsert("docs", [chunk("a", lang="en", year=2024, ratio=0.5, draft=False), chunk("b")])

    bulk = wire.requests[1]
    assert (bulk.method, bulk.path, bulk.params) == ("POST", "/_bulk", {"refresh": "wait_for"})
    lines = bulk.lines
    assert lines[0] == {"index": {"_index": "chunks-docs", "_id": hashlib.sha256(b"a").hexdigest()}}
    write_id = lines[1].pop("write_id")
    assert len(write_id) == 32
    assert lines[1] == {
        "chunk_id": "a",
        "document_id": "doc-1",
        "text": "text a",
        "pages": [2],
        "heading_path": ["Intro"],
        "vector": [1.0, 0.0, 0.0],
        "metadata": {"lang": "en", "year": 2024, "ratio": 0.5, "draft": False},
        "meta_str": {"lang": "en"},
        "meta_int": {"year": 2024},
        "meta_float": {"ratio": 0.5},
        "meta_bool": {"draft": False},
    }
    assert lines[2] == {"index": {"_index": "chunks-docs", "_id": hashlib.sha256(b"b").hexdigest()}}
    assert "meta_str" not in lines[3]  # no empty typed objects


def test_a_serverless_upsert_indexes_without_ids_then_deletes_the_old_versions(wire: RecordingConnection) -> None:
    # GIVEN chunk "a" already stored under a server-generated id
    found = {"hits": {"total": {"value": 1}, "hits": [{"_id": "old-a", "sort": ["a", "w1"]}]}}
    wire.responses = [(200, MAPPING), (200, found), (200, bulk_ok("index", "index")), (200, bulk_ok("delete"))]

    # WHEN "a" and "b" are upserted
    store_on(wire, serverless=True).upsert("docs", [chunk("a"), chunk("b")])

    # THEN: look up, index (no _id, no refresh), and only then delete the old version
    lookup, index, delete = wire.requests[1:]
    assert lookup.json == {
        "size": 1000,
        "query": {"bool": {"filter": [{"terms": {"chunk_id": ["a", "b"]}}]}},
        "sort": [{"chunk_id": "asc"}, {"write_id": "asc"}],
        "_source": False,
    }
    assert index.params == {}
    assert [line for line in index.lines if "index" in line] == [{"index": {"_index": "chunks-docs"}}] * 2
    assert (delete.params, delete.lines) == ({}, [{"delete": {"_index": "chunks-docs", "_id": "old-a"}}])


def test_a_serverless_upsert_that_fails_keeps_the_old_versions(wire: RecordingConnection) -> None:
    found = {"hits": {"hits": [{"_id": "old-a", "sort": ["a", "w1"]}]}}
    rejected = {
        "errors": True,
        "items": [{"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad"}}}],
    }
    wire.responses = [(200, MAPPING), (200, found), (200, rejected)]

    with pytest.raises(BulkWriteError, match=r"1 of 1 bulk writes failed.*mapper_parsing_exception: bad"):
        store_on(wire, serverless=True).upsert("docs", [chunk("a")])

    assert not any(r.raw and '"delete"' in r.raw for r in wire.requests)


def test_bulk_requests_stay_under_the_byte_limit(wire: RecordingConnection) -> None:
    # GIVEN chunks of ~20 KB of text and a 64 KiB limit
    big = [IndexedChunk(f"c{i}", "d", "word " * 4000, [1.0, 0.0, 0.0]) for i in range(10)]
    wire.responses = [(200, MAPPING)] + [(200, bulk_ok("index", "index", "index"))] * 10

    store_on(wire, bulk_max_bytes=64 * 1024).upsert("docs", big)

    bulks = [r for r in wire.requests if r.path == "/_bulk"]
    assert len(bulks) > 1
    assert all(len(r.raw.encode()) <= 64 * 1024 for r in bulks if r.raw)
    assert sum(len(r.lines) for r in bulks) == 20


def test_the_first_bulk_failure_is_reported(wire: RecordingConnection) -> None:
    items = [
        {"index": {"_id": "x", "status": 200}},
        {"index": {"_id": "y", "status": 400, "error": {"type": "illegal_argument_exception", "reason": "first"}}},
        {"index": {"_id": "z", "status": 400, "error": {"type": "other", "reason": "second"}}},
    ]
    wire.responses = [(200, MAPPING), (200, {"errors": True, "items": items})]

    with pytest.raises(BulkWriteError, match=r"2 of 3 .*index y failed with status 400: illegal_argument_exception"):
        store_on(wire).upsert("docs", [chunk("a"), chunk("b"), chunk("c")])


def test_an_upsert_to_a_missing_collection_writes_nothing(wire: RecordingConnection) -> None:
    # a bulk write would create the index with dynamic mappings: the store checks first
    wire.responses = [(404, NOT_FOUND)]

    with pytest.raises(IndexNotFound):
        store_on(wire).upsert("docs", [chunk("a")])
    assert [r.path for r in wire.requests] == ["/chunks-docs/_mapping"]


def test_a_domain_deletes_a_document_by_query(wire: RecordingConnection) -> None:
    wire.responses = [(200, MAPPING), (200, {"deleted": 3, "failures": []})]

    assert store_on(wire).delete_document("docs", "doc-9") == 3
    request = wire.requests[1]
    assert (request.method, request.path) == ("POST", "/chunks-docs/_delete_by_query")
    assert request.params == {"refresh": "true", "conflicts": "proceed"}
    assert request.json == {"query": {"term": {"document_id": "doc-9"}}}


def test_serverless_deletes_a_document_by_id_page_by_page(wire: RecordingConnection, monkeypatch: Any) -> None:
    # GIVEN a page size of 2 and three chunks
    monkeypatch.setattr(os_store, "PAGE_SIZE", 2)
    page1 = {"hits": {"hits": [{"_id": "i1", "sort": ["a", "w"]}, {"_id": "i2", "sort": ["b", "w"]}]}}
    page2 = {"hits": {"hits": [{"_id": "i3", "sort": ["c", "w"]}]}}
    deleted = {
        "errors": True,
        "items": [
            {"delete": {"status": 200, "result": "deleted"}},
            {"delete": {"status": 404, "result": "not_found"}},  # already gone: not an error, not counted
            {"delete": {"status": 200, "result": "deleted"}},
        ],
    }
    wire.responses = [(200, MAPPING), (200, page1), (200, page2), (200, deleted)]

    # WHEN deleting the document
    removed = store_on(wire, serverless=True).delete_document("docs", "doc-9")

    # THEN the second page continued after the first, and the ids were bulk-deleted
    assert removed == 2
    assert wire.requests[2].json["search_after"] == ["b", "w"]
    assert wire.requests[1].json["query"] == {"bool": {"filter": [{"terms": {"document_id": ["doc-9"]}}]}}
    assert [line["delete"]["_id"] for line in wire.requests[3].lines] == ["i1", "i2", "i3"]


def test_drop_index_of_a_missing_index_is_a_no_op(wire: RecordingConnection) -> None:
    wire.responses = [(404, NOT_FOUND)]

    store_on(wire).drop_index("Docs")

    assert [(r.method, r.path) for r in wire.requests] == [("DELETE", "/chunks-docs.1")]


# -- connect


class FakePool:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def urlopen(self, method: str, url: str, body: Any, **kwargs: Any) -> Any:
        self.calls.append((method, url, dict(kwargs["headers"])))

        class Response:
            status = 200
            data = json.dumps({"hits": {"total": {"value": 0}, "hits": []}, **MAPPING}).encode()
            headers = HTTPHeaderDict({"content-type": "application/json"})

        return Response()

    def close(self) -> None:
        pass


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


@pytest.mark.parametrize(
    ("endpoint", "service", "serverless"),
    [
        ("https://abc123.eu-west-1.aoss.amazonaws.com", "aoss", True),
        ("search-kb-xyz.eu-west-1.es.amazonaws.com", "es", False),
    ],
)
@pytest.mark.usefixtures("fake_credentials")
def test_connect_signs_every_request_with_sigv4_for_the_service(endpoint: str, service: str, serverless: bool) -> None:
    # GIVEN a store from connect() whose HTTP pool records what would go on the wire
    store = connect(endpoint, "eu-west-1")
    connection = store.client.transport.get_connection()
    pool = FakePool()
    connection.pool = pool

    # WHEN it sends a request
    store.count("docs")

    # THEN https on 443 with verified certificates, and a SigV4 signature scoped to the region and service
    assert connection.host.startswith("https://") and connection.host.endswith(":443")
    assert connection.pool is pool
    method, path, headers = pool.calls[0]
    assert (method, path) == ("GET", "/chunks-docs/_mapping")
    assert [call[1] for call in pool.calls] == ["/chunks-docs/_mapping", "/chunks-docs/_search"]
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/eu-west-1/{service}/aws4_request" in authorization
    assert "x-amz-content-sha256" in authorization
    assert headers["X-Amz-Date"]
    assert store._serverless is serverless
    transport = store.client.transport
    assert transport.retry_on_status == (429, 502, 503, 504)
    assert transport.max_retries == 3
    assert transport.retry_on_timeout is False


@pytest.mark.usefixtures("fake_credentials")
def test_connect_verifies_certificates() -> None:
    store = connect("https://abc123.eu-west-1.aoss.amazonaws.com", "eu-west-1")
    connection = store.client.transport.get_connection()

    assert connection.pool.cert_reqs == "CERT_REQUIRED"
    assert connection.pool.ca_certs  # certifi's bundle


@pytest.mark.usefixtures("fake_credentials")
def test_connect_refuses_plain_http() -> None:
    with pytest.raises(ValueError, match="https"):
        connect("http://localhost:9200", "eu-west-1")
