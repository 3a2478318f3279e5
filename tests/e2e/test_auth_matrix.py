"""Every protected route of the served OpenAPI document x every way a token can be wrong → 401/403 in the envelope.

The routes come from `GET /v1/openapi.json` of the running runtime, not from a list in this file, so a route added
later is covered the day it is added. Tokens that no honest issuer would give are minted here: with the runtime's
own key (expired, wrong issuer, ID token), with other keys (a fresh key, moto's bundled key, HS256 keyed with the
public key, `alg: none`), and real ones of the other pool or lacking the route's scope.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import moto.cognitoidp
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.e2e.conftest import Platform

APP, ADMIN = "AppAuthorizer", "AdminAuthorizer"
APP_SCOPES = (
    "genai/invoke",
    "genai/prompts.read",
    "genai/prompts.write",
    "genai/documents.read",
    "genai/documents.write",
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with {params}
    scheme: str
    scopes: tuple[str, ...]

    def url(self, base: str) -> str:
        # Any value reaches the authorizer; the route itself never runs for a refused token.
        return base + "/".join("matrix-x" if s.startswith("{") else s for s in self.path.split("/"))

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Tokens:
    """Valid tokens of both pools and what is needed to forge others, gathered once per session."""

    platform: Platform
    app_access: str
    admin_access: str
    admin_id: str
    admin_without_scope: str
    app_claims: dict[str, Any]
    admin_claims: dict[str, Any]
    kid: str

    def runtime_signed(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.platform.signing_key(), algorithm="RS256", headers={"kid": self.kid})

    def claims_for(self, op: Operation) -> dict[str, Any]:
        return dict(self.app_claims if op.scheme == APP else self.admin_claims)


def _operations(spec: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for requirement in op.get("security") or []:
                for scheme, scopes in requirement.items():
                    found.append(Operation(method.upper(), path, scheme, tuple(scopes)))
    return found


def _unverified(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


@pytest.fixture(scope="module")
def operations(platform: Platform) -> list[Operation]:
    spec = requests.get(f"{platform.url}/v1/openapi.json", timeout=10).json()
    ops = _operations(spec)
    assert {op.scheme for op in ops} == {APP, ADMIN}, "the matrix needs app and admin routes to be meaningful"
    return ops


@pytest.fixture(scope="module")
def tokens(platform: Platform) -> Tokens:
    app_access = platform.token()
    admin = platform.admin_tokens()
    return Tokens(
        platform=platform,
        app_access=app_access,
        admin_access=admin["access_token"],
        admin_id=admin["id_token"],
        admin_without_scope=platform.admin_tokens(scope="openid email")["access_token"],
        app_claims=_unverified(app_access),
        admin_claims=_unverified(admin["access_token"]),
        kid=jwt.get_unverified_header(app_access)["kid"],
    )


# -- the cases: each builds the Authorization header value for an operation, or None when it does not apply -------
def _no_token(t: Tokens, op: Operation) -> str | None:
    return ""


def _malformed(t: Tokens, op: Operation) -> str | None:
    return "Bearer not.a.jwt"


def _wrong_key(t: Tokens, op: Operation) -> str | None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return "Bearer " + jwt.encode(t.claims_for(op), key, algorithm="RS256", headers={"kid": t.kid})


def _alg_none(t: Tokens, op: Operation) -> str | None:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"Bearer {part({'alg': 'none', 'typ': 'JWT', 'kid': t.kid})}.{part(t.claims_for(op))}."


def _hs256_with_public_key(t: Tokens, op: Operation) -> str | None:
    # The classic confusion attack: HMAC keyed with the RSA public key a verifier might accept as a secret.
    private = serialization.load_pem_private_key(t.platform.signing_key(), password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": t.kid}

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(t.claims_for(op)).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"Bearer {signing_input}.{b64(signature)}"


def _expired(t: Tokens, op: Operation) -> str | None:
    now = int(time.time())
    return "Bearer " + t.runtime_signed(t.claims_for(op) | {"iat": now - 7200, "exp": now - 3600})


def _wrong_issuer(t: Tokens, op: Operation) -> str | None:
    claims = t.claims_for(op)
    return "Bearer " + t.runtime_signed(claims | {"iss": claims["iss"].rsplit("/", 1)[0] + "/us-east-1_NotThePool"})


def _id_token(t: Tokens, op: Operation) -> str | None:
    if op.scheme == ADMIN:
        return "Bearer " + t.admin_id  # a real ID token of the admin pool
    claims = t.claims_for(op) | {"token_use": "id", "aud": t.app_claims["client_id"], "jti": str(uuid.uuid4())}
    return "Bearer " + t.runtime_signed(claims)


def _lacking_scope(t: Tokens, op: Operation) -> str | None:
    if op.scheme == ADMIN:
        return "Bearer " + t.admin_without_scope
    others = [s for s in APP_SCOPES if s not in op.scopes]
    return "Bearer " + t.platform.token(scope=others[0]) if others else None  # n/a: the route takes every scope


def _motos_bundled_key(t: Tokens, op: Operation) -> str | None:
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    jwk = json.loads(gzip.decompress(path.read_bytes()))
    key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    claims = t.claims_for(op) | {"client_id": "someone-else", "scope": " ".join((*APP_SCOPES, "genai/admin"))}
    return "Bearer " + jwt.encode(claims, key, algorithm="RS256", headers={"kid": jwk["kid"]})  # type: ignore[arg-type]


def _other_pool(t: Tokens, op: Operation) -> str | None:
    return "Bearer " + (t.admin_access if op.scheme == APP else t.app_access)


CASES: dict[str, tuple[Callable[[Tokens, Operation], str | None], int]] = {
    "no-token": (_no_token, 401),
    "malformed": (_malformed, 401),
    "wrong-key": (_wrong_key, 401),
    "alg-none": (_alg_none, 401),
    "hs256-public-key": (_hs256_with_public_key, 401),
    "expired": (_expired, 401),
    "wrong-issuer": (_wrong_issuer, 401),
    "id-token": (_id_token, 401),
    "lacking-scope": (_lacking_scope, 403),
    "motos-bundled-key": (_motos_bundled_key, 401),
    "other-pool": (_other_pool, 401),
}


def _call(platform: Platform, op: Operation, authorization: str) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    body = None
    if op.method in ("POST", "PUT", "PATCH"):
        headers["Content-Type"] = "application/json"
        body = "{}"
    return requests.request(op.method, op.url(platform.url), headers=headers, data=body, timeout=15)


def test_every_protected_route_refuses_every_bad_token(
    platform: Platform, operations: list[Operation], tokens: Tokens
) -> None:
    # GIVEN every protected operation of the served document and every kind of bad token
    failures, cells, not_applicable = [], 0, 0
    for op in operations:
        for name, (build, expected) in CASES.items():
            authorization = build(tokens, op)
            if authorization is None:
                not_applicable += 1
                continue
            # WHEN the route is called with it
            response = _call(platform, op, authorization)
            cells += 1
            # THEN API Gateway's authorizer refuses it with 401/403 in the OpenAI error envelope
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            error = body.get("error") or {}
            wanted_type = "authentication_error" if expected == 401 else "permission_error"
            if (
                response.status_code != expected
                or error.get("type") != wanted_type
                or "x-request-id" not in {k.lower() for k in response.headers}
            ):
                failures.append(f"{op} x {name}: {response.status_code} {response.text[:200]}")
    print(
        f"\nauth matrix: {len(operations)} protected routes x {len(CASES)} cases = {cells} cells "
        f"({not_applicable} not applicable)"
    )
    assert not failures, "\n".join(failures)
    assert cells >= len(operations) * (len(CASES) - 1)


def test_every_protected_route_accepts_a_good_token(
    platform: Platform, operations: list[Operation], tokens: Tokens
) -> None:
    # GIVEN a valid token of the right pool with every scope (the control: the matrix above is not vacuous)
    for op in operations:
        token = tokens.app_access if op.scheme == APP else tokens.admin_access
        # WHEN the route is called
        response = _call(platform, op, f"Bearer {token}")
        # THEN the authorizer lets it through: whatever the route answers, it is not a 401/403
        assert response.status_code not in (401, 403), f"{op}: {response.status_code} {response.text[:200]}"


def test_an_admin_signs_in_offline_and_the_admin_route_names_them(platform: Platform) -> None:
    # GIVEN the seeded admin signed in through /oauth2/authorize + /login + the code exchange (PKCE S256)
    tokens = platform.admin_tokens()

    # WHEN the admin route is called with the access token
    response = requests.get(
        f"{platform.url}/admin/whoami", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    )

    # THEN it answers with the admin's identity and group
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["admin"] is True and "genai/admin" in body["scopes"]
    assert _unverified(tokens["id_token"])["email"] == platform.credentials["admin_username"]
