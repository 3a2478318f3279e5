"""The OpenAPI document is generated from the functions' routes and agrees with the template's Api events.

Each route declares its scopes once, on the Powertools route (`security=`). This keeps that declaration, the
template's `AuthorizationScopes` (what API Gateway enforces) and the served document from drifting apart, for
every route added later.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.template_routes import ROOT, template_routes
from tools import openapi

SPEC: dict[str, Any] = json.loads((ROOT / "functions" / "system" / "openapi.json").read_text())
OPERATIONS = [(path, method, op) for path, item in SPEC["paths"].items() for method, op in item.items()]


def _spec_routes(spec: dict[str, Any]) -> set[tuple[str, str, str | None, frozenset[str]]]:
    routes = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            security = op.get("security") or []
            assert len(security) <= 1, f"{method.upper()} {path}: one security requirement per route"
            scheme, scopes = next(iter(security[0].items())) if security else (None, [])
            routes.add((method.upper(), path, scheme, frozenset(scopes)))
    return routes


def test_committed_document_and_reference_are_what_the_routes_generate() -> None:
    # GIVEN the functions' routes as they are now
    # WHEN the document and docs/api.md are generated again
    # THEN the committed files are identical (else: run `make openapi`)
    assert openapi.main(["--check"]) == 0


def test_spec_routes_and_scopes_equal_the_template_api_events() -> None:
    # GIVEN the template's Api events with their authorizer and AuthorizationScopes
    template = {(r.method, r.path, r.authorizer, r.scopes) for r in template_routes()}

    # WHEN the generated document's operations are read the same way
    spec = _spec_routes(openapi.generate())

    # THEN they are the same set: no route is missing on either side and every scope list agrees
    assert spec - template == set(), "declared on a route but not in template.yaml (or with other scopes)"
    assert template - spec == set(), "in template.yaml but not declared on a route (or with other scopes)"


def test_a_scope_changed_on_one_side_only_is_caught() -> None:
    # GIVEN the document with one route's scopes changed, as a developer might do in only one place
    changed = json.loads(json.dumps(SPEC))
    changed["paths"]["/v1/prompts"]["post"]["security"] = [{"AppAuthorizer": ["genai/prompts.read"]}]

    # THEN the comparison used above notices it
    template = {(r.method, r.path, r.authorizer, r.scopes) for r in template_routes()}
    assert _spec_routes(changed) != template


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_operation_documents_its_errors_in_the_one_envelope(path: str, method: str, op: dict[str, Any]) -> None:
    # GIVEN an operation of the document
    responses = op["responses"]
    error_ref = {"$ref": "#/components/schemas/Error"}

    # THEN validation errors are documented as this API answers them (400), never Powertools' 422
    assert "422" not in responses
    expected = {"400", "413", "429", "500"} | ({"401", "403"} if op.get("security") else set())
    assert expected <= set(responses), f"{method.upper()} {path} lacks {sorted(expected - set(responses))}"
    for code in expected:
        assert responses[code]["content"]["application/json"]["schema"] == error_ref
    # AND the success response has a schema, JSON unless it says otherwise (or no body at all for 204)
    success = [c for c in responses if c.startswith("2")]
    assert len(success) == 1
    if success[0] != "204":
        content = responses[success[0]]["content"]
        assert content and all(media["schema"] for media in content.values())


def test_security_schemes_are_the_template_authorizers() -> None:
    # GIVEN the template's authorizers
    authorizers = {r.authorizer for r in template_routes() if r.authorizer}
    # THEN the document defines a scheme for each, as OAuth2
    schemes = SPEC["components"]["securitySchemes"]
    assert authorizers <= set(schemes)
    assert all(s["type"] == "oauth2" for s in schemes.values())
