"""The caller's identity, from the claims the API Gateway Cognito authorizer put in the event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genai_core.errors import PermissionDenied, Unauthenticated

ADMIN_GROUP = "admins"


@dataclass(frozen=True)
class Caller:
    """Who is calling. `app_id` is the Cognito app client id and the tenant key of everything an app owns."""

    app_id: str
    scopes: frozenset[str]
    username: str | None = None
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def require_any_scope(self, *scopes: str) -> None:
        """Defence in depth behind the authorizer: refuse when none of `scopes` was granted."""
        if not self.scopes.intersection(scopes):
            raise PermissionDenied(
                f"this token lacks the required scope (one of: {', '.join(scopes)})", code="insufficient_scope"
            )

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied(f"this route needs a user in the '{ADMIN_GROUP}' group", code="admin_required")


def _split_groups(raw: Any) -> frozenset[str]:
    # REST API authorizers flatten list claims to strings such as "[admins ops]" or "admins,ops".
    if isinstance(raw, list):
        return frozenset(str(g) for g in raw)
    if not raw:
        return frozenset()
    text = str(raw).strip().strip("[]")
    return frozenset(part for part in text.replace(",", " ").split() if part)


def caller_from_event(event: dict[str, Any]) -> Caller:
    """Build the caller from `requestContext.authorizer.claims`; 401 when the request carries none."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    app_id = claims.get("client_id") or claims.get("aud")
    if not app_id:
        raise Unauthenticated("no verified token came with this request")
    return Caller(
        app_id=str(app_id),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        username=claims.get("username") or claims.get("cognito:username"),
        groups=_split_groups(claims.get("cognito:groups")),
    )
