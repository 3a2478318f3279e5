"""The foundation as a user meets it: health, the token endpoint, and the authorizer in front of /v1/whoami."""

from __future__ import annotations

import base64

import requests

from tests.e2e.conftest import Platform


def test_health_answers_without_a_token(platform: Platform) -> None:
    # WHEN an anonymous client asks for health
    response = requests.get(f"{platform.url}/v1/health", timeout=10)
    # THEN it is up, and says which stage it runs
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0", "stage": "dev"}
    assert response.headers["x-request-id"]


def test_demo_app_gets_a_token_and_whoami_names_it(platform: Platform) -> None:
    # GIVEN the demo app's printed credentials, sent with HTTP Basic as Cognito expects
    token = platform.token()
    # WHEN it calls whoami with the token
    response = requests.get(f"{platform.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    # THEN the platform knows the app and every scope it was granted
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["app_id"] == platform.credentials["client_id"]
    assert body["scopes"] == sorted(platform.credentials["scopes"])
    assert body["admin"] is False


def test_token_endpoint_accepts_form_credentials_and_narrows_scopes(platform: Platform) -> None:
    # WHEN the app sends its credentials as form fields and asks for one scope
    response = requests.post(
        f"{platform.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": platform.credentials["client_id"],
            "client_secret": platform.credentials["client_secret"],
            "scope": "genai/invoke",
        },
        timeout=10,
    )
    # THEN the token carries just that scope
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["token_type"] == "Bearer" and payload["expires_in"] == 3600
    whoami = requests.get(
        f"{platform.url}/v1/whoami", headers={"Authorization": f"Bearer {payload['access_token']}"}, timeout=10
    )
    assert whoami.json()["scopes"] == ["genai/invoke"]


def test_token_endpoint_refuses_a_wrong_secret(platform: Platform) -> None:
    basic = base64.b64encode(f"{platform.credentials['client_id']}:wrong".encode()).decode()
    response = requests.post(
        f"{platform.url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_whoami_without_a_token_is_401_in_the_error_envelope(platform: Platform) -> None:
    response = requests.get(f"{platform.url}/v1/whoami", timeout=10)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == "unauthorized"


def test_whoami_with_a_forged_token_is_401(platform: Platform) -> None:
    token = platform.token()
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    response = requests.get(f"{platform.url}/v1/whoami", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert response.status_code == 401


def test_whoami_with_a_token_lacking_every_genai_scope_is_403(platform: Platform) -> None:
    # GIVEN an app in the same pool that may only call another API (a scope of another resource server)
    idp = platform.aws("cognito-idp")
    pools = idp.list_user_pools(MaxResults=10)["UserPools"]
    app_pool = next(p["Id"] for p in pools if p["Name"].endswith("-apps"))
    idp.create_resource_server(
        UserPoolId=app_pool,
        Identifier="reports",
        Name="Reports",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}],
    )
    client_id, secret = platform.new_app("reports-only", ["reports/read"])
    token = platform.token(client_id=client_id, secret=secret)
    # WHEN it calls whoami
    response = requests.get(f"{platform.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    # THEN the authorizer refuses it for want of scope
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "permission_error"
    assert error["code"] == "insufficient_scope"


def test_unknown_route_is_404_in_the_error_envelope(platform: Platform) -> None:
    response = requests.get(f"{platform.url}/v1/does-not-exist", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "route_not_found"


def test_body_over_the_api_limit_is_refused_before_any_function_runs(platform: Platform) -> None:
    response = requests.post(
        f"{platform.url}/v1/whoami",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_the_openapi_document_is_served_without_a_token_with_this_server(platform: Platform) -> None:
    # GIVEN the running API
    # WHEN its OpenAPI document is fetched without a token
    response = requests.get(f"{platform.url}/v1/openapi.json", timeout=10)

    # THEN it is the whole API's document, naming the URL it was fetched from as its server
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    assert spec["servers"] == [{"url": platform.url}]
    assert {"/v1/health", "/v1/prompts", "/admin/whoami"} <= set(spec["paths"])


def test_the_two_413s_speak_with_one_code_and_one_wording(platform: Platform) -> None:
    # GIVEN a body over API Gateway's 10 MB limit, and one under it but over the functions' 1 MB limit
    session = platform.session()
    headers = {"Content-Type": "application/json"}
    gateway = session.post(f"{platform.url}/v1/prompts", data=b"x" * (10 * 1024 * 1024 + 1), headers=headers)
    function = session.post(f"{platform.url}/v1/prompts", data=b'"' + b"x" * (2 * 1024 * 1024) + b'"', headers=headers)

    # THEN both are 413 payload_too_large in the envelope, worded the same way, each naming its limit
    for response, limit in ((gateway, 10_485_760), (function, 1_048_576)):
        assert response.status_code == 413
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "payload_too_large")
        assert error["message"].startswith(f"the request body is larger than the limit of {limit} bytes")
        assert response.headers["x-request-id"]
