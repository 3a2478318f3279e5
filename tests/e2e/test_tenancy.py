"""Tenancy: a second app can neither read, list, change nor delete the first app's objects.

One template for every area. An area says how its owner creates an object, how the owner sees it, where it is
listed, and which requests of another app must find nothing; the test does the rest. Later areas (collections,
documents, usage) add an `Area` to `AREAS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Platform


@dataclass(frozen=True)
class Probe:
    kind: str  # read | change | delete
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Area:
    name: str
    scopes: list[str]
    create: Callable[[requests.Session, str], str]  # (owner session, api url) -> the object's id
    view: Callable[[requests.Session, str, str], Any]  # the owner's view of it, compared before and after
    listing: Callable[[requests.Session, str], list[str]]  # ids a session lists
    probes: Callable[[str], list[Probe]]  # another app's attempts on the object


def _create_prompt(owner: requests.Session, url: str) -> str:
    name = "tenant-secret"
    assert owner.post(f"{url}/v1/prompts", json={"name": name, "template": "owner's {{x}}"}, timeout=10).ok
    assert owner.put(f"{url}/v1/prompts/{name}/labels/production", json={"version": 1}, timeout=10).ok
    return name


def _view_prompt(owner: requests.Session, url: str, name: str) -> Any:
    prompt = owner.get(f"{url}/v1/prompts/{name}", timeout=10).json()
    versions = owner.get(f"{url}/v1/prompts/{name}/versions", timeout=10).json()
    return prompt["template"], prompt["labels"], [v["version"] for v in versions["data"]]


def _list_prompts(session: requests.Session, url: str) -> list[str]:
    return [p["name"] for p in session.get(f"{url}/v1/prompts", timeout=10).json()["data"]]


def _prompt_probes(name: str) -> list[Probe]:
    return [
        Probe("read", "GET", f"/v1/prompts/{name}"),
        Probe("read", "GET", f"/v1/prompts/{name}/versions"),
        Probe("read", "POST", f"/v1/prompts/{name}/render", {"variables": {"x": "1"}}),
        Probe("change", "PUT", f"/v1/prompts/{name}/labels/production", {"version": 1}),
        Probe("change", "DELETE", f"/v1/prompts/{name}/labels/production"),
        Probe("delete", "DELETE", f"/v1/prompts/{name}"),
    ]


def _create_collection(owner: requests.Session, url: str) -> str:
    response = owner.post(f"{url}/v1/collections", json={"name": "tenant-secret"}, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _view_collection(owner: requests.Session, url: str, collection_id: str) -> Any:
    collection = owner.get(f"{url}/v1/collections/{collection_id}", timeout=10).json()
    documents = owner.get(f"{url}/v1/collections/{collection_id}/documents", timeout=10).json()
    return collection, [d["id"] for d in documents["data"]]


def _list_collections(session: requests.Session, url: str) -> list[str]:
    return [c["id"] for c in session.get(f"{url}/v1/collections", params={"limit": 100}, timeout=10).json()["data"]]


def _collection_probes(collection_id: str) -> list[Probe]:
    document = {"filename": "x.txt", "content_type": "text/plain", "size_bytes": 10}
    return [
        Probe("read", "GET", f"/v1/collections/{collection_id}"),
        Probe("read", "GET", f"/v1/collections/{collection_id}/documents"),
        Probe("read", "POST", f"/v1/collections/{collection_id}/search", {"query": "secret", "mode": "lexical"}),
        Probe("change", "POST", f"/v1/collections/{collection_id}/documents", document),
        Probe("delete", "DELETE", f"/v1/collections/{collection_id}"),
    ]


AREAS = [
    Area(
        name="prompts",
        scopes=["genai/prompts.read", "genai/prompts.write"],
        create=_create_prompt,
        view=_view_prompt,
        listing=_list_prompts,
        probes=_prompt_probes,
    ),
    Area(
        name="collections",
        scopes=["genai/documents.read", "genai/documents.write"],
        create=_create_collection,
        view=_view_collection,
        listing=_list_collections,
        probes=_collection_probes,
    ),
]


@pytest.mark.parametrize("area", AREAS, ids=lambda a: a.name)
def test_another_app_can_neither_read_list_change_nor_delete(platform: Platform, area: Area) -> None:
    url = platform.url
    # GIVEN an object of the first app, and a second app with the same scopes
    owner = platform.session(platform.token())
    object_id = area.create(owner, url)
    before = area.view(owner, url, object_id)
    client_id, secret = platform.new_app(f"tenant-{area.name}", area.scopes)
    other = platform.session(platform.token(client_id=client_id, secret=secret))

    # WHEN the second app tries every request on it
    for probe in area.probes(object_id):
        response = other.request(probe.method, url + probe.path, json=probe.body, timeout=10)
        # THEN each finds nothing (404 in the envelope: not even whether it exists)
        assert response.status_code == 404, f"{probe.kind}: {probe.method} {probe.path} -> {response.status_code}"
        assert response.json()["error"]["type"] == "not_found_error"

    # AND it does not list it
    assert object_id not in area.listing(other, url)
    # AND the owner still sees it unchanged
    assert object_id in area.listing(owner, url)
    assert area.view(owner, url, object_id) == before
