"""Prompt management: immutable numbered versions, movable labels, and server-side rendering.

`PromptService.render` is also what the model gateway calls in-process to inject a managed prompt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from genai_core import aws
from genai_core.config import Settings, load_area_settings
from genai_core.errors import Conflict, InvalidRequest, NotFound
from genai_core.pagination import decode_token, encode_token
from genai_core.prompts import template as templating
from genai_core.prompts.models import (
    LATEST,
    LATEST_RESERVED,
    PRODUCTION,
    CreatePromptRequest,
    PromptVersion,
    checked_label,
    checked_name,
    is_valid_name,
)
from genai_core.prompts.repository import DynamoPromptRepository, Head, LabelTargetMissing, PromptRepository

ResolvedBy = Literal["version", "label", "default"]


@dataclass(frozen=True)
class Resolved:
    version: PromptVersion
    labels: list[str]  # every label pointing at this version, `latest` included
    by: ResolvedBy
    label: str | None


@dataclass(frozen=True)
class Rendered:
    version: PromptVersion
    text: str | None
    messages: list[dict[str, Any]] | None


@dataclass(frozen=True)
class Listing:
    heads: list[Head]
    next_token: str | None


@dataclass(frozen=True)
class VersionListing:
    versions: list[PromptVersion]
    labels: dict[str, int]
    next_token: str | None


def labels_of(head: Head) -> dict[str, int]:
    """The head's labels with the automatic `latest`."""
    return {**head.labels, LATEST: head.latest_version}


def labels_pointing_at(labels: dict[str, int], version: int) -> list[str]:
    return sorted(label for label, number in labels.items() if number == version)


def check_name(name: str) -> None:
    """A path's prompt name, checked by the same rule as a body's."""
    try:
        checked_name(name)
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_prompt_name", param="name") from None


def check_label(label: str, *, movable: bool = False) -> None:
    try:
        checked_label(label)
    except ValueError as exc:
        raise InvalidRequest(str(exc), code="invalid_label", param="label") from None
    if movable and label == LATEST:
        raise InvalidRequest(LATEST_RESERVED, code="label_reserved", param="label")


def _variables(request: CreatePromptRequest) -> list[str]:
    if request.template is not None:
        return list(templating.parse(request.template).variables)
    messages = [m.model_dump(exclude_none=True) for m in request.messages or []]
    return list(templating.variables_of_messages(messages))


