"""Local stand-ins for Cognito's `/oauth2/token`, its JWKS, and the API Gateway Cognito authorizer's checks
(signature, issuer, expiry, token use, route scopes).

The token endpoint takes the grants Cognito's does: `client_credentials` (apps), `authorization_code` with PKCE
(people signing in through the local Hosted UI, `offline.hosted_ui`) and `refresh_token`. Tokens are RS256 JWTs in
the shape Cognito issues (`iss` = the pool's cognito-idp URL, `token_use`, `scope`, `client_id`, `kid` header),
signed with a key this runtime generated and keeps in the state folder, so tokens survive restarts. Only that key
is trusted: moto's bundled signing key ships inside every moto install, so anyone could mint tokens with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

_DEFAULT_TOKEN_TTL_S = 3600


class OAuthError(Exception):
    """An error of the token endpoint, in OAuth2's `{"error": ...}` form."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AuthorizerDenied(Exception):
    """What API Gateway answers before the function runs: UNAUTHORIZED (401) or ACCESS_DENIED (403)."""

    def __init__(self, response_type: str, message: str) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key


@dataclass(frozen=True)
class AppClient:
    """What the token endpoint and the Hosted UI need to know of a Cognito app client."""

    client_id: str
    secret: str | None
    flows: frozenset[str]
    scopes: frozenset[str]
    oauth_enabled: bool
    access_token_ttl_s: int
    pool_id: str = ""
    callback_urls: frozenset[str] = frozenset()


ClientLookup = Callable[[str], "AppClient | None"]


def _seconds(desc: dict[str, Any], token: str, default_units: str) -> int | None:
    units = (desc.get("TokenValidityUnits") or {}).get(token, default_units)
    factor = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}.get(units, 3600)
    validity = desc.get(f"{token}Validity")
    return int(validity) * factor if validity else None


def app_client_from_cognito(desc: dict[str, Any]) -> AppClient:
    """From `describe_user_pool_client()["UserPoolClient"]`."""
    return AppClient(
        client_id=desc["ClientId"],
        secret=desc.get("ClientSecret"),
        flows=frozenset(desc.get("AllowedOAuthFlows") or []),
        scopes=frozenset(desc.get("AllowedOAuthScopes") or []),
        oauth_enabled=bool(desc.get("AllowedOAuthFlowsUserPoolClient")),
        access_token_ttl_s=_seconds(desc, "AccessToken", "hours") or _DEFAULT_TOKEN_TTL_S,
        pool_id=str(desc.get("UserPoolId") or ""),
        callback_urls=frozenset(desc.get("CallbackURLs") or []),
    )


@dataclass(frozen=True)
class User:
    """A person of a user pool who signed in: what goes into their tokens."""

    username: str
    sub: str
    email: str | None
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    """What an authorization code or a refresh token stands for."""

    client_id: str
    pool_id: str
    user: User
    scopes: frozenset[str]
    redirect_uri: str = ""
    code_challenge: str | None = None
    auth_time: int = 0


