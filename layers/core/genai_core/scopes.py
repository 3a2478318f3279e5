"""Who may call a route: declared once, on the route, as its OpenAPI `security`.

A route says `security=needs(INVOKE)` (an app token with that scope) or `security=ADMIN` (a person of the admin
pool). That one declaration is the route's OpenAPI security requirement, the scopes the function itself checks
before the route runs (defence in depth behind API Gateway's authorizer), and what the contract test compares
with the template's `AuthorizationScopes`. The scheme names are the template's authorizer names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OAuth2

APP_AUTHORIZER = "AppAuthorizer"
ADMIN_AUTHORIZER = "AdminAuthorizer"

INVOKE = "genai/invoke"
PROMPTS_READ = "genai/prompts.read"
PROMPTS_WRITE = "genai/prompts.write"
DOCUMENTS_READ = "genai/documents.read"
DOCUMENTS_WRITE = "genai/documents.write"
APP_SCOPES = {
    INVOKE: "Call models through the gateway",
    PROMPTS_READ: "Read and render prompts",
    PROMPTS_WRITE: "Create prompt versions and move labels",
    DOCUMENTS_READ: "Read collections, documents and search",
    DOCUMENTS_WRITE: "Create collections and upload documents",
}
# The admin pool's resource server: API Gateway wants a scope on a route to accept access tokens.
ADMIN_SCOPE = "genai/admin"

Security = list[dict[str, list[str]]]


def needs(*scopes: str) -> Security:
    """An app token carrying at least one of `scopes`."""
    unknown = set(scopes) - set(APP_SCOPES)
    if unknown or not scopes:
        raise ValueError(f"unknown app scopes: {sorted(unknown)}")
    return [{APP_AUTHORIZER: list(scopes)}]


ANY_APP_SCOPE: Security = needs(*APP_SCOPES)
ADMIN: Security = [{ADMIN_AUTHORIZER: [ADMIN_SCOPE]}]


def security_schemes() -> dict[str, OAuth2]:
    """The two authorizers as OAuth2 schemes. Token URLs are relative to the API offline; deployed, they are the
    stack outputs `AppTokenUrl` and `AdminAuthUrl` (Cognito domains).

    Only the OpenAPI generator (tools/openapi.py) needs them: Powertools' OpenAPI models cost ~70 ms to import,
    which no function should pay at cold start."""
    from aws_lambda_powertools.event_handler.openapi.models import (
        OAuth2,
        OAuthFlowAuthorizationCode,
        OAuthFlowClientCredentials,
        OAuthFlows,
    )

    return {
        APP_AUTHORIZER: OAuth2(
            description="Onboarded apps: OAuth2 client credentials at the apps pool's token endpoint "
            "(offline: /oauth2/token on the API host; deployed: the AppTokenUrl stack output).",
            flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth2/token", scopes=APP_SCOPES)),
        ),
        ADMIN_AUTHORIZER: OAuth2(
            description="Platform administrators (admin pool, group 'admins'): authorization code with PKCE "
            "(offline: /oauth2/authorize on the API host; deployed: the AdminAuthUrl stack output).",
            flows=OAuthFlows(
                authorizationCode=OAuthFlowAuthorizationCode(
                    authorizationUrl="/oauth2/authorize",
                    tokenUrl="/oauth2/token",
                    scopes={ADMIN_SCOPE: "Use the admin API (the user must also be in the 'admins' group)"},
                )
            ),
        ),
    }
