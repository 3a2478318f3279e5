"""The OpenSearch vector store: one k-NN index per collection, on OpenSearch Serverless (AOSS) or a managed domain.

Index layout (`_mapping`, see `index_body`):

- `vector`: `knn_vector`, HNSW on the faiss engine. faiss is the engine both AOSS and domains serve, and the one with
  efficient filtering inside the `knn` clause for HNSW (filters applied during the graph search, so k hits come back
  even when the filter is narrow); nmslib is deprecated and has no efficient filtering, lucene is slower to index at
  scale. faiss accepts `cosinesimil` from OpenSearch 2.19 (AOSS runs a current version; older domains refuse the
  mapping with "does not support space type", https://gitlab.com/gitlab-org/gitlab/-/merge_requests/175261).
  https://docs.opensearch.org/latest/vector-search/filter-search-knn/efficient-knn-filtering/
- `text`: BM25 over a `standard` tokenizer with `lowercase` + `asciifolding`, so "CAFE" finds "Café" as in the
  embedded store; `chunk_id`, `document_id`, `heading_path`: keyword; `pages`: integer.
- `metadata`: the chunk's metadata as given, stored but not indexed (`enabled: false`), returned in hits with its
  JSON types intact.
- `meta_str.<key>` (keyword), `meta_int.<key>` (long), `meta_float.<key>` (double), `meta_bool.<key>` (boolean):
  typed copies that filters query. Filters match by type exactly, as in the embedded store: `true` only looks in
  `meta_bool`, `"1"` only in `meta_str`, a number in `meta_int` and `meta_float` (so `1` matches `1.0`). One key may
  hold a string in one chunk and a number in another without a mapping conflict. Corner: an integer filter beyond
  2**53 also matches a stored float equal to its float rounding, where the embedded store compares exactly. Each
  distinct (key, type) is one mapped field, counted against `index.mapping.total_fields.limit` (1000 by default).
- `_meta`: `{"dimensions", "space", "schema"}`: what `create_index` compares to tell "exists alike" from "exists
  otherwise".

Index names are `index_prefix` + the collection id, lowercased (OpenSearch index names must be lowercase) and, when
it had capitals, followed by "." and the hex bit mask of their positions: "docs" -> "chunks-docs", "Docs" ->
"chunks-docs.1", "dOcs" -> "chunks-docs.2". Collection ids never contain ".", so the mapping is injective and
reversible, and at most 7 + 128 + 1 + 32 characters long (OpenSearch allows 255 bytes).

AOSS constraints (Amazon's documentation and the clients that hit them), and how this store meets them:

- Custom document ids: "For time series and vector search collections, you can't index by custom document ID or
  update by upsert requests" (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/
  serverless-overview.html#serverless-usecase); `_bulk` `index` with `_id` fails with "Document ID is not supported
  in create/index operation request" (https://github.com/opensearch-project/opensearch-py/issues/792). Only
  `DELETE <index>/_doc/<id>`, `POST <index>/_bulk` and `POST <index>/_doc` are listed for those collections
  (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-genref.html). So with
  `serverless=True` documents get server-generated ids and an upsert (1) looks up the `_id`s already holding the
  batch's chunk ids, (2) bulk-indexes the new versions, (3) only then bulk-deletes the old `_id`s: a failure leaves
  the old version (and maybe a duplicate), never a lost chunk, and retrying the upsert converges. On a domain
  (`serverless=False`) `_id` is the SHA-256 of the chunk id, so an upsert is one bulk `index`, replaced in place.
- Refresh: AOSS has no `_refresh` API (404) and refuses `refresh=true` ("true refresh policy is not supported",
  https://github.com/opensearch-project/opensearch-ruby/issues/131); writes become searchable after the collection's
  own refresh, seconds later. With `serverless=True` no request carries `refresh`, so reads just after a write may
  not see it yet, and two upserts of one chunk within that window can leave two versions: hits are de-duplicated by
  chunk id and the next upsert of that chunk removes the extra one, but `count` may over-count meanwhile. On a
  domain, writes use `refresh=wait_for` / `refresh=true`, so a write is visible when the call returns.
- `_delete_by_query`: not among the write operations AOSS lists for vector collections (the page above), and it
  answered 404 on AOSS in https://github.com/opensearch-project/opensearch-java/issues/1112; with `serverless=True`
  `delete_document` pages through the document's `_id`s (`search_after` on chunk id + write id) and bulk-deletes
  them, counting the deletions. Domains use `_delete_by_query` with `refresh=true`.
- Counts use `_search` with `size: 0` and `track_total_hits`: AOSS lists `_search` as a read operation; no source
  consulted said either way whether `_count` works on vector collections, so the store does not depend on it.
- Engine: an AOSS index whose `knn_vector` names no engine got nmslib, which cannot filter inside `knn`
  (https://github.com/apache/flink-agents/pull/678); the mapping always names faiss.

kNN search is approximate (HNSW) unless the filter leaves few enough chunks for faiss to score them exactly, so its
results can differ from the embedded store's exact scan at the margin. Scores are converted back from OpenSearch's
scale to the embedded store's: cosine -> cosine similarity ((1 + cos) / 2 on the wire), l2 -> 1 / (1 + d^2) (the
same on both), innerproduct -> the dot product (ip + 1 or 1 / (1 - ip) on the wire); lexical -> BM25 `_score`.
https://docs.opensearch.org/latest/mappings/supported-field-types/knn-spaces/

Client: `connect()` signs with SigV4 through `Urllib3HttpConnection` + `Urllib3AWSV4SignerAuth`: urllib3 is the
client's default connection class and sits under `requests` anyway, so the requests adapter would only add a layer
per call; both sign every attempt afresh (retries get a new timestamp) and use frozen credentials per request.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import NotFoundError, RequestError

from genai_core.knowledge.vectorstores.base import (
    MAX_DIMENSIONS,
    SPACES,
    Filter,
    Hit,
    IndexedChunk,
    IndexNotFound,
    MetadataValue,
    Space,
    validate_chunk,
    validate_collection_id,
    validate_k,
)

SCHEMA_VERSION = 1
DEFAULT_BULK_MAX_BYTES = 5 * 1024 * 1024  # half the smallest HTTP payload limit (10 MiB) of domains and AOSS
BULK_CHUNK_DOCS = 500
BULK_RETRIES = 3  # per item rejected with 429, with exponential backoff
PAGE_SIZE = 1000  # ids per page when looking up or deleting by query on AOSS
LOOKUP_BATCH = 500  # chunk ids per `terms` lookup
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
MAX_QUERY_TERMS = 64
REQUEST_TIMEOUT_S = 30
CLIENT_RETRIES = 3
RETRY_STATUSES = (429, 502, 503, 504)

SPACE_TYPES: dict[Space, str] = {"cosine": "cosinesimil", "l2": "l2", "innerproduct": "innerproduct"}
_TERM = re.compile(r"\w+")
_INDEX_PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}|")
_INT64 = (-(2**63), 2**63 - 1)
_SOURCE = {"excludes": ["vector", "meta_*"]}
_AOSS_HOST = re.compile(r"\.aoss\.amazonaws\.com(\.cn)?$")


class BulkWriteError(RuntimeError):
    """Some writes of a bulk request failed; the message names the first failure and how many there were."""


@dataclass(frozen=True)
class _Shape:
    dimensions: int
    space: Space


def index_name(collection_id: str, prefix: str = "chunks-") -> str:
    """The collection's index: lowercase, injective (see the module docstring)."""
    validate_collection_id(collection_id)
    mask = sum(1 << i for i, char in enumerate(collection_id) if char.isupper())
    return prefix + collection_id.lower() + (f".{mask:x}" if mask else "")


