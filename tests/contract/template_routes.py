"""The Api routes of template.yaml, as the contract tests compare them with events, the OpenAPI document and e2e."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")


@dataclass(frozen=True)
class Route:
    function_dir: str  # functions/<dir>/, the <function> part of an event file's name
    logical_id: str
    method: str
    path: str
    authorizer: str | None  # None: the route is open
    scopes: frozenset[str]


def _default_authorizer(rest_api: Any) -> str | None:
    api_id = rest_api.get("Ref") if isinstance(rest_api, dict) else None
    api = TEMPLATE["Resources"].get(api_id, {}) if api_id else {}
    return ((api.get("Properties") or {}).get("Auth") or {}).get("DefaultAuthorizer")


def template_routes() -> list[Route]:
    routes = []
    for logical_id, resource in TEMPLATE["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        function_dir = Path(str(props.get("CodeUri", ""))).name
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            ev = event["Properties"]
            auth = ev.get("Auth") or {}
            authorizer = auth.get("Authorizer") or _default_authorizer(ev.get("RestApiId"))
            routes.append(
                Route(
                    function_dir=function_dir,
                    logical_id=logical_id,
                    method=str(ev["Method"]).upper(),
                    path=ev["Path"],
                    authorizer=None if authorizer in (None, "NONE") else authorizer,
                    scopes=frozenset(auth.get("AuthorizationScopes") or ()),
                )
            )
    return routes