class PromptService:
    def __init__(
        self,
        repository: PromptRepository,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_attempts: int = 25,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.max_attempts = max_attempts

    # -- writes --------------------------------------------------------------------------------------------------
    def create_version(self, app_id: str, request: CreatePromptRequest) -> Resolved:
        """Save the next version of `request.name` (version 1 for a new prompt); concurrent saves each get one."""
        variables = _variables(request)
        for attempt in range(self.max_attempts):
            head = self.repository.get_head(app_id, request.name)
            version = PromptVersion(
                name=request.name,
                version=(head.latest_version if head else 0) + 1,
                type="text" if request.template is not None else "chat",
                template=request.template,
                messages=request.messages,
                variables=variables,
                description=request.description,
                model=request.model,
                parameters=request.parameters.model_dump(exclude_none=True) if request.parameters else None,
                tags=list(dict.fromkeys(request.tags)),
                created_at=self.clock(),
            )
            saved = self.repository.save_version(app_id, version, head, request.labels)
            if saved is not None:
                return self._resolved(saved, version, "version", None)
            # Another save took this number: read the new head and try the next one, with jitter.
            time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))
        raise Conflict(
            f"prompt {request.name!r} is being saved by too many requests at once; retry",
            code="prompt_save_conflict",
        )

    def set_label(self, app_id: str, name: str, label: str, version: int) -> dict[str, int]:
        check_label(label, movable=True)
        head = self._head(app_id, name)
        try:
            updated = self.repository.set_label(app_id, head, label, version)
        except LabelTargetMissing:
            raise NotFound(
                f"prompt {name!r} has no version {version} (latest is {head.latest_version})",
                code="prompt_version_not_found",
                param="version",
            ) from None
        if updated is None:
            raise NotFound(f"prompt {name!r} was deleted", code="prompt_not_found")
        return labels_of(updated)

    def delete_label(self, app_id: str, name: str, label: str) -> dict[str, int]:
        check_label(label, movable=True)
        head = self._head(app_id, name)
        updated = self.repository.delete_label(app_id, head, label)
        if updated is None:
            raise NotFound(f"prompt {name!r} has no label {label!r}", code="prompt_label_not_found", param="label")
        return labels_of(updated)

    def delete_prompt(self, app_id: str, name: str) -> None:
        head = self._head(app_id, name)
        if not self.repository.delete_prompt(app_id, head):
            raise NotFound(f"prompt {name!r} does not exist", code="prompt_not_found")

    # -- reads ---------------------------------------------------------------------------------------------------
    def get(self, app_id: str, name: str, *, version: int | None = None, label: str | None = None) -> Resolved:
        """`version` if given, else `label`, else `production` if set, else `latest`."""
        head = self._head(app_id, name)
        labels = labels_of(head)
        by: ResolvedBy
        if version is not None:
            number, by, chosen = version, "version", None
        elif label is not None:
            check_label(label)
            if label not in labels:
                raise NotFound(
                    f"prompt {name!r} has no label {label!r} (labels: {', '.join(sorted(labels))})",
                    code="prompt_label_not_found",
                    param="label",
                )
            number, by, chosen = labels[label], "label", label
        else:
            chosen = PRODUCTION if PRODUCTION in labels else LATEST
            number, by = labels[chosen], "default"
        found = self.repository.get_version(app_id, head, number)
        if found is None:
            raise NotFound(
                f"prompt {name!r} has no version {number} (latest is {head.latest_version})",
                code="prompt_version_not_found",
                param="version",
            )
        return self._resolved(head, found, by, chosen)

    def render(
        self,
        app_id: str,
        name: str,
        variables: dict[str, Any],
        *,
        version: int | None = None,
        label: str | None = None,
    ) -> Rendered:
        """Fill the resolved version's variables; a missing or unknown variable is a 400 that names it."""
        resolved = self.get(app_id, name, version=version, label=label).version
        if resolved.template is not None:
            return Rendered(resolved, templating.render_text(resolved.template, variables), None)
        messages = [m.model_dump(exclude_none=True) for m in resolved.messages or []]
        return Rendered(resolved, None, templating.render_messages(messages, variables))

    def list_prompts(self, app_id: str, *, prefix: str, limit: int, next_token: str | None) -> Listing:
        if prefix and not is_valid_name(prefix):
            raise InvalidRequest(f"invalid name prefix {prefix!r}", code="invalid_prompt_name", param="prefix")
        page = self.repository.list_heads(app_id, prefix, limit, decode_token(next_token))
        return Listing(page.items, encode_token(page.next_key))

    def list_versions(self, app_id: str, name: str, *, limit: int, next_token: str | None) -> VersionListing:
        head = self._head(app_id, name)
        page = self.repository.list_versions(app_id, head, limit, decode_token(next_token))
        return VersionListing(page.items, labels_of(head), encode_token(page.next_key))

    # -- helpers -------------------------------------------------------------------------------------------------
    def _head(self, app_id: str, name: str) -> Head:
        check_name(name)
        head = self.repository.get_head(app_id, name)
        if head is None:
            raise NotFound(f"prompt {name!r} does not exist", code="prompt_not_found", param="name")
        return head

    @staticmethod
    def _resolved(head: Head, version: PromptVersion, by: ResolvedBy, label: str | None) -> Resolved:
        return Resolved(version, labels_pointing_at(labels_of(head), version.version), by, label)


class PromptsSettings(Settings):
    prompts_table: str = Field(alias="PROMPTS_TABLE", min_length=1)


@lru_cache(maxsize=1)
def get_prompt_service() -> PromptService:
    settings = load_area_settings(PromptsSettings)
    return PromptService(DynamoPromptRepository(aws.client("dynamodb"), settings.prompts_table))
