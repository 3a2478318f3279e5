"""Fixtures shared by the unit tests of the offline runtime's token service and gateway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offline.auth import AppClient, TokenService, app_client_from_cognito

TOKEN_REGION = "eu-west-1"

CognitoClient = Callable[..., dict[str, Any]]
Lookup = Callable[[str], AppClient | None]


@pytest.fixture(scope="session")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth") / "signing-key.pem"


@pytest.fixture(scope="session")
def tokens(key_path: Path) -> TokenService:
    """One token service (and RSA key) per session: key generation is the slow part."""
    return TokenService(key_path, TOKEN_REGION)


@pytest.fixture
def cognito_client() -> CognitoClient:
    """Builds an app client shaped like `describe_user_pool_client()["UserPoolClient"]`, with overrides."""

    def build(**overrides: Any) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "UserPoolId": "eu-west-1_AppPool1",
            "ClientName": "reports-app",
            "ClientId": "reportsclient123",
            "ClientSecret": "s3cr3t-value",
            "ExplicitAuthFlows": [],
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": ["genai/invoke", "genai/prompts.read"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "AccessTokenValidity": 60,
            "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
        }
        desc.update(overrides)
        return desc

    return build


@pytest.fixture
def lookup_of() -> Callable[..., Lookup]:
    """Builds the token endpoint's `lookup(client_id)` over some describe_user_pool_client outputs."""

    def build(*descs: dict[str, Any]) -> Lookup:
        clients = {d["ClientId"]: app_client_from_cognito(d) for d in descs}
        return clients.get

    return build
