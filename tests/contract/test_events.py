"""events/*.json agree with the Api routes of template.yaml, so `sam local invoke -e` and the integration tests
exercise routes that exist, with the shape API Gateway would send."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.contract.template_routes import ROOT, TEMPLATE, Route, template_routes

EVENT_FILES = sorted((ROOT / "events").glob("*.json"))


ROUTES = template_routes()
# functions/<dir>/ -> logical id, for every function (API or not)
FUNCTIONS = {
    Path(str((r.get("Properties") or {}).get("CodeUri", ""))).name: logical_id
    for logical_id, r in TEMPLATE["Resources"].items()
    if r.get("Type") == "AWS::Serverless::Function"
}


def function_of(event_file: Path) -> str | None:
    """The function directory an event file `<function>_<case>.json` belongs to (longest match wins)."""
    candidates = [d for d in FUNCTIONS if event_file.stem.startswith(f"{d}_")]
    return max(candidates, key=len) if candidates else None


def route_key(event: dict[str, Any]) -> tuple[str, Any]:
    return str(event.get("httpMethod", "")).upper(), event.get("resource")


def path_matches(resource: str, path: str) -> bool:
    pattern = re.sub(r"\\\{[^/]+?\\\+\\\}", ".+", re.escape(resource))
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", pattern)
    return re.fullmatch(pattern, path) is not None


def test_there_are_routes_and_events() -> None:
    # GIVEN the template and events/
    # THEN both exist, so the parametrised checks below are not vacuous
    assert ROUTES, "template.yaml declares no Api routes"
    assert EVENT_FILES, "events/ holds no event files"


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda p: p.name)
def test_event_file_targets_a_route_of_its_function(event_file: Path) -> None:
    # GIVEN an event file named <function>_<case>.json
    function_dir = function_of(event_file)
    assert function_dir, f"{event_file.name}: no function with CodeUri functions/<name>/ matches its name prefix"
    event = json.loads(event_file.read_text())
    if "httpMethod" not in event:
        return  # not an API Gateway event (a queue or workflow payload): only its function must exist

    # WHEN its method and resource are looked up among that function's Api events
    method, resource = event["httpMethod"], event.get("resource")
    matches = [r for r in ROUTES if r.function_dir == function_dir and (r.method, r.path) == route_key(event)]

    # THEN that route exists, and the event is consistent with it as API Gateway would make it
    assert matches, f"{event_file.name}: {method} {resource} is not an Api event of {FUNCTIONS[function_dir]}"
    route = matches[0]
    context = event.get("requestContext") or {}
    assert context.get("httpMethod") == method, f"{event_file.name}: requestContext.httpMethod differs"
    assert context.get("resourcePath") == resource, f"{event_file.name}: requestContext.resourcePath differs"
    assert path_matches(resource, event.get("path", "")), f"{event_file.name}: path does not match {resource}"
    claims = (context.get("authorizer") or {}).get("claims")
    if route.authorizer is None:
        assert claims is None, f"{event_file.name}: an open route gets no authorizer claims"
    else:
        assert claims, f"{event_file.name}: {route.authorizer} would have put token claims in requestContext"
        if route.scopes:
            granted = set(str(claims.get("scope", "")).split())
            assert granted & route.scopes, f"{event_file.name}: the token has none of {sorted(route.scopes)}"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.logical_id} {r.method} {r.path}")
def test_every_route_has_an_event_file(route: Route) -> None:
    # GIVEN an Api route of the template
    # WHEN events/ is searched for an event of its function with its method and resource
    found = [
        f.name
        for f in EVENT_FILES
        if function_of(f) == route.function_dir and route_key(json.loads(f.read_text())) == (route.method, route.path)
    ]

    # THEN there is at least one, for `sam local invoke -e` and the integration tests
    assert found, f"no events/{route.function_dir}_<case>.json for {route.method} {route.path} ({route.logical_id})"
