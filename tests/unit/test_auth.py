"""The local Cognito token endpoint (client credentials) and the Cognito authorizer's checks."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from offline.auth import AuthorizerDenied, OAuthError, TokenService, app_client_from_cognito

POOL_ID = "eu-west-1_AppPool1"
OTHER_POOL_ID = "eu-west-1_OtherPool"
CLIENT_ID = "reportsclient123"
SECRET = "s3cr3t-value"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {**FORM, "authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def lookup(cognito_client: Callable[..., dict[str, Any]], lookup_of: Callable[..., Any]) -> Any:
    return lookup_of(
        cognito_client(),
        cognito_client(ClientId="codeflowclient", AllowedOAuthFlows=["code"]),
        cognito_client(ClientId="nooauthclient", AllowedOAuthFlowsUserPoolClient=False),
        cognito_client(ClientId="publicclient", ClientSecret=None),
    )


def token_error(call: Callable[[], Any]) -> OAuthError:
    with pytest.raises(OAuthError) as err:
        call()
    return err.value


def pool_signed(key_path: Path, tokens: TokenService, claims: dict[str, Any]) -> str:
    """A token signed with the pool's own key (read from its key file), with any claims a test needs."""
    return jwt.encode(claims, key_path.read_bytes(), algorithm="RS256", headers={"kid": tokens.kid})


def id_token_claims(tokens: TokenService, pool_id: str = POOL_ID) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "user-1",
        "aud": "portalclient",
        "token_use": "id",
        "cognito:username": "alice",
        "cognito:groups": ["admins", "ops"],
        "iss": tokens.issuer(pool_id),
        "iat": now,
        "exp": now + 600,
    }


def access_token(tokens: TokenService, *scopes: str, pool_id: str = POOL_ID, ttl_s: int = 600) -> str:
    return tokens.issue_access_token(pool_id, CLIENT_ID, frozenset(scopes), ttl_s)


def denied(call: Callable[[], Any]) -> AuthorizerDenied:
    with pytest.raises(AuthorizerDenied) as err:
        call()
    return err.value


# -- app clients --------------------------------------------------------------------------------------------------


def test_an_app_client_is_read_from_describe_user_pool_client(cognito_client: Callable[..., Any]) -> None:
    # GIVEN a client-credentials app client as Cognito describes it, valid 60 minutes
    # WHEN it is converted
    client = app_client_from_cognito(cognito_client())

    # THEN it has its id, secret, flows, scopes and a TTL in seconds
    assert (client.client_id, client.secret, client.oauth_enabled, client.access_token_ttl_s) == (
        CLIENT_ID,
        SECRET,
        True,
        3600,
    )
    assert client.flows == frozenset({"client_credentials"})
    assert client.scopes == frozenset({"genai/invoke", "genai/prompts.read"})


@pytest.mark.parametrize(
    ("validity", "units", "ttl"),
    [(2, {"AccessToken": "hours"}, 7200), (90, {"AccessToken": "seconds"}, 90), (1, {"AccessToken": "days"}, 86400)],
)
def test_the_access_token_lifetime_follows_its_units(
    cognito_client: Callable[..., Any], validity: int, units: dict[str, str], ttl: int
) -> None:
    # GIVEN an access token validity in some unit
    # WHEN the client is converted
    # THEN the lifetime is in seconds
    desc = cognito_client(AccessTokenValidity=validity, TokenValidityUnits=units)
    assert app_client_from_cognito(desc).access_token_ttl_s == ttl


def test_without_a_validity_the_access_token_lives_one_hour(cognito_client: Callable[..., Any]) -> None:
    # GIVEN a client description without AccessTokenValidity, as moto returns for defaults
    desc = cognito_client()
    del desc["AccessTokenValidity"], desc["TokenValidityUnits"]

    # WHEN / THEN Cognito's default of one hour applies
    assert app_client_from_cognito(desc).access_token_ttl_s == 3600


# -- token endpoint -----------------------------------------------------------------------------------------------


