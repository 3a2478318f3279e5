"""The JSON shapes prompt management returns, as models: the routes' response schemas in the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from genai_core.prompts.models import ChatMessage, PromptVersion
from genai_core.prompts.repository import Head
from genai_core.prompts.service import (
    Listing,
    Rendered,
    Resolved,
    ResolvedBy,
    VersionListing,
    labels_of,
    labels_pointing_at,
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class PromptVersionView(BaseModel):
    """One immutable version and the labels pointing at it (`latest` included)."""

    name: str
    version: int
    type: Literal["text", "chat"]
    template: str | None
    messages: list[ChatMessage] | None
    variables: list[str] = Field(description="The {{variables}} the template needs, in order of first use")
    description: str | None
    model: str | None
    parameters: dict[str, Any] | None
    tags: list[str]
    created_at: str = Field(description="ISO 8601, UTC")
    labels: list[str]


class Resolution(BaseModel):
    by: ResolvedBy = Field(description="version: ?version=; label: ?label=; default: production, else latest")
    label: str | None


class ResolvedPromptView(PromptVersionView):
    resolved: Resolution


class PromptSummary(BaseModel):
    name: str
    latest_version: int
    labels: dict[str, int] = Field(description="label -> version, `latest` included")
    description: str | None
    tags: list[str]
    created_at: str
    updated_at: str


class PromptListing(BaseModel):
    data: list[PromptSummary]
    next_token: str | None = Field(description="Send back as ?next_token= for the next page; null on the last")


class VersionListingView(BaseModel):
    data: list[PromptVersionView]
    next_token: str | None


class LabelsView(BaseModel):
    name: str
    labels: dict[str, int] = Field(description="label -> version, `latest` included")


class RenderedView(BaseModel):
    name: str
    version: int
    type: Literal["text", "chat"]
    text: str | None = Field(default=None, description="The rendered text of a text prompt")
    messages: list[dict[str, Any]] | None = Field(default=None, description="The rendered messages of a chat prompt")
    model: str | None
    parameters: dict[str, Any] | None


def version_view(version: PromptVersion, labels: list[str]) -> PromptVersionView:
    return PromptVersionView(
        **version.model_dump(exclude={"created_at"}), created_at=_iso(version.created_at), labels=labels
    )


def resolved_view(resolved: Resolved) -> ResolvedPromptView:
    base = version_view(resolved.version, resolved.labels)
    return ResolvedPromptView(**base.model_dump(), resolved=Resolution(by=resolved.by, label=resolved.label))


def _summary(head: Head) -> PromptSummary:
    return PromptSummary(
        name=head.name,
        latest_version=head.latest_version,
        labels=labels_of(head),
        description=head.description,
        tags=list(head.tags),
        created_at=_iso(head.created_at),
        updated_at=_iso(head.updated_at),
    )


def listing_view(listing: Listing) -> PromptListing:
    return PromptListing(data=[_summary(h) for h in listing.heads], next_token=listing.next_token)


def versions_view(listing: VersionListing) -> VersionListingView:
    data = [version_view(v, labels_pointing_at(listing.labels, v.version)) for v in listing.versions]
    return VersionListingView(data=data, next_token=listing.next_token)


def rendered_view(rendered: Rendered) -> RenderedView:
    version = rendered.version
    return RenderedView(
        name=version.name,
        version=version.version,
        type=version.type,
        text=rendered.text,
        messages=rendered.messages,
        model=version.model,
        parameters=version.parameters,
    )


class PromptDetailView(BaseModel):
    """A prompt as an operator browses it: the version a caller gets by default (or by ?version=/?label=), the
    labels, and a page of its versions (newest first) each with the labels pointing at it."""

    name: str
    labels: dict[str, int] = Field(description="label -> version, `latest` included")
    resolved: ResolvedPromptView
    versions: list[PromptVersionView]
    next_token: str | None = Field(description="Send back as ?next_token= for the next page of versions")


def detail_view(resolved: Resolved, listing: VersionListing) -> PromptDetailView:
    return PromptDetailView(
        name=resolved.version.name,
        labels=listing.labels,
        resolved=resolved_view(resolved),
        versions=versions_view(listing).data,
        next_token=listing.next_token,
    )
