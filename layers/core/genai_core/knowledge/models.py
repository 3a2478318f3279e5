"""The knowledge API's request shapes and the records it keeps, with their limits (DESIGN §3 Knowledge)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from genai_core.knowledge.chunking import ChunkingConfig
from genai_core.knowledge.extraction.models import SUPPORTED_CONTENT_TYPES, normalise_content_type
from genai_core.knowledge.vectorstores.base import METADATA_KEY_PATTERN, RESERVED_KEYS, Filter

Status = Literal["PENDING_UPLOAD", "QUEUED", "EXTRACTING", "CHUNKING", "INDEXING", "READY", "FAILED"]
STEPS = ("extract", "chunk", "index")
Extraction = Literal["auto", "text", "textract"]
SearchMode = Literal["vector", "lexical", "hybrid"]

MAX_METADATA_KEYS = 32
MAX_METADATA_VALUE_CHARS = 1024
MAX_FILENAME_CHARS = 255
MAX_QUERY_CHARS = 4096
MAX_SEARCH_K = 50

CollectionName = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_metadata(value: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """A document's metadata: flat keys (as filters name them) with scalar values, copied onto every chunk."""
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata has {len(value)} keys; at most {MAX_METADATA_KEYS}")
    for key, item in value.items():
        if not METADATA_KEY_PATTERN.fullmatch(key) or key in RESERVED_KEYS:
            raise ValueError(
                f"metadata key {key!r} is invalid: letters, digits, '_' and '-', up to 64 characters, not starting"
                f" with a digit or '-'" + (f"; {key!r} is reserved" if key in RESERVED_KEYS else "")
            )
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"metadata {key!r} must be a finite number")
        if not isinstance(item, str | int | float | bool):
            raise ValueError(f"metadata {key!r} must be a string, a number or a boolean")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise ValueError(f"metadata {key!r} is too large a number (at most 2^53)")
        if isinstance(item, str) and len(item) > MAX_METADATA_VALUE_CHARS:
            raise ValueError(f"metadata {key!r} is longer than {MAX_METADATA_VALUE_CHARS} characters")
    return value


class CreateCollectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CollectionName
    description: str | None = Field(default=None, max_length=1024)
    embedding_model: str | None = Field(
        default=None, min_length=1, max_length=128, description="A catalogue alias; default: the platform's"
    )
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    extraction: Extraction = "auto"


class CreateDocumentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=MAX_FILENAME_CHARS)
    content_type: str = Field(min_length=1, max_length=255, description=", ".join(SUPPORTED_CONTENT_TYPES))
    size_bytes: int = Field(
        ge=1, strict=True, description="The file's exact size; the upload URL only accepts a body of this length"
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Flat keys, scalar values; on every chunk")

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str) -> str:
        if _CONTROL.search(value) or "/" in value or "\\" in value:
            raise ValueError("filename must be a plain file name (no path separators or control characters)")
        return value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        normalised = normalise_content_type(value)
        if normalised not in SUPPORTED_CONTENT_TYPES:
            raise ValueError(
                f"content type {value!r} is not supported; supported: {', '.join(SUPPORTED_CONTENT_TYPES)}"
            )
        return normalised

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_metadata(value)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(default=5, ge=1, le=MAX_SEARCH_K, strict=True)
    mode: SearchMode = "hybrid"
    filter: dict[str, Any] | None = Field(
        default=None, description='Metadata equality: {"lang": "en"}, {"year": [2024, 2025]}, {"document_id": "..."}'
    )

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must contain some text")
        return value

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        Filter.parse(value)  # ValueError names what is wrong
        return value


# -- records -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Collection:
    app_id: str
    collection_id: str
    name: str
    embedding_model: str
    chunking: ChunkingConfig
    extraction: Extraction
    created_at: str
    description: str | None = None


@dataclass(frozen=True)
class Document:
    app_id: str
    document_id: str
    collection_id: str
    filename: str
    content_type: str
    size_bytes: int
    status: Status
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    step: str | None = None
    failed_step: str | None = None
    error: str | None = None
    cause: str | None = None
    pages: int | None = None
    chunks: int | None = None
    method: str | None = None
    execution_arn: str | None = None
    # When each step started and when the run finished (ISO 8601, from the state machine's clock).
    started: dict[str, str] = field(default_factory=dict)
    finished_at: str | None = None
