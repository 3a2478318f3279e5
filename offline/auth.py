"""Local stand-ins for Cognito's `/oauth2/token` (client credentials), its JWKS, and the API Gateway
Cognito authorizer's checks (signature, issuer, expiry, token use, route scopes).

Tokens are RS256 JWTs in the shape Cognito issues (`iss` = the pool's cognito-idp URL, `token_use`,
`scope`, `client_id`, `kid` header), signed with a key kept in the state folder so tokens survive restarts.
Tokens that moto itself issues (`initiate_auth`, for users of the admin pool) verify with moto's bundled key.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import time
import uuid
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


def _moto_public_jwks() -> list[dict[str, Any]]:
    """moto signs `initiate_auth` tokens with a key it ships; trust it like a second pool key."""
    import moto.cognitoidp

    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"
    return list(json.loads(gzip.decompress(path.read_bytes()))["keys"])


@dataclass(frozen=True)
class AppClient:
    """What the token endpoint needs to know of a Cognito app client."""

    client_id: str
    secret: str | None
    flows: frozenset[str]
    scopes: frozenset[str]
    oauth_enabled: bool
    access_token_ttl_s: int


def app_client_from_cognito(desc: dict[str, Any]) -> AppClient:
    """From `describe_user_pool_client()["UserPoolClient"]`."""
    units = (desc.get("TokenValidityUnits") or {}).get("AccessToken", "hours")
    factor = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}.get(units, 3600)
    validity = desc.get("AccessTokenValidity")
    return AppClient(
        client_id=desc["ClientId"],
        secret=desc.get("ClientSecret"),
        flows=frozenset(desc.get("AllowedOAuthFlows") or []),
        scopes=frozenset(desc.get("AllowedOAuthScopes") or []),
        oauth_enabled=bool(desc.get("AllowedOAuthFlowsUserPoolClient")),
        access_token_ttl_s=int(validity) * factor if validity else _DEFAULT_TOKEN_TTL_S,
    )


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
        self._jwks = [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}, *_moto_public_jwks()]
        self._keys = {k["kid"]: RSAAlgorithm.from_jwk(json.dumps(k)) for k in self._jwks}
        self.region = region

    def issuer(self, pool_id: str) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{pool_id}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": self._jwks}

    # -- token endpoint ----------------------------------------------------------------------------------------
    def token_response(self, pool_id: str, headers: dict[str, str], body: bytes, lookup: Any) -> dict[str, Any]:
        """Handle a POST to /oauth2/token. `lookup(client_id) -> AppClient | None` reads the pool's clients."""
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
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", f"grant_type {grant} is not supported by this endpoint")
        client_id, secret = _client_credentials(headers, form)
        client = lookup(client_id)
        if client is None or not client.secret or not _same(client.secret, secret):
            raise OAuthError("invalid_client", "client authentication failed", status=401)
        if not client.oauth_enabled or "client_credentials" not in client.flows:
            raise OAuthError("unauthorized_client", "this client may not use the client_credentials grant")
        requested = frozenset(form.get("scope", "").split())
        if requested - client.scopes:
            bad = ", ".join(sorted(requested - client.scopes))
            raise OAuthError("invalid_scope", f"scope not allowed for this client: {bad}")
        scopes = requested or client.scopes
        token = self.issue_access_token(pool_id, client.client_id, scopes, client.access_token_ttl_s)
        return {"access_token": token, "expires_in": client.access_token_ttl_s, "token_type": "Bearer"}

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
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

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
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