class GrantStore:
    """Authorization codes (single use, 5 minutes, as Cognito) and refresh tokens, in memory.

    Neither survives a restart: a person signs in again, as after a Cognito refresh token is revoked.
    """

    CODE_TTL_S = 300
    REFRESH_TTL_S = 30 * 86400

    def __init__(self) -> None:
        self._codes: dict[str, tuple[float, Grant]] = {}
        self._refresh: dict[str, tuple[float, Grant]] = {}
        self._lock = threading.Lock()

    def new_code(self, grant: Grant) -> str:
        return self._put(self._codes, grant, self.CODE_TTL_S)

    def new_refresh_token(self, grant: Grant) -> str:
        return self._put(self._refresh, grant, self.REFRESH_TTL_S)

    def redeem_code(self, code: str) -> Grant | None:
        """The code's grant, once: a second redemption (a replayed code) finds nothing."""
        with self._lock:
            expires, grant = self._codes.pop(code, (0.0, None))  # type: ignore[arg-type]
        return grant if grant is not None and expires > time.monotonic() else None

    def refresh(self, token: str) -> Grant | None:
        with self._lock:
            expires, grant = self._refresh.get(token, (0.0, None))  # type: ignore[arg-type]
        return grant if grant is not None and expires > time.monotonic() else None

    def _put(self, table: dict[str, tuple[float, Grant]], grant: Grant, ttl_s: int) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (expires, _) in table.items() if expires <= now]:
                del table[key]
            table[token] = (now + ttl_s, grant)
        return token


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _client_credentials(headers: dict[str, str], form: dict[str, str]) -> tuple[str, str]:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "the Basic authorization header is not valid base64") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "the Basic authorization header must be client_id:client_secret")
        return client_id, secret
    if form.get("client_id"):
        return form["client_id"], form.get("client_secret", "")
    raise OAuthError("invalid_client", "send the client id and secret with HTTP Basic auth or as form fields")


