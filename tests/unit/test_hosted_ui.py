"""The local Hosted UI stand-in (authorization code + PKCE), the token grants for people, and the keys trusted."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import moto.cognitoidp
import pytest
from jwt.algorithms import RSAAlgorithm

from offline.auth import AppClient, AuthorizerDenied, OAuthError, TokenService, User, app_client_from_cognito
from offline.hosted_ui import HostedUi

ADMIN_POOL = "eu-west-1_AdminPool"
APP_POOL = "eu-west-1_AppPool1"
PORTAL = "portalclient"
CALLBACK = "http://localhost:3000/admin/"
PASSWORD = "Correct-Horse-9!"
FORM = {"content-type": "application/x-www-form-urlencoded"}
VERIFIER = "v" * 20 + "-verifier-" + "x" * 30


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def clients(cognito_client: Callable[..., dict[str, Any]]) -> dict[str, AppClient]:
    portal = cognito_client(
        UserPoolId=ADMIN_POOL,
        ClientId=PORTAL,
        ClientSecret=None,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile", "genai/admin"],
        CallbackURLs=[CALLBACK],
    )
    app = cognito_client()  # a client-credentials app of the apps pool
    return {c.client_id: c for c in map(app_client_from_cognito, (portal, app))}


def verify(pool_id: str, client_id: str, username: str, password: str) -> User | None:
    if (pool_id, username, password) == (ADMIN_POOL, "admin@example.com", PASSWORD):
        return User(username="u-1", sub="u-1", email="admin@example.com", groups=("admins",))
    return None


@pytest.fixture
def ui(tokens: TokenService, clients: dict[str, AppClient]) -> HostedUi:
    return HostedUi(tokens, clients.get, verify)


def authorize_query(**overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": PORTAL,
        "redirect_uri": CALLBACK,
        "scope": "openid email genai/admin",
        "state": "st-123",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return urlencode({k: v for k, v in params.items() if v is not None})


def sign_in(ui: HostedUi, password: str = PASSWORD, **overrides: str | None) -> tuple[int, dict[str, str], str]:
    """POST the login form as a browser would after GET /oauth2/authorize."""
    fields = dict(parse_qs(authorize_query(**overrides)))
    form = {k: v[0] for k, v in fields.items()} | {"username": "admin@example.com", "password": password}
    status, headers, body = ui.login(urlencode(form).encode())
    return status, dict(headers), body.decode()


def code_from(headers: dict[str, str]) -> dict[str, list[str]]:
    location = urlsplit(headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return parse_qs(location.query)


def exchange(tokens: TokenService, clients: dict[str, AppClient], **fields: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "client_id": PORTAL, "redirect_uri": CALLBACK} | fields
    return tokens.token_response(FORM, urlencode(form).encode(), clients.get)


# -- the forged token of the review (finding 1) --------------------------------------------------------------------
def test_a_token_signed_with_motos_bundled_key_is_refused(tokens: TokenService) -> None:
    # GIVEN moto's private signing key, which ships inside every moto install, and a token minted with it for
    # another app with prompt scopes, exactly as the review did
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    jwk = json.loads(gzip.decompress(path.read_bytes()))
    key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    now = int(time.time())
    claims = {
        "iss": tokens.issuer(APP_POOL),
        "token_use": "access",
        "client_id": "someone-elses-app",
        "scope": "genai/prompts.read genai/prompts.write",
        "exp": now + 600,
        "iat": now,
    }
    forged = jwt.encode(claims, key, algorithm="RS256", headers={"kid": jwk["kid"]})  # type: ignore[arg-type]

    # WHEN it is presented to the authorizer, and THEN it is refused
    with pytest.raises(AuthorizerDenied) as denied:
        tokens.authorize(f"Bearer {forged}", APP_POOL, ("genai/prompts.read",))
    assert denied.value.response_type == "UNAUTHORIZED"
    # AND the JWKS publishes this runtime's own key only
    assert [k["kid"] for k in tokens.jwks()["keys"]] == [tokens.kid]


# -- GET /oauth2/authorize ------------------------------------------------------------------------------------------
def test_authorize_shows_a_sign_in_form_carrying_the_request(ui: HostedUi) -> None:
    status, headers, body = ui.authorize(authorize_query(state='"><script>alert(1)</script>'))
    assert status == 200
    page = body.decode()
    assert 'action="/login"' in page and 'name="password"' in page
    assert "<script>" not in page  # the state is echoed escaped
    assert dict(headers)["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"client_id": "nobody"}, "client_id is not a client"),
        ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri is not a callback URL"),
        ({"redirect_uri": CALLBACK + "x"}, "redirect_uri is not a callback URL"),
    ],
)
def test_an_unknown_client_or_callback_gets_an_error_page_never_a_redirect(
    ui: HostedUi, override: dict[str, str], expected: str
) -> None:
    status, headers, body = ui.authorize(authorize_query(**override))
    assert status == 400
    assert "location" not in dict(headers)
    assert expected in body.decode()


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid genai/invoke"}, "invalid_scope"),
    ],
)
def test_a_bad_request_goes_back_to_the_callback_with_the_error_and_state(
    ui: HostedUi, override: dict[str, str | None], error: str
) -> None:
    status, headers, _ = ui.authorize(authorize_query(**override))
    assert status == 302
    answer = code_from(dict(headers))
    assert answer["error"] == [error] and answer["state"] == ["st-123"]


def test_the_app_client_may_not_use_the_code_flow(ui: HostedUi) -> None:
    # GIVEN a client-credentials client registered with no callback URL
    status, headers, _ = ui.authorize(authorize_query(client_id="reportsclient123"))
    assert status == 400 and "location" not in dict(headers)


# -- POST /login and the code exchange -------------------------------------------------------------------------------
def test_a_wrong_password_shows_the_form_again_with_an_error(ui: HostedUi) -> None:
    status, headers, body = sign_in(ui, password="wrong")
    assert status == 401
    assert "location" not in headers
    assert "Incorrect username or password." in body


def test_sign_in_then_code_exchange_gives_admin_pool_tokens(
    ui: HostedUi, tokens: TokenService, clients: dict[str, AppClient]
) -> None:
    # GIVEN a signed-in admin redirected back with a code and the state
    status, headers, _ = sign_in(ui)
    assert status == 302
    answer = code_from(headers)
    assert answer["state"] == ["st-123"]

    # WHEN the portal exchanges the code with its PKCE verifier
    response = exchange(tokens, clients, code=answer["code"][0], code_verifier=VERIFIER)

    # THEN it gets an ID token and an access token of the admin pool, with the user's groups and the scopes asked
    access = jwt.decode(response["access_token"], options={"verify_signature": False})
    identity = jwt.decode(response["id_token"], options={"verify_signature": False})
    assert access["iss"] == identity["iss"] == tokens.issuer(ADMIN_POOL)
    assert access["token_use"] == "access" and identity["token_use"] == "id"
    assert access["scope"] == "email genai/admin openid"
    assert access["cognito:groups"] == identity["cognito:groups"] == ["admins"]
    assert identity["aud"] == access["client_id"] == PORTAL
    assert identity["email"] == "admin@example.com"
    assert response["refresh_token"]
    # AND the authorizer accepts the access token on an admin route (scope genai/admin) of the admin pool
    claims = tokens.authorize(f"Bearer {response['access_token']}", ADMIN_POOL, ("genai/admin",))
    assert claims["cognito:groups"] == "admins"
    # AND refuses it on an app route (another pool)
    with pytest.raises(AuthorizerDenied):
        tokens.authorize(f"Bearer {response['access_token']}", APP_POOL, ("genai/invoke",))


@pytest.mark.parametrize(
    "fields",
    [
        {"code_verifier": "w" * 50},  # another verifier
        {},  # none at all
        {"code_verifier": VERIFIER, "redirect_uri": "http://localhost:3000/other/"},
    ],
    ids=["wrong-verifier", "no-verifier", "other-redirect"],
)
def test_a_code_without_its_verifier_or_redirect_is_invalid_grant(
    ui: HostedUi, tokens: TokenService, clients: dict[str, AppClient], fields: dict[str, str]
) -> None:
    _, headers, _ = sign_in(ui)
    code = code_from(headers)["code"][0]
    with pytest.raises(OAuthError) as err:
        exchange(tokens, clients, code=code, **fields)
    assert err.value.error == "invalid_grant"


def test_a_code_is_single_use(ui: HostedUi, tokens: TokenService, clients: dict[str, AppClient]) -> None:
    _, headers, _ = sign_in(ui)
    code = code_from(headers)["code"][0]
    exchange(tokens, clients, code=code, code_verifier=VERIFIER)
    with pytest.raises(OAuthError) as err:
        exchange(tokens, clients, code=code, code_verifier=VERIFIER)
    assert err.value.error == "invalid_grant"


def test_a_refresh_token_gives_new_tokens(ui: HostedUi, tokens: TokenService, clients: dict[str, AppClient]) -> None:
    _, headers, _ = sign_in(ui)
    first = exchange(tokens, clients, code=code_from(headers)["code"][0], code_verifier=VERIFIER)
    form = {"grant_type": "refresh_token", "client_id": PORTAL, "refresh_token": first["refresh_token"]}
    again = tokens.token_response(FORM, urlencode(form).encode(), clients.get)
    claims = jwt.decode(again["access_token"], options={"verify_signature": False})
    assert claims["username"] == "u-1" and "refresh_token" not in again
