"""The vector store interface, the metadata filter model and reciprocal rank fusion.

Every backend (the embedded SQLite store offline, OpenSearch Serverless in the cloud) implements `VectorStore`.
Hybrid search is fused here, from ranks only, so that it returns the same order whichever backend ran the two
searches and whatever scale their scores use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

MetadataValue = str | int | float | bool
Space = Literal["cosine", "l2", "innerproduct"]
SPACES: tuple[Space, ...] = ("cosine", "l2", "innerproduct")

# Collection ids become part of index names on every backend: OpenSearch index names must be lowercase, so the
# backends map them (the SQLite store never puts them in SQL at all); this pattern keeps them portable.
COLLECTION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
# Flat keys without dots: a dot is a path separator in OpenSearch field names.
METADATA_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
RESERVED_KEYS = frozenset({"document_id"})

MAX_K = 1000
MAX_DIMENSIONS = 8192  # sqlite-vec's limit; OpenSearch's (16,000) is higher
MAX_FILTER_KEYS = 16
MAX_FILTER_VALUES = 100


class IndexNotFound(LookupError):
    """The collection has no index: `create_index` was never called for it, or it was dropped."""


@dataclass(frozen=True)
class IndexedChunk:
    """One chunk of a document as stored: its text for BM25, its embedding for kNN and its metadata for filters."""

    id: str
    document_id: str
    text: str
    vector: list[float]
    pages: tuple[int, ...] = ()
    heading_path: tuple[str, ...] = ()
    metadata: dict[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A search result. `score` is higher-is-better in every search; its scale depends on the search (see stores)."""

    chunk_id: str
    document_id: str
    text: str
    score: float
    pages: tuple[int, ...]
    heading_path: tuple[str, ...]
    metadata: dict[str, MetadataValue]


_NUMBER_TYPES = frozenset({int, float, bool})
_is_number = _NUMBER_TYPES.__contains__


def _is_value(value: object) -> bool:
    if isinstance(value, bool | int | str):
        return True
    return isinstance(value, float) and math.isfinite(value)


