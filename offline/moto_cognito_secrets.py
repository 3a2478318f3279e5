"""Cognito's client secret rotation (AddUserPoolClientSecret, ListUserPoolClientSecrets, DeleteUserPoolClientSecret,
2025) for moto, which does not implement it yet (moto 5.2).

The admin API rotates an app's secret with these calls because they keep the client id, which is the app's id and
the tenant key of everything it owns (creating a new client would orphan its prompts, documents and usage). Like
Cognito, a client has at most two secrets; the one `DescribeUserPoolClient` reports as `ClientSecret` (and that the
runtime's token endpoint checks) is the oldest one left, so once the admin API deletes the old secret, the new one
is the client's only secret.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

MAX_SECRETS = 2


def _secrets_of(client: Any) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] | None = getattr(client, "offline_secrets", None)
    if kept is None:
        kept = [{"ClientSecretId": f"{client.id}-initial", "value": client.secret, "created": time.time()}]
        client.offline_secrets = kept
    return kept


def _descriptor(entry: dict[str, Any], with_value: bool = False) -> dict[str, Any]:
    out = {"ClientSecretId": entry["ClientSecretId"], "ClientSecretCreateDate": entry["created"]}
    if with_value:
        out["ClientSecretValue"] = entry["value"]
    return out


def install() -> None:
    """Add the three operations to moto's Cognito backend in this process (idempotent)."""
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import ActionResult, EmptyResult

    if getattr(CognitoIdpResponse, "_offline_client_secrets", False):
        return

    def _client(self: Any) -> Any:
        return self.backend.describe_user_pool_client(self._get_param("UserPoolId"), self._get_param("ClientId"))

    def add_user_pool_client_secret(self: Any) -> Any:
        client = _client(self)
        if not client.generate_secret:
            raise InvalidParameterException("this app client has no secret")
        kept = _secrets_of(client)
        if len(kept) >= MAX_SECRETS:
            raise InvalidParameterException(f"an app client has at most {MAX_SECRETS} secrets; delete one first")
        value = self._get_param("ClientSecret") or "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(51)
        )
        entry = {"ClientSecretId": f"{client.id}-{secrets.token_hex(8)}", "value": value, "created": time.time()}
        kept.append(entry)
        return ActionResult({"ClientSecretDescriptor": _descriptor(entry, with_value=True)})

    def list_user_pool_client_secrets(self: Any) -> Any:
        client = _client(self)
        kept = _secrets_of(client) if client.generate_secret else []
        return ActionResult({"ClientSecrets": [_descriptor(e) for e in kept]})

    def delete_user_pool_client_secret(self: Any) -> Any:
        client = _client(self)
        kept = _secrets_of(client)
        secret_id = self._get_param("ClientSecretId")
        if not any(e["ClientSecretId"] == secret_id for e in kept):
            raise InvalidParameterException(f"no client secret {secret_id}")
        if len(kept) == 1:
            raise InvalidParameterException("cannot delete the only secret of an app client")
        kept[:] = [e for e in kept if e["ClientSecretId"] != secret_id]
        client.secret = kept[0]["value"]
        return EmptyResult()

    CognitoIdpResponse.add_user_pool_client_secret = add_user_pool_client_secret  # type: ignore[attr-defined]
    CognitoIdpResponse.list_user_pool_client_secrets = list_user_pool_client_secrets  # type: ignore[attr-defined]
    CognitoIdpResponse.delete_user_pool_client_secret = delete_user_pool_client_secret  # type: ignore[attr-defined]
    CognitoIdpResponse._offline_client_secrets = True  # type: ignore[attr-defined]