def index_body(dimensions: int, space: Space) -> dict[str, Any]:
    """The create-index request body: settings, mapping and the `_meta` that `create_index` compares."""
    typed = [
        ("meta_str", {"type": "keyword"}),
        ("meta_int", {"type": "long"}),
        ("meta_float", {"type": "double"}),
        ("meta_bool", {"type": "boolean"}),
    ]
    return {
        "settings": {
            "index": {"knn": True},
            "analysis": {
                "analyzer": {
                    "chunk_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}
                }
            },
        },
        "mappings": {
            "_meta": {"dimensions": dimensions, "space": space, "schema": SCHEMA_VERSION},
            "dynamic": "strict",
            "dynamic_templates": [
                {field: {"path_match": f"{field}.*", "mapping": mapping}} for field, mapping in typed
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
                    "dimension": dimensions,
                    "method": {
                        "name": "hnsw",
                        "engine": "faiss",
                        "space_type": SPACE_TYPES[space],
                        "parameters": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
                    },
                },
                "metadata": {"type": "object", "enabled": False},
                **{field: {"type": "object", "dynamic": True} for field, _ in typed},
            },
        },
    }


def document_id_for(chunk_id: str) -> str:
    """A domain's `_id` for a chunk: fixed length whatever the chunk id (`_id` is limited to 512 bytes)."""
    return hashlib.sha256(chunk_id.encode("utf-8")).hexdigest()