@dataclass(frozen=True)
class Filter:
    """Which chunks a search may return; all conditions must hold (AND), each is a set of allowed values (OR).

    Supported forms of `Filter.parse` (a JSON object, as a request body carries it):

    - `{"lang": "en"}`: metadata key `lang` equals `"en"`;
    - `{"lang": ["en", "fr"]}`: `lang` is one of the listed values (1 to 100 values);
    - `{"document_id": "doc-1"}` or `{"document_id": ["doc-1", "doc-2"]}`: the chunk belongs to these documents;
    - several keys together, e.g. `{"lang": "en", "year": [2024, 2025]}`: every key must match.

    Values are strings, integers, finite floats or booleans and match exactly by type: `true` does not match `1` and
    `"1"` does not match `1` (but `1` matches `1.0`). A chunk without the key never matches. Nothing else is
    accepted (no nested objects, ranges, negation or empty lists): the parser raises `ValueError` saying why.
    """

    metadata: Mapping[str, tuple[MetadataValue, ...]] = field(default_factory=dict)
    document_ids: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return not self.metadata and self.document_ids is None

    @classmethod
    def parse(cls, raw: Mapping[str, object] | None) -> Filter:
        """Validate a client's filter object; `ValueError` with a message fit for a 400 when it is not supported."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError("filter must be an object mapping metadata keys to a value or a list of values")
        if len(raw) > MAX_FILTER_KEYS:
            raise ValueError(f"filter has {len(raw)} keys; at most {MAX_FILTER_KEYS} are allowed")
        metadata: dict[str, tuple[MetadataValue, ...]] = {}
        document_ids: tuple[str, ...] | None = None
        for key, raw_value in raw.items():
            if not isinstance(key, str) or not METADATA_KEY_PATTERN.fullmatch(key):
                raise ValueError(
                    f"filter key {key!r} is not a metadata key: letters, digits, '_' and '-', up to 64 characters,"
                    " not starting with a digit or '-'"
                )
            values = _parse_values(key, raw_value)
            if key == "document_id":
                if not all(isinstance(v, str) for v in values):
                    raise ValueError("filter key 'document_id' takes a string or a list of strings")
                document_ids = tuple(str(v) for v in values)
            else:
                metadata[key] = values
        return cls(metadata=metadata, document_ids=document_ids)


def _parse_values(key: str, raw_value: object) -> tuple[MetadataValue, ...]:
    if isinstance(raw_value, list | tuple):
        if not raw_value:
            raise ValueError(f"filter key {key!r} has an empty list: it would match nothing")
        if len(raw_value) > MAX_FILTER_VALUES:
            raise ValueError(f"filter key {key!r} lists {len(raw_value)} values; at most {MAX_FILTER_VALUES}")
        values = tuple(raw_value)
    else:
        values = (raw_value,)  # type: ignore[assignment]
    for value in values:
        if not _is_value(value):
            raise ValueError(
                f"filter key {key!r}: {value!r} is not supported; use a string, a number, a boolean or a list of them"
                " (operators, nested objects and null are not supported)"
            )
    return values  # type: ignore[return-value]


def validate_collection_id(collection_id: object) -> str:
    if not isinstance(collection_id, str) or not COLLECTION_ID_PATTERN.fullmatch(collection_id):
        raise ValueError(
            f"collection id {collection_id!r} is invalid: letters, digits, '_' and '-', up to 128 characters,"
            " starting with a letter or digit"
        )
    return collection_id


def validate_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer from 1 to {MAX_K}, not {k!r}")
    return k


def validate_chunk(chunk: IndexedChunk, dimensions: int) -> None:
    """The checks every backend makes before writing, so that a chunk one store accepts the other accepts too."""
    if not chunk.id or not isinstance(chunk.id, str):
        raise ValueError("chunk id must be a non-empty string")
    if not chunk.document_id or not isinstance(chunk.document_id, str):
        raise ValueError(f"chunk {chunk.id!r}: document_id must be a non-empty string")
    if len(chunk.vector) != dimensions:
        raise ValueError(f"chunk {chunk.id!r}: vector has {len(chunk.vector)} dimensions, the index has {dimensions}")
    # map() keeps the per-value work in C: a batch of 64 chunks of 1,024 dimensions is 65k values.
    if not all(map(_is_number, map(type, chunk.vector))) or not all(map(math.isfinite, chunk.vector)):
        raise ValueError(f"chunk {chunk.id!r}: vector values must be finite numbers")
    for key, value in chunk.metadata.items():
        if not METADATA_KEY_PATTERN.fullmatch(key) or key in RESERVED_KEYS:
            raise ValueError(f"chunk {chunk.id!r}: metadata key {key!r} is invalid or reserved")
        if not _is_value(value):
            raise ValueError(f"chunk {chunk.id!r}: metadata {key!r} must be a string, number or boolean")


@runtime_checkable
class VectorStore(Protocol):
    """Per-collection chunk indexes. Collections are isolated: a search never returns another collection's chunks.

    Every method but `create_index`/`drop_index` raises `IndexNotFound` for a collection without an index, and
    `ValueError` for invalid input (collection id, dimensions, k, filter).
    """

    def create_index(self, collection_id: str, dimensions: int, space: Space) -> None:
        """Create the collection's index; a no-op if it exists alike, `ValueError` if it exists otherwise."""
        ...

    def drop_index(self, collection_id: str) -> None:
        """Remove the collection's index and every chunk in it; a no-op if there is none."""
        ...

    def upsert(self, collection_id: str, chunks: Sequence[IndexedChunk]) -> None:
        """Write chunks; a chunk whose id exists replaces it (text, vector and metadata) instead of adding one."""
        ...

    def delete_document(self, collection_id: str, document_id: str) -> int:
        """Remove every chunk of the document; the number removed."""
        ...

    def search_vector(
        self, collection_id: str, vector: Sequence[float], k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """The k chunks nearest to `vector` among those the filter allows, nearest first (exact kNN)."""
        ...

    def search_lexical(self, collection_id: str, query: str, k: int, filter: Filter | None = None) -> list[Hit]:
        """The k chunks best matching `query` by BM25 among those the filter allows, best first."""
        ...

    def count(self, collection_id: str) -> int:
        """How many chunks the collection holds."""
        ...


def reciprocal_rank_fusion(result_lists: Sequence[Sequence[Hit]], k: int, rank_constant: int = 60) -> list[Hit]:
    """Fuse ranked lists: each chunk scores the sum of 1 / (rank_constant + rank) over the lists it appears in.

    Ranks start at 1. Scores of the input hits are ignored, which is the point: BM25 and cosine scores are on
    unrelated scales. Ties go to the chunk with the better best rank, then to the smaller chunk id, so equal inputs
    always give the same order. The returned hits carry the fused score.
    """
    validate_k(k)
    if rank_constant < 0:
        raise ValueError("rank_constant must not be negative")
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    first_hit: dict[str, Hit] = {}
    for hits in result_lists:
        seen: set[str] = set()
        for rank, hit in enumerate(hits, start=1):
            if hit.chunk_id in seen:  # a list counts a chunk once, at its best rank
                continue
            seen.add(hit.chunk_id)
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (rank_constant + rank)
            best_rank[hit.chunk_id] = min(rank, best_rank.get(hit.chunk_id, rank))
            first_hit.setdefault(hit.chunk_id, hit)
    order = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], best_rank[chunk_id], chunk_id))
    return [_with_score(first_hit[chunk_id], scores[chunk_id]) for chunk_id in order[:k]]


def _with_score(hit: Hit, score: float) -> Hit:
    return Hit(
        chunk_id=hit.chunk_id,
        document_id=hit.document_id,
        text=hit.text,
        score=score,
        pages=hit.pages,
        heading_path=hit.heading_path,
        metadata=hit.metadata,
    )


def hybrid_search(
    store: VectorStore,
    collection_id: str,
    query: str,
    vector: Sequence[float],
    k: int,
    filter: Filter | None = None,
    candidates: int | None = None,
    rank_constant: int = 60,
) -> list[Hit]:
    """Vector and BM25 search fused by reciprocal rank fusion.

    Each search returns `candidates` hits (default max(4k, 20), at most MAX_K) so that a chunk ranked well by one
    search and modestly by the other can still be fused in.
    """
    validate_k(k)
    pool = validate_k(min(max(k * 4, 20), MAX_K) if candidates is None else candidates)
    if pool < k:
        raise ValueError(f"candidates ({pool}) must be at least k ({k})")
    by_vector = store.search_vector(collection_id, vector, pool, filter)
    by_text = store.search_lexical(collection_id, query, pool, filter)
    return reciprocal_rank_fusion([by_vector, by_text], k, rank_constant)
