"""Every API function can refuse a disabled app: it knows the gateway table and may read an app's SETTINGS item
(genai_core/admin/status.py skips the check in a function without GATEWAY_TABLE, so the template must give it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.template_routes import TEMPLATE, template_routes

API_FUNCTIONS = sorted({route.logical_id for route in template_routes()})
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in props.get("Policies") or []:
        if isinstance(policy, dict):
            found += policy.get("Statement") or []
    return found


def _names_gateway_table(resource: Any) -> bool:
    resources = resource if isinstance(resource, list) else [resource]
    return any(
        r == {"Fn::GetAtt": ["GatewayTable", "Arn"]} or r == {"Fn::GetAtt": "GatewayTable.Arn"} for r in resources
    )


def test_the_status_settings_come_from_globals() -> None:
    assert GLOBAL_ENV["GATEWAY_TABLE"] == {"Ref": "GatewayTable"}
    assert GLOBAL_ENV["APP_STATUS_MAX_AGE_SECONDS"] == {"Ref": "AppStatusMaxAgeSeconds"}
    assert TEMPLATE["Parameters"]["AppStatusMaxAgeSeconds"]["MaxValue"] <= 30


@pytest.mark.parametrize("logical_id", API_FUNCTIONS)
def test_each_api_function_may_read_app_settings(logical_id: str) -> None:
    props = TEMPLATE["Resources"][logical_id]["Properties"]
    env = (props.get("Environment") or {}).get("Variables") or {}
    assert env.get("GATEWAY_TABLE", GLOBAL_ENV["GATEWAY_TABLE"]) == {"Ref": "GatewayTable"}
    readers = [
        s
        for s in _statements(props)
        if _names_gateway_table(s.get("Resource"))
        and "dynamodb:GetItem" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert readers, f"{logical_id} cannot read the app's SETTINGS item (dynamodb:GetItem on GatewayTable)"
