"""The offline runtime's admin portal: the built files at /admin/, its config.json, and the API's routes untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline.portal import Portal, offline_config


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("outside the build")
    return tmp_path


def portal(dist: Path, client_id: str | None = "portal-client") -> Portal:
    return Portal(dist, lambda: offline_config("http://localhost:4321", client_id) if client_id else None)


def test_config_json_names_the_runtime_urls_and_the_portal_client(dist: Path) -> None:
    # GIVEN a runtime on port 4321 WHEN the portal asks for its config
    status, headers, body = portal(dist).handle("GET", "/admin/config.json") or (0, [], b"")
    # THEN it points at this runtime's API, Hosted UI stand-in and token endpoint, with the callback it registered
    assert status == 200 and ("cache-control", "no-store") in headers
    assert json.loads(body) == {
        "apiUrl": "http://localhost:4321",
        "authorizeUrl": "http://localhost:4321/oauth2/authorize",
        "tokenUrl": "http://localhost:4321/oauth2/token",
        "logoutUrl": None,
        "clientId": "portal-client",
        "redirectUri": "http://localhost:4321/admin/",
        "scopes": "openid email genai/admin",
    }


def test_index_and_hashed_assets_are_served_with_security_headers(dist: Path) -> None:
    status, headers, body = portal(dist).handle("GET", "/admin/") or (0, [], b"")
    names = dict(headers)
    assert status == 200 and body.startswith(b"<!doctype html>")
    assert names["content-type"] == "text/html; charset=utf-8" and names["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in names["content-security-policy"] and names["x-frame-options"] == "DENY"
    status, headers, _ = portal(dist).handle("GET", "/admin/assets/index-abc.js") or (0, [], b"")
    assert status == 200 and "immutable" in dict(headers)["cache-control"]
    assert (portal(dist).handle("GET", "/admin") or (0,))[0] == 301


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/whoami"),  # an admin API route: the API answers it
        ("POST", "/admin/apps"),
        ("GET", "/admin/apps/abc"),
        ("GET", "/admin/../secret.txt"),  # nothing outside the build, however the path is spelled
        ("GET", "/admin/assets/../../secret.txt"),
        ("POST", "/admin/"),
        ("GET", "/v1/models"),
    ],
)
def test_what_is_not_a_file_of_the_build_is_left_to_the_api(dist: Path, method: str, path: str) -> None:
    assert portal(dist).handle(method, path) is None


def test_an_unbuilt_portal_says_how_to_build_it(tmp_path: Path) -> None:
    status, _, body = portal(tmp_path / "missing").handle("GET", "/admin/") or (0, [], b"")
    assert status == 200 and b"make portal" in body
    assert portal(tmp_path / "missing").handle("GET", "/admin/whoami") is None


def test_no_config_before_the_portal_client_is_known(dist: Path) -> None:
    assert portal(dist, client_id=None).handle("GET", "/admin/config.json") is None