def chunk_source(chunk: IndexedChunk) -> dict[str, Any]:
    """The stored document of a chunk, with the typed metadata copies filters query."""
    typed: dict[str, dict[str, Any]] = {"meta_str": {}, "meta_int": {}, "meta_float": {}, "meta_bool": {}}
    for key, value in chunk.metadata.items():
        if isinstance(value, bool):
            typed["meta_bool"][key] = value
        elif isinstance(value, int):
            typed["meta_int"][key] = value
        elif isinstance(value, float):
            typed["meta_float"][key] = value
        else:
            typed["meta_str"][key] = value
    return {
        "chunk_id": chunk.id,
        "document_id": chunk.document_id,
        "write_id": uuid.uuid4().hex,
        "text": chunk.text,
        "pages": list(chunk.pages),
        "heading_path": list(chunk.heading_path),
        "vector": [float(x) for x in chunk.vector],
        "metadata": dict(chunk.metadata),
        **{field: values for field, values in typed.items() if values},
    }


def _value_clause(field: str, values: list[Any]) -> dict[str, Any]:
    return {"term": {field: values[0]}} if len(values) == 1 else {"terms": {field: values}}


def filter_clauses(filter: Filter | None) -> list[dict[str, Any]]:
    """The filter as bool-filter clauses (AND of keys, OR of each key's values), exact by type."""
    if filter is None or filter.empty:
        return []
    clauses: list[dict[str, Any]] = []
    if filter.document_ids is not None:
        clauses.append(_value_clause("document_id", list(dict.fromkeys(filter.document_ids))))
    for key, values in filter.metadata.items():
        by_field: dict[str, list[Any]] = {"meta_str": [], "meta_bool": [], "meta_int": [], "meta_float": []}
        for value in values:
            if isinstance(value, bool):
                by_field["meta_bool"].append(value)
            elif isinstance(value, str):
                by_field["meta_str"].append(value)
            else:
                # A number matches stored integers and floats of the same value: 1 matches 1.0.
                if (isinstance(value, int) or value.is_integer()) and _INT64[0] <= value <= _INT64[1]:
                    by_field["meta_int"].append(int(value))
                as_float = float(value)
                if as_float == value:
                    by_field["meta_float"].append(as_float)
        options = [
            _value_clause(f"{field}.{key}", list(dict.fromkeys(found))) for field, found in by_field.items() if found
        ]
        if not options:  # e.g. an integer beyond int64: no stored value can equal it
            options = [{"bool": {"must_not": [{"match_all": {}}]}}]
        clauses.append(options[0] if len(options) == 1 else {"bool": {"should": options, "minimum_should_match": 1}})
    return clauses


def knn_query(vector: Sequence[float], k: int, filter: Filter | None = None) -> dict[str, Any]:
    """The kNN search body; a filter goes inside the `knn` clause (faiss efficient filtering)."""
    knn: dict[str, Any] = {"vector": [float(x) for x in vector], "k": k}
    clauses = filter_clauses(filter)
    if clauses:
        knn["filter"] = {"bool": {"filter": clauses}}
    return {"size": k, "query": {"knn": {"vector": knn}}, "_source": _SOURCE}


def lexical_terms(text: str) -> str | None:
    """User text as at most MAX_QUERY_TERMS distinct words; None when it has none (nothing can match)."""
    terms: list[str] = []
    for term in _TERM.findall(text if isinstance(text, str) else ""):
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_QUERY_TERMS:
            break
    return " ".join(terms) or None


