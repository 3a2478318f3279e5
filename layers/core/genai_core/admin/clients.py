"""App clients in the apps pool (Cognito) and where their secrets are kept (Secrets Manager), behind Protocols."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Protocol

CLIENT_FLOWS = ["client_credentials"]


class AppClients(Protocol):
    def create(self, name: str, scopes: list[str]) -> tuple[str, str]:
        """A new client with the client-credentials flow and `scopes`: (client id, secret)."""
        ...

    def update_scopes(self, client_id: str, scopes: list[str]) -> None: ...

    def rotate_secret(self, client_id: str) -> str:
        """A new secret for the same client id; the old one stops working. Returns the new secret."""
        ...

    def delete(self, client_id: str) -> None: ...


class SecretStore(Protocol):
    def put(self, client_id: str, secret: str, *, create: bool) -> None: ...

    def delete(self, client_id: str) -> None: ...


def create_app_client(idp: Any, pool_id: str, name: str, scopes: list[str]) -> tuple[str, str]:
    """The one way an app client is made (the admin API, the offline runtime's demo app and the tests): a confidential
    client of the apps pool for OAuth2 client credentials with `scopes`. Returns (client id, client secret)."""
    client = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        GenerateSecret=True,
        AllowedOAuthFlows=CLIENT_FLOWS,
        AllowedOAuthScopes=scopes,
        AllowedOAuthFlowsUserPoolClient=True,
        SupportedIdentityProviders=["COGNITO"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
    )["UserPoolClient"]
    return str(client["ClientId"]), str(client["ClientSecret"])


# What UpdateUserPoolClient resets when left out: copied from the client as it is, so only the scopes change.
_KEPT_ON_UPDATE = (
    "ClientName",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "AllowedOAuthFlows",
    "AllowedOAuthFlowsUserPoolClient",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AuthSessionValidity",
)


class CognitoAppClients:
    def __init__(self, idp: Any, pool_id: str) -> None:
        self.idp = idp
        self.pool_id = pool_id

    def create(self, name: str, scopes: list[str]) -> tuple[str, str]:
        return create_app_client(self.idp, self.pool_id, name, scopes)

    def update_scopes(self, client_id: str, scopes: list[str]) -> None:
        current = self.idp.describe_user_pool_client(UserPoolId=self.pool_id, ClientId=client_id)["UserPoolClient"]
        kept = {k: current[k] for k in _KEPT_ON_UPDATE if current.get(k) not in (None, [], {})}
        self.idp.update_user_pool_client(UserPoolId=self.pool_id, ClientId=client_id, **kept, AllowedOAuthScopes=scopes)

    def rotate_secret(self, client_id: str) -> str:
        # Cognito's secret rotation (2025) keeps the client id, which is the app id and the tenant key of all its
        # data. Add the new secret, then delete every other one: the old secret stops getting tokens at once
        # (tokens it already got stay valid until they expire; the status check cannot tell them apart).
        key = {"UserPoolId": self.pool_id, "ClientId": client_id}
        added = self.idp.add_user_pool_client_secret(**key)["ClientSecretDescriptor"]
        try:
            listed = self.idp.list_user_pool_client_secrets(**key)["ClientSecrets"]
            for old in listed:
                if old["ClientSecretId"] != added["ClientSecretId"]:
                    self.idp.delete_user_pool_client_secret(**key, ClientSecretId=old["ClientSecretId"])
        except Exception:
            # Leave the client as it was (old secret only) rather than with two secrets the platform half-knows.
            self.idp.delete_user_pool_client_secret(**key, ClientSecretId=added["ClientSecretId"])
            raise
        return str(added["ClientSecretValue"])

    def delete(self, client_id: str) -> None:
        # Already gone is fine: deleting is idempotent.
        with contextlib.suppress(self.idp.exceptions.ResourceNotFoundException):
            self.idp.delete_user_pool_client(UserPoolId=self.pool_id, ClientId=client_id)


class SecretsManagerStore:
    """`genai/<stage>/apps/<client id>`: {"client_id", "client_secret"}, encrypted with the platform key."""

    def __init__(self, client: Any, stage: str, kms_key_id: str | None) -> None:
        self.client = client
        self.prefix = f"genai/{stage}/apps/"
        self.kms_key_id = kms_key_id

    def name(self, client_id: str) -> str:
        return self.prefix + client_id

    def put(self, client_id: str, secret: str, *, create: bool) -> None:
        value = json.dumps({"client_id": client_id, "client_secret": secret})
        if create:
            extra = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
            self.client.create_secret(
                Name=self.name(client_id),
                SecretString=value,
                Description=f"Client secret of the GenAI platform app {client_id}",
                **extra,
            )
        else:
            self.client.put_secret_value(SecretId=self.name(client_id), SecretString=value)

    def delete(self, client_id: str) -> None:
        with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_secret(SecretId=self.name(client_id), ForceDeleteWithoutRecovery=True)
