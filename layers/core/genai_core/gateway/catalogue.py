"""The model catalogue: alias -> ordered provider targets, capabilities, limits and prices.

Stored in DynamoDB (one item per alias), seeded from a defaults file (`defaults/aws.json` in AWS,
`defaults/offline.json` by the offline runtime) the first time the table is found empty.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genai_core.gateway.expiring import Expiring
from genai_core.gateway.models import ALIAS_PATTERN
from genai_core.observability import logger

Capability = Literal["chat", "embeddings", "tools", "vision", "json_schema"]
ProviderName = Literal["bedrock", "openai"]


class Guardrail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    version: str = Field(default="DRAFT", min_length=1)
    trace: Literal["enabled", "disabled"] = "disabled"


class Target(BaseModel):
    """One place that serves the alias. Bedrock needs `model` (model or inference profile id) and a region;
    an OpenAI-compatible endpoint needs `base_url` and usually `api_key_secret` (a Secrets Manager secret id whose
    value is the key, or a JSON object with an `api_key` field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: ProviderName
    model: str = Field(min_length=1, max_length=256)
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    api_key_secret: str | None = Field(default=None, min_length=1)
    # Azure OpenAI: {"api-version": "2024-10-21"} and header "api-key".
    query: dict[str, str] | None = None
    api_key_header: str = "Authorization"
    timeout_seconds: float = Field(default=60.0, gt=0, le=900)
    guardrail: Guardrail | None = None
    additional_request_fields: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _where(self) -> Target:
        if self.provider == "openai" and not self.base_url:
            raise ValueError("an openai target needs base_url")
        if self.provider == "bedrock" and self.base_url:
            raise ValueError("a bedrock target takes region, not base_url")
        return self

    @property
    def id(self) -> str:
        """Stable name of the target: the key of its cool-down state and what usage records name."""
        where = self.region or self.base_url or "default"
        return f"{self.provider}:{where}:{self.model}"


class CacheSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86400)


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str = Field(pattern=ALIAS_PATTERN)
    description: str = ""
    targets: list[Target] = Field(min_length=1, max_length=10)
    capabilities: list[Capability] = Field(min_length=1)
    context_window: int = Field(ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    dimensions: int | None = Field(default=None, ge=1, description="Embedding size (embedding models)")
    input_price_per_1m: float = Field(default=0.0, ge=0, description="USD per 1M input tokens")
    output_price_per_1m: float = Field(default=0.0, ge=0, description="USD per 1M output tokens")
    cached_input_price_per_1m: float | None = Field(default=None, ge=0)
    cache: CacheSetting = Field(default_factory=CacheSetting)

    @model_validator(mode="after")
    def _kind(self) -> ModelEntry:
        if ("chat" in self.capabilities) == ("embeddings" in self.capabilities):
            raise ValueError("capabilities must include exactly one of 'chat' and 'embeddings'")
        return self

    @property
    def kind(self) -> Literal["chat", "embeddings"]:
        return "chat" if "chat" in self.capabilities else "embeddings"

    def cost_usd(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached_price = (
            self.input_price_per_1m if self.cached_input_price_per_1m is None else self.cached_input_price_per_1m
        )
        fresh = max(0, prompt_tokens - cached_tokens)
        return (
            fresh * self.input_price_per_1m
            + cached_tokens * cached_price
            + completion_tokens * self.output_price_per_1m
        ) / 1_000_000


DEFAULTS_DIR = Path(__file__).parent / "defaults"


def load_defaults(name: str, variables: dict[str, str] | None = None) -> list[ModelEntry]:
    """The entries of a defaults file (`aws` or `offline`, or a path to a JSON file of the same shape), with
    `${NAME}` replaced from `variables` (the offline runtime's local model URL)."""
    path = Path(name) if name.endswith(".json") else DEFAULTS_DIR / f"{name}.json"
    text = path.read_text(encoding="utf-8")
    for key, value in (variables or {}).items():
        text = text.replace("${" + key + "}", value)
    data = json.loads(text)
    return [ModelEntry.model_validate(entry) for entry in data["models"]]


class CatalogueRepository(Protocol):
    def load(self) -> dict[str, ModelEntry]: ...

    def seed(self, entries: list[ModelEntry], *, overwrite: bool = False) -> None: ...


class DynamoCatalogue:
    """One item per alias: `alias` (key) and `entry` (the ModelEntry as JSON)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def load(self) -> dict[str, ModelEntry]:
        entries: dict[str, ModelEntry] = {}
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self.client.scan(**kwargs)
            for item in page.get("Items", []):
                try:
                    entry = ModelEntry.model_validate_json(item["entry"]["S"])
                except (KeyError, ValueError) as exc:  # one bad entry must not take the others down
                    logger.warning(
                        "skipping an invalid catalogue entry", extra={"item": item.get("alias"), "error": str(exc)}
                    )
                    continue
                entries[entry.alias] = entry
            if "LastEvaluatedKey" not in page:
                return entries
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def seed(self, entries: list[ModelEntry], *, overwrite: bool = False) -> None:
        """Write `entries`; without `overwrite`, an alias already in the table is left as it is."""
        for entry in entries:
            request: dict[str, Any] = {
                "TableName": self.table,
                "Item": {"alias": {"S": entry.alias}, "entry": {"S": entry.model_dump_json(exclude_none=True)}},
            }
            if not overwrite:
                request["ConditionExpression"] = "attribute_not_exists(alias)"
            try:
                self.client.put_item(**request)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise


class Catalogue:
    """The catalogue as the gateway reads it: cached in the container for `max_age` seconds, seeded from the
    defaults file the first time the table is found empty."""

    def __init__(
        self,
        repository: CatalogueRepository,
        *,
        defaults: str | None,
        max_age: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repository = repository
        self.defaults = defaults
        self._cache = Expiring(max_age, clock)

    def entries(self) -> dict[str, ModelEntry]:
        entries: dict[str, ModelEntry] = self._cache.get("entries", self._load)
        return entries

    def _load(self) -> dict[str, ModelEntry]:
        entries = self.repository.load()
        if not entries and self.defaults:
            self.repository.seed(load_defaults(self.defaults))
            entries = self.repository.load()
        return entries

    def get(self, alias: str) -> ModelEntry | None:
        return self.entries().get(alias)
