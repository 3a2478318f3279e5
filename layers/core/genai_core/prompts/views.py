"""The JSON shapes prompt management returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from genai_core.prompts.models import PromptVersion
from genai_core.prompts.repository import Head
from genai_core.prompts.service import Listing, Rendered, Resolved, VersionListing, labels_of, labels_pointing_at


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def version_json(version: PromptVersion, labels: list[str]) -> dict[str, Any]:
    body = version.model_dump(mode="json")
    if version.messages is not None:
        body["messages"] = [m.model_dump(mode="json", exclude_none=True) for m in version.messages]
    body["created_at"] = _iso(version.created_at)
    body["labels"] = labels
    return body


def resolved_json(resolved: Resolved) -> dict[str, Any]:
    body = version_json(resolved.version, resolved.labels)
    body["resolved"] = {"by": resolved.by, "label": resolved.label}
    return body


def head_json(head: Head) -> dict[str, Any]:
    return {
        "name": head.name,
        "latest_version": head.latest_version,
        "labels": labels_of(head),
        "description": head.description,
        "tags": list(head.tags),
        "created_at": _iso(head.created_at),
        "updated_at": _iso(head.updated_at),
    }


def listing_json(listing: Listing) -> dict[str, Any]:
    return {"data": [head_json(h) for h in listing.heads], "next_token": listing.next_token}


def versions_json(listing: VersionListing) -> dict[str, Any]:
    data = [version_json(v, labels_pointing_at(listing.labels, v.version)) for v in listing.versions]
    return {"data": data, "next_token": listing.next_token}


def rendered_json(rendered: Rendered) -> dict[str, Any]:
    version = rendered.version
    body: dict[str, Any] = {"name": version.name, "version": version.version, "type": version.type}
    if rendered.text is not None:
        body["text"] = rendered.text
    else:
        body["messages"] = rendered.messages
    body["model"] = version.model
    body["parameters"] = version.parameters
    return body