def test_http_basic_credentials_get_a_bearer_access_token(tokens: TokenService, lookup: Any) -> None:
    # GIVEN the app's id and secret in HTTP Basic auth, asking for one scope
    body = b"grant_type=client_credentials&scope=genai%2Finvoke"

    # WHEN the token endpoint is called
    response = tokens.token_response(basic(CLIENT_ID, SECRET), body, lookup)

    # THEN it answers like Cognito, with an access token of that app and scope, issued by the pool
    assert response["token_type"] == "Bearer"
    assert response["expires_in"] == 3600
    claims = claims_of(response["access_token"])
    assert claims["client_id"] == CLIENT_ID
    assert claims["scope"] == "genai/invoke"
    assert claims["token_use"] == "access"
    assert claims["iss"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}"
    assert claims["exp"] - claims["iat"] == 3600


def test_credentials_in_the_form_body_are_accepted(tokens: TokenService, lookup: Any) -> None:
    # GIVEN the id and secret as form fields
    body = f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}".encode()

    # WHEN the token endpoint is called
    response = tokens.token_response(FORM, body, lookup)

    # THEN a token for that app is issued
    assert claims_of(response["access_token"])["client_id"] == CLIENT_ID


def test_a_content_type_with_a_charset_is_accepted(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a form content type with a charset, as some HTTP clients send
    headers = {**basic(CLIENT_ID, SECRET), "content-type": "application/x-www-form-urlencoded; charset=UTF-8"}

    # WHEN / THEN a token is issued
    assert tokens.token_response(headers, b"grant_type=client_credentials", lookup)["access_token"]


def test_without_a_scope_the_token_carries_every_allowed_scope(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a request naming no scope
    # WHEN the token endpoint is called
    response = tokens.token_response(basic(CLIENT_ID, SECRET), b"grant_type=client_credentials", lookup)

    # THEN all of the client's scopes are granted
    assert set(claims_of(response["access_token"])["scope"].split()) == {"genai/invoke", "genai/prompts.read"}


def test_a_wrong_secret_is_invalid_client_401(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a known client id with the wrong secret
    # WHEN the token endpoint is called
    err = token_error(
        lambda: tokens.token_response(basic(CLIENT_ID, "wrong"), b"grant_type=client_credentials", lookup)
    )

    # THEN it is refused as OAuth2 says
    assert (err.status, err.body()) == (
        401,
        {"error": "invalid_client", "error_description": "client authentication failed"},
    )


def test_an_unknown_client_is_invalid_client_401(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a client id the pool does not have
    # WHEN / THEN it is refused exactly like a wrong secret (nothing tells the ids apart)
    err = token_error(lambda: tokens.token_response(basic("nobody", SECRET), b"grant_type=client_credentials", lookup))
    assert (err.status, err.error) == (401, "invalid_client")


def test_a_client_without_a_secret_cannot_use_client_credentials(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a public client (no secret) and an empty secret
    # WHEN / THEN it is refused
    err = token_error(
        lambda: tokens.token_response(basic("publicclient", ""), b"grant_type=client_credentials", lookup)
    )
    assert (err.status, err.error) == (401, "invalid_client")


@pytest.mark.parametrize("client_id", ["codeflowclient", "nooauthclient"])
def test_a_client_not_allowed_the_grant_is_unauthorized_client(
    tokens: TokenService, lookup: Any, client_id: str
) -> None:
    # GIVEN a client set up for the code flow only, or with OAuth flows disabled
    # WHEN it asks for client credentials
    err = token_error(lambda: tokens.token_response(basic(client_id, SECRET), b"grant_type=client_credentials", lookup))

    # THEN it is refused as unauthorized_client (400)
    assert (err.status, err.error) == (400, "unauthorized_client")


def test_a_scope_the_client_may_not_have_is_invalid_scope_naming_it(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a request for an allowed and a disallowed scope
    body = b"grant_type=client_credentials&scope=genai/invoke genai/prompts.write"

    # WHEN the token endpoint is called
    err = token_error(lambda: tokens.token_response(basic(CLIENT_ID, SECRET), body, lookup))

    # THEN it is refused, naming the scope not allowed
    assert (err.status, err.error) == (400, "invalid_scope")
    assert err.description == "scope not allowed for this client: genai/prompts.write"


def test_a_json_body_is_invalid_request(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a token request sent as JSON
    headers = {**basic(CLIENT_ID, SECRET), "content-type": "application/json"}

    # WHEN / THEN it is refused, saying which content type to use
    err = token_error(lambda: tokens.token_response(headers, b'{"grant_type":"client_credentials"}', lookup))
    assert (err.status, err.error) == (400, "invalid_request")
    assert "application/x-www-form-urlencoded" in err.description


def test_a_missing_grant_type_is_invalid_request(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a form without grant_type
    # WHEN / THEN it is refused saying grant_type is required
    err = token_error(lambda: tokens.token_response(basic(CLIENT_ID, SECRET), b"scope=genai/invoke", lookup))
    assert (err.error, err.description) == ("invalid_request", "grant_type is required")


def test_another_grant_type_is_unsupported_grant_type(tokens: TokenService, lookup: Any) -> None:
    # GIVEN the password grant
    # WHEN / THEN it is refused naming the grant
    err = token_error(lambda: tokens.token_response(basic(CLIENT_ID, SECRET), b"grant_type=password", lookup))
    assert (err.status, err.error) == (400, "unsupported_grant_type")
    assert "password" in err.description


def test_no_client_credentials_at_all_is_invalid_client(tokens: TokenService, lookup: Any) -> None:
    # GIVEN a grant request without any client authentication
    # WHEN / THEN it is refused
    err = token_error(lambda: tokens.token_response(FORM, b"grant_type=client_credentials", lookup))
    assert err.error == "invalid_client"


@pytest.mark.parametrize(
    "authorization",
    ["Basic ***not-base64***", "Basic " + base64.b64encode(b"no-colon-here").decode()],
    ids=["not-base64", "no-colon"],
)
def test_a_malformed_basic_header_is_invalid_client(tokens: TokenService, lookup: Any, authorization: str) -> None:
    # GIVEN a Basic header that does not hold id:secret
    headers = {**FORM, "authorization": authorization}

    # WHEN / THEN it is refused as invalid_client
    err = token_error(lambda: tokens.token_response(headers, b"grant_type=client_credentials", lookup))
    assert err.error == "invalid_client"


# -- authorizer ---------------------------------------------------------------------------------------------------


def test_a_missing_authorization_header_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN a request without a token on a scoped route
    # WHEN / THEN API Gateway's 401 answer is given
    err = denied(lambda: tokens.authorize(None, POOL_ID, ("genai/invoke",)))
    assert (err.response_type, err.message) == ("UNAUTHORIZED", "Unauthorized")


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""], ids=["bearer", "lowercase-bearer", "raw"])
def test_a_valid_access_token_is_accepted_with_or_without_bearer(tokens: TokenService, prefix: str) -> None:
    # GIVEN a valid access token with the route's scope, sent as "Bearer <t>" or as the raw token
    token = access_token(tokens, "genai/invoke")

    # WHEN the authorizer checks it
    claims = tokens.authorize(prefix + token, POOL_ID, ("genai/invoke",))

    # THEN the function gets the token's claims
    assert claims["client_id"] == CLIENT_ID
    assert claims["scope"] == "genai/invoke"


def test_an_expired_token_says_so(tokens: TokenService) -> None:
    # GIVEN a token that expired a minute ago
    token = access_token(tokens, "genai/invoke", ttl_s=-60)

    # WHEN / THEN API Gateway's expiry message is given
    err = denied(lambda: tokens.authorize(f"Bearer {token}", POOL_ID, ("genai/invoke",)))
    assert (err.response_type, err.message) == ("UNAUTHORIZED", "The incoming token has expired")


def test_a_token_of_another_pool_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN a token issued for another user pool (same signing key, other issuer)
    token = access_token(tokens, "genai/invoke", pool_id=OTHER_POOL_ID)

    # WHEN / THEN the authorizer of this pool refuses it
    err = denied(lambda: tokens.authorize(token, POOL_ID, ("genai/invoke",)))
    assert err.response_type == "UNAUTHORIZED"


def test_a_token_with_a_tampered_signature_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN a valid token whose signature has one character changed in the middle
    header, payload, signature = access_token(tokens, "genai/invoke").split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    token = ".".join([header, payload, signature[:middle] + flipped + signature[middle + 1 :]])

    # WHEN / THEN it is refused
    err = denied(lambda: tokens.authorize(token, POOL_ID, ("genai/invoke",)))
    assert err.response_type == "UNAUTHORIZED"


def test_a_token_with_tampered_claims_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN a token whose payload was swapped for one claiming more scopes, keeping the signature
    header, _, signature = access_token(tokens, "genai/invoke").split(".")
    _, forged_payload, _ = access_token(tokens, "genai/invoke", "genai/prompts.write").split(".")

    # WHEN / THEN the signature no longer matches
    err = denied(lambda: tokens.authorize(f"{header}.{forged_payload}.{signature}", POOL_ID, ("genai/invoke",)))
    assert err.response_type == "UNAUTHORIZED"


def test_a_token_signed_with_an_unknown_key_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN a well-formed token signed by a key the pool does not publish
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = claims_of(access_token(tokens, "genai/invoke"))
    token = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "not-a-pool-key"})

    # WHEN / THEN it is refused
    err = denied(lambda: tokens.authorize(token, POOL_ID, ("genai/invoke",)))
    assert err.response_type == "UNAUTHORIZED"


def test_a_token_that_is_not_a_jwt_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN garbage in the Authorization header
    # WHEN / THEN it is refused
    err = denied(lambda: tokens.authorize("Bearer not.a.jwt", POOL_ID, ("genai/invoke",)))
    assert err.response_type == "UNAUTHORIZED"


def test_one_of_the_route_scopes_is_enough(tokens: TokenService) -> None:
    # GIVEN a token with prompts.read only, on a route accepting prompts.read or prompts.write
    token = access_token(tokens, "genai/prompts.read")

    # WHEN / THEN it is accepted
    claims = tokens.authorize(token, POOL_ID, ("genai/prompts.write", "genai/prompts.read"))
    assert claims["scope"] == "genai/prompts.read"


def test_a_token_with_none_of_the_route_scopes_is_access_denied(tokens: TokenService) -> None:
    # GIVEN a token for invoke only, on a prompts route
    token = access_token(tokens, "genai/invoke")

    # WHEN the authorizer checks it
    err = denied(lambda: tokens.authorize(token, POOL_ID, ("genai/prompts.read", "genai/prompts.write")))

    # THEN it is API Gateway's 403 type, naming the scopes needed
    assert err.response_type == "ACCESS_DENIED"
    assert "genai/prompts.read genai/prompts.write" in err.message


def test_an_id_token_on_a_scoped_route_is_unauthorized(key_path: Path, tokens: TokenService) -> None:
    # GIVEN a valid ID token of the pool (it has no scopes)
    token = pool_signed(key_path, tokens, id_token_claims(tokens))

    # WHEN it is used on a route with scopes
    err = denied(lambda: tokens.authorize(token, POOL_ID, ("genai/invoke",)))

    # THEN API Gateway refuses it as 401, not 403
    assert err.response_type == "UNAUTHORIZED"


def test_an_id_token_on_a_route_without_scopes_is_accepted(key_path: Path, tokens: TokenService) -> None:
    # GIVEN a valid ID token of an admin-pool user
    token = pool_signed(key_path, tokens, id_token_claims(tokens))

    # WHEN it is used on a route without scopes (admin routes)
    claims = tokens.authorize(f"Bearer {token}", POOL_ID, ())

    # THEN the user's claims are passed on
    assert claims["cognito:username"] == "alice"


def test_an_access_token_on_a_route_without_scopes_is_unauthorized(tokens: TokenService) -> None:
    # GIVEN an access token, on a route whose authorizer has no scopes (it expects ID tokens)
    token = access_token(tokens, "genai/invoke")

    # WHEN / THEN it is refused
    err = denied(lambda: tokens.authorize(token, POOL_ID, ()))
    assert err.response_type == "UNAUTHORIZED"


def test_a_token_without_token_use_is_unauthorized(key_path: Path, tokens: TokenService) -> None:
    # GIVEN a pool-signed token lacking the token_use claim
    claims = id_token_claims(tokens)
    del claims["token_use"]
    token = pool_signed(key_path, tokens, claims)

    # WHEN / THEN it is refused
    err = denied(lambda: tokens.authorize(token, POOL_ID, ()))
    assert err.response_type == "UNAUTHORIZED"


def test_the_claims_handed_to_the_function_are_all_strings(key_path: Path, tokens: TokenService) -> None:
    # GIVEN an ID token with numeric and list claims
    token = pool_signed(key_path, tokens, id_token_claims(tokens))

    # WHEN it is authorised
    claims = tokens.authorize(token, POOL_ID, ())

    # THEN every claim is a string, as REST API authorizers pass them, lists comma-joined
    assert all(isinstance(v, str) for v in claims.values())
    assert claims["cognito:groups"] == "admins,ops"
    assert claims["exp"].isdigit()


def test_access_token_claims_are_strings_too(tokens: TokenService) -> None:
    # GIVEN an access token (its `version`, `exp`, `iat` are numbers)
    # WHEN it is authorised
    claims = tokens.authorize(access_token(tokens, "genai/invoke"), POOL_ID, ("genai/invoke",))

    # THEN they arrive as strings
    assert claims["version"] == "2"
    assert all(isinstance(v, str) for v in claims.values())


# -- key persistence and JWKS -------------------------------------------------------------------------------------


def test_a_restarted_service_on_the_same_key_file_accepts_earlier_tokens(key_path: Path, tokens: TokenService) -> None:
    # GIVEN a token issued before a restart
    token = access_token(tokens, "genai/invoke")

    # WHEN a new token service starts on the same key file
    restarted = TokenService(key_path, tokens.region)

    # THEN it has the same key id and accepts the token
    assert restarted.kid == tokens.kid
    assert restarted.authorize(token, POOL_ID, ("genai/invoke",))["client_id"] == CLIENT_ID


def test_a_service_with_another_key_file_refuses_those_tokens(tmp_path: Path, tokens: TokenService) -> None:
    # GIVEN a token of one service and a second service with a fresh key
    token = access_token(tokens, "genai/invoke")
    other = TokenService(tmp_path / "other.pem", tokens.region)

    # WHEN / THEN the second one refuses it
    err = denied(lambda: other.authorize(token, POOL_ID, ("genai/invoke",)))
    assert err.response_type == "UNAUTHORIZED"


def test_a_new_key_file_is_private_to_its_owner(tmp_path: Path) -> None:
    # GIVEN no key file yet
    path = tmp_path / "state" / "key.pem"

    # WHEN a service starts
    TokenService(path, "eu-west-1")

    # THEN the key is written readable by its owner only
    assert path.stat().st_mode & 0o077 == 0


def test_the_jwks_publishes_the_signing_key_so_a_client_can_verify(tokens: TokenService) -> None:
    # GIVEN the published JWKS and a token
    token = access_token(tokens, "genai/invoke")
    jwks = tokens.jwks()
    published = next(k for k in jwks["keys"] if k["kid"] == tokens.kid)

    # WHEN a client verifies the token with that key alone
    key = jwt.PyJWK(published).key
    claims = jwt.decode(token, key=key, algorithms=["RS256"], options={"verify_aud": False})

    # THEN it verifies, and the key is marked for RS256 signatures
    assert claims["client_id"] == CLIENT_ID
    assert (published["alg"], published["use"], published["kty"]) == ("RS256", "sig", "RSA")