class TokenService:
    def __init__(self, key_path: Path, region: str) -> None:
        self._key = _load_or_create_key(key_path)
        public = self._key.public_key()
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).hexdigest()[:32]
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
        self._jwks = [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]
        self._keys = {k["kid"]: RSAAlgorithm.from_jwk(json.dumps(k)) for k in self._jwks}
        self.region = region
        self.grants = GrantStore()

    def issuer(self, pool_id: str) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{pool_id}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": self._jwks}

    # -- token endpoint ----------------------------------------------------------------------------------------
    def token_response(self, headers: dict[str, str], body: bytes, lookup: ClientLookup) -> dict[str, Any]:
        """Handle a POST to /oauth2/token. `lookup(client_id)` reads a client of any pool with a domain."""
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "send the token request as application/x-www-form-urlencoded")
        try:
            parsed = parse_qs(body.decode(), strict_parsing=False, keep_blank_values=True)
        except UnicodeDecodeError:
            raise OAuthError("invalid_request", "the request body is not valid UTF-8") from None
        form = {k: v[-1] for k, v in parsed.items()}
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        handlers = {
            "client_credentials": self._client_credentials_grant,
            "authorization_code": self._authorization_code_grant,
            "refresh_token": self._refresh_token_grant,
        }
        if grant not in handlers:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant} is not supported by this endpoint")
        return handlers[grant](headers, form, lookup)

    def _authenticate(self, headers: dict[str, str], form: dict[str, str], lookup: ClientLookup) -> AppClient:
        """The calling client: a confidential one proves its secret; a public one (no secret) only names itself."""
        client_id, secret = _client_credentials(headers, form)
        client = lookup(client_id)
        if client is None or (client.secret and not _same(client.secret, secret)) or (secret and not client.secret):
            raise OAuthError("invalid_client", "client authentication failed", status=401)
        return client

    def _client_credentials_grant(
        self, headers: dict[str, str], form: dict[str, str], lookup: ClientLookup
    ) -> dict[str, Any]:
        client = self._authenticate(headers, form, lookup)
        if not client.secret:
            raise OAuthError("invalid_client", "client authentication failed", status=401)
        if not client.oauth_enabled or "client_credentials" not in client.flows:
            raise OAuthError("unauthorized_client", "this client may not use the client_credentials grant")
        requested = frozenset(form.get("scope", "").split())
        if requested - client.scopes:
            bad = ", ".join(sorted(requested - client.scopes))
            raise OAuthError("invalid_scope", f"scope not allowed for this client: {bad}")
        scopes = requested or client.scopes
        token = self.issue_access_token(client.pool_id, client.client_id, scopes, client.access_token_ttl_s)
        return {"access_token": token, "expires_in": client.access_token_ttl_s, "token_type": "Bearer"}

    def _authorization_code_grant(
        self, headers: dict[str, str], form: dict[str, str], lookup: ClientLookup
    ) -> dict[str, Any]:
        client = self._authenticate(headers, form, lookup)
        grant = self.grants.redeem_code(form.get("code", ""))
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the authorization code is unknown, used or expired")
        if form.get("redirect_uri", "") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the one of the authorization request")
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(pkce_s256(verifier), grant.code_challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE S256)")
        return {**self._user_tokens(client, grant), "refresh_token": self.grants.new_refresh_token(grant)}

    def _refresh_token_grant(
        self, headers: dict[str, str], form: dict[str, str], lookup: ClientLookup
    ) -> dict[str, Any]:
        client = self._authenticate(headers, form, lookup)
        grant = self.grants.refresh(form.get("refresh_token", ""))
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the refresh token is unknown or expired")
        return self._user_tokens(client, grant)

    def _user_tokens(self, client: AppClient, grant: Grant) -> dict[str, Any]:
        """An ID token and an access token for a person, in Cognito's shape."""
        now, ttl = int(time.time()), client.access_token_ttl_s
        user = grant.user
        common = {
            "sub": user.sub,
            "iss": self.issuer(grant.pool_id),
            "auth_time": grant.auth_time or now,
            "iat": now,
            "exp": now + ttl,
            "origin_jti": str(uuid.uuid4()),
            **({"cognito:groups": list(user.groups)} if user.groups else {}),
        }
        access = {
            **common,
            "token_use": "access",
            "scope": " ".join(sorted(grant.scopes)),
            "client_id": client.client_id,
            "username": user.username,
            "version": 2,
            "jti": str(uuid.uuid4()),
        }
        identity = {
            **common,
            "token_use": "id",
            "aud": client.client_id,
            "cognito:username": user.username,
            "jti": str(uuid.uuid4()),
            **({"email": user.email, "email_verified": True} if user.email else {}),
        }
        return {
            "access_token": self._sign(access),
            "id_token": self._sign(identity),
            "expires_in": ttl,
            "token_type": "Bearer",
        }

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def issue_access_token(self, pool_id: str, client_id: str, scopes: frozenset[str], ttl_s: int) -> str:
        now = int(time.time())
        claims = {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(sorted(scopes)),
            "auth_time": now,
            "iss": self.issuer(pool_id),
            "exp": now + ttl_s,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        return self._sign(claims)

    # -- authorizer --------------------------------------------------------------------------------------------
    def authorize(self, authorization: str | None, pool_id: str, scopes: tuple[str, ...]) -> dict[str, Any]:
        """The Cognito authorizer's decision; returns the claims API Gateway passes to the function."""
        if not authorization:
            raise AuthorizerDenied("UNAUTHORIZED", "Unauthorized")
        token = authorization.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid", ""))
            if key is None:
                raise AuthorizerDenied("UNAUTHORIZED", "Unauthorized")
            claims = jwt.decode(
                token,
                key=key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                issuer=self.issuer(pool_id),
                options={"verify_aud": False, "require": ["exp", "iss", "token_use"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthorizerDenied("UNAUTHORIZED", "The incoming token has expired") from None
        except jwt.PyJWTError:
            raise AuthorizerDenied("UNAUTHORIZED", "Unauthorized") from None
        if scopes:
            # With scopes on the method, API Gateway wants an access token carrying at least one of them.
            granted = set(str(claims.get("scope", "")).split())
            if claims.get("token_use") != "access":
                raise AuthorizerDenied("UNAUTHORIZED", "Unauthorized")
            if not granted.intersection(scopes):
                raise AuthorizerDenied("ACCESS_DENIED", f"This route needs one of the scopes: {' '.join(scopes)}")
        elif claims.get("token_use") != "id":
            # Without scopes, API Gateway's Cognito authorizer accepts ID tokens only.
            raise AuthorizerDenied("UNAUTHORIZED", "Unauthorized")
        return {k: _claim_text(v) for k, v in claims.items()}


def _claim_text(value: Any) -> str:
    """REST API authorizers hand every claim to the function as a string; lists are comma-joined."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