def lexical_query(terms: str, k: int, filter: Filter | None = None) -> dict[str, Any]:
    """The BM25 search body: a `match` (OR of the words, never query syntax) with the filter as bool filter."""
    query: dict[str, Any] = {"bool": {"must": [{"match": {"text": {"query": terms}}}]}}
    clauses = filter_clauses(filter)
    if clauses:
        query["bool"]["filter"] = clauses
    return {"size": k, "query": query, "_source": _SOURCE}


def _similarity(space: Space, score: float) -> float:
    """OpenSearch's kNN `_score` back on the embedded store's scale (see the module docstring)."""
    if space == "cosine":
        return 2.0 * score - 1.0
    if space == "innerproduct":
        return score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score
    return score


def _check_direction(space: Space, vector: Sequence[float], what: str) -> None:
    if space == "cosine" and not any(vector):
        raise ValueError(f"{what} is all zeros: it has no direction to compare by cosine")


def _is_index_not_found(error: NotFoundError) -> bool:
    return error.error == "index_not_found_exception" or "index_not_found" in str(error.info)


class OpenSearchVectorStore:
    """`VectorStore` on OpenSearch. `serverless=True` for AOSS collections (see the module docstring)."""

    def __init__(
        self,
        client: OpenSearch,
        *,
        index_prefix: str = "chunks-",
        bulk_max_bytes: int = DEFAULT_BULK_MAX_BYTES,
        serverless: bool = False,
    ) -> None:
        if not isinstance(index_prefix, str) or not _INDEX_PREFIX.fullmatch(index_prefix):
            raise ValueError(f"index_prefix {index_prefix!r} must be lowercase letters, digits, '_' and '-'")
        if bulk_max_bytes < 64 * 1024:
            raise ValueError("bulk_max_bytes must be at least 64 KiB")
        self._client = client
        self._prefix = index_prefix
        self._bulk_max_bytes = bulk_max_bytes
        self._serverless = serverless
        self._shapes: dict[str, _Shape] = {}  # searches trust it; writes re-read the mapping

    @property
    def client(self) -> OpenSearch:
        return self._client

    def index_name(self, collection_id: str) -> str:
        return index_name(collection_id, self._prefix)

    # -- collections

    def _read_shape(self, index: str) -> _Shape | None:
        """The index's dimensions and space from its `_meta`; None when it has no index."""
        try:
            response = self._client.indices.get_mapping(index=index)
        except NotFoundError as error:
            if _is_index_not_found(error):
                self._shapes.pop(index, None)
                return None
            raise
        mapping: dict[str, Any] = response.get(index) or next(iter(response.values()), {})
        meta: dict[str, Any] = mapping.get("mappings", {}).get("_meta") or {}
        dimensions, space = meta.get("dimensions"), meta.get("space")
        if meta.get("schema") != SCHEMA_VERSION or not isinstance(dimensions, int) or space not in SPACES:
            raise ValueError(f"index {index!r} exists but was not created by this store (its _meta is {meta!r})")
        shape = _Shape(dimensions, space)
        self._shapes[index] = shape
        return shape

    def _shape(self, collection_id: str, *, fresh: bool = False) -> tuple[str, _Shape]:
        index = self.index_name(collection_id)
        shape = None if fresh else self._shapes.get(index)
        if shape is None:
            shape = self._read_shape(index)
        if shape is None:
            raise IndexNotFound(f"collection {collection_id!r} has no index")
        return index, shape

    def create_index(self, collection_id: str, dimensions: int, space: Space) -> None:
        index = self.index_name(collection_id)
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS:
            raise ValueError(f"dimensions must be an integer from 1 to {MAX_DIMENSIONS}, not {dimensions!r}")
        if space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(SPACES)}, not {space!r}")
        existing = self._read_shape(index)
        if existing is None:
            try:
                self._client.indices.create(index=index, body=index_body(dimensions, space))
                self._shapes[index] = _Shape(dimensions, space)
                return
            except RequestError as error:
                if error.error != "resource_already_exists_exception":
                    raise
            existing = self._read_shape(index)  # another writer created it first: compare with theirs
            if existing is None:
                raise IndexNotFound(f"collection {collection_id!r}: its index vanished while being created")
        if (existing.dimensions, existing.space) != (dimensions, space):
            raise ValueError(
                f"collection {collection_id!r} already has an index of {existing.dimensions} dimensions"
                f" in space {existing.space}"
            )

    def drop_index(self, collection_id: str) -> None:
        index = self.index_name(collection_id)
        self._shapes.pop(index, None)
        try:
            self._client.indices.delete(index=index)
        except NotFoundError as error:
            if not _is_index_not_found(error):
                raise

    def count(self, collection_id: str) -> int:
        index, _ = self._shape(collection_id)
        response = self._search(index, {"size": 0, "track_total_hits": True, "query": {"match_all": {}}})
        return int(response["hits"]["total"]["value"])

    # -- writes

    def upsert(self, collection_id: str, chunks: Sequence[IndexedChunk]) -> None:
        index, shape = self._shape(collection_id, fresh=True)  # a bulk write to a missing index would create one
        for chunk in chunks:
            validate_chunk(chunk, shape.dimensions)
            _check_direction(shape.space, chunk.vector, f"chunk {chunk.id!r}: vector")
            for key, value in chunk.metadata.items():
                if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
                    raise ValueError(f"chunk {chunk.id!r}: metadata {key!r} is outside the 64-bit integer range")
        latest = list({chunk.id: chunk for chunk in chunks}.values())  # the last version of a repeated id wins
        if not latest:
            return
        if not self._serverless:
            self._bulk(
                (
                    {"_op_type": "index", "_index": index, "_id": document_id_for(c.id), "_source": chunk_source(c)}
                    for c in latest
                ),
                refresh="wait_for",
            )
            return
        stale = self._ids_where(index, "chunk_id", [chunk.id for chunk in latest])
        self._bulk({"_op_type": "index", "_index": index, "_source": chunk_source(c)} for c in latest)
        if stale:
            self._bulk(({"_op_type": "delete", "_index": index, "_id": _id} for _id in stale), ignore_status=(404,))

    def delete_document(self, collection_id: str, document_id: str) -> int:
        index, _ = self._shape(collection_id)
        if not self._serverless:
            response = self._call(
                self._client.delete_by_query,
                index=index,
                body={"query": {"term": {"document_id": document_id}}},
                refresh=True,
                conflicts="proceed",
            )
            return int(response.get("deleted", 0))
        ids = self._ids_where(index, "document_id", [document_id])
        return self._bulk(({"_op_type": "delete", "_index": index, "_id": _id} for _id in ids), ignore_status=(404,))

    def _ids_where(self, index: str, field: str, values: list[str]) -> list[str]:
        """Every `_id` whose `field` is one of `values`, paged by `search_after` (AOSS has no delete-by-query)."""
        ids: list[str] = []
        for start in range(0, len(values), LOOKUP_BATCH):
            batch = values[start : start + LOOKUP_BATCH]
            after: list[Any] | None = None
            while True:
                body: dict[str, Any] = {
                    "size": PAGE_SIZE,
                    "query": {"bool": {"filter": [{"terms": {field: batch}}]}},
                    "sort": [{"chunk_id": "asc"}, {"write_id": "asc"}],
                    "_source": False,
                }
                if after is not None:
                    body["search_after"] = after
                hits = self._search(index, body)["hits"]["hits"]
                ids.extend(hit["_id"] for hit in hits)
                if len(hits) < PAGE_SIZE:
                    break
                after = hits[-1]["sort"]
        return ids

    def _bulk(self, actions: Iterable[dict[str, Any]], ignore_status: tuple[int, ...] = (), **params: Any) -> int:
        """Send actions in requests of at most bulk_max_bytes; the number that succeeded, or BulkWriteError."""
        done, failed = 0, 0
        first: str | None = None
        for _, item in helpers.streaming_bulk(
            self._client,
            actions,
            chunk_size=BULK_CHUNK_DOCS,
            max_chunk_bytes=self._bulk_max_bytes,
            raise_on_error=False,
            raise_on_exception=True,
            max_retries=BULK_RETRIES,
            initial_backoff=1,
            max_backoff=30,
            **params,
        ):
            op, result = next(iter(item.items()))
            status = int(result.get("status", 500))
            if 200 <= status < 300:
                done += 1
            elif status not in ignore_status:
                failed += 1
                if first is None:
                    error = result.get("error")
                    reason = (
                        f"{error.get('type')}: {error.get('reason')}" if isinstance(error, Mapping) else repr(error)
                    )
                    first = f"{op} {result.get('_id', '')} failed with status {status}: {reason}"
        if failed:
            raise BulkWriteError(f"{failed} of {failed + done} bulk writes failed; the first: {first}")
        return done

    # -- searches

    def search_vector(
        self, collection_id: str, vector: Sequence[float], k: int, filter: Filter | None = None
    ) -> list[Hit]:
        validate_k(k)
        index, shape = self._shape(collection_id)
        validate_chunk(IndexedChunk(id="query", document_id="query", text="", vector=list(vector)), shape.dimensions)
        _check_direction(shape.space, vector, "query vector")
        response = self._search(index, knn_query(vector, k, filter))
        return self._hits(response, lambda score: _similarity(shape.space, score))

    def search_lexical(self, collection_id: str, query: str, k: int, filter: Filter | None = None) -> list[Hit]:
        validate_k(k)
        terms = lexical_terms(query)
        if terms is None:
            self._shape(collection_id, fresh=True)  # still IndexNotFound for a missing collection
            return []
        index = self.index_name(collection_id)
        return self._hits(self._search(index, lexical_query(terms, k, filter)), float)

    def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self._client.search, index=index, body=body)

    def _call(self, method: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return method(**kwargs)  # type: ignore[no-any-return]
        except NotFoundError as error:
            if _is_index_not_found(error):
                self._shapes.pop(kwargs.get("index", ""), None)
                raise IndexNotFound(f"index {kwargs.get('index')!r} does not exist") from error
            raise

    @staticmethod
    def _hits(response: Mapping[str, Any], score: Any) -> list[Hit]:
        hits: dict[str, Hit] = {}
        for raw in response["hits"]["hits"]:
            source = raw.get("_source") or {}
            chunk_id = source.get("chunk_id")
            if chunk_id is None or chunk_id in hits:  # on AOSS a chunk may briefly have two versions
                continue
            metadata: dict[str, MetadataValue] = dict(source.get("metadata") or {})
            hits[chunk_id] = Hit(
                chunk_id=chunk_id,
                document_id=source.get("document_id", ""),
                text=source.get("text", ""),
                score=score(float(raw.get("_score") or 0.0)),
                pages=tuple(source.get("pages") or ()),
                heading_path=tuple(source.get("heading_path") or ()),
                metadata=metadata,
            )
        return sorted(hits.values(), key=lambda hit: (-hit.score, hit.chunk_id))


def infer_service(endpoint: str) -> Literal["aoss", "es"]:
    """ "aoss" for an OpenSearch Serverless collection endpoint, "es" for a domain."""
    host = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").hostname or ""
    return "aoss" if _AOSS_HOST.search(host) else "es"


def connect(
    endpoint: str, region: str, service: Literal["aoss", "es"] | None = None, *, index_prefix: str = "chunks-"
) -> OpenSearchVectorStore:
    """A store on an AOSS collection or a domain endpoint, signed with the Lambda's (boto3's) credentials."""
    import boto3
    from opensearchpy import Urllib3AWSV4SignerAuth, Urllib3HttpConnection

    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"endpoint {endpoint!r} must be an https URL or a host name")
    service = service or infer_service(endpoint)
    if service not in ("aoss", "es"):
        raise ValueError(f"service must be 'aoss' or 'es', not {service!r}")
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found to sign OpenSearch requests")
    client = OpenSearch(
        hosts=[{"host": parts.hostname, "port": parts.port or 443}],
        http_auth=Urllib3AWSV4SignerAuth(credentials, region, service),
        use_ssl=True,
        verify_certs=True,
        connection_class=Urllib3HttpConnection,
        timeout=REQUEST_TIMEOUT_S,
        max_retries=CLIENT_RETRIES,
        retry_on_status=RETRY_STATUSES,
        # A timed-out bulk may have been applied: on AOSS (server-generated ids) a retry would duplicate it.
        retry_on_timeout=False,
    )
    return OpenSearchVectorStore(client, index_prefix=index_prefix, serverless=service == "aoss")


__all__ = [
    "BulkWriteError",
    "OpenSearchVectorStore",
    "connect",
    "index_body",
    "index_name",
    "infer_service",
    "knn_query",
    "lexical_query",
]
