"""The admin portal offline: the built single-page app (`admin-ui/dist/`) at `/admin/`, and its `config.json`.

In AWS, CloudFront serves the same files from S3 and `config.json` is written by the stack (template.yaml,
"Admin portal"); here the runtime writes it from its own URLs and the AdminPortalClient's id, so the portal
needs no edits either way. Only GET/HEAD of files that exist in the build are answered: everything else under
`/admin/` (the admin API's routes) goes on to the API.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "/admin/"
CONFIG_PATH = "/admin/config.json"
# The portal's own page: scripts and styles of its origin only; API and token calls to its origin (offline the
# runtime serves both); no framing. The Hosted UI stand-in sends its own headers.
_SECURITY_HEADERS = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
]
_NOT_BUILT = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Admin portal</title></head>
<body><h1>The admin portal is not built</h1>
<p>Run <code>make portal</code> (Node.js 20+), then reload.</p></body></html>
"""

# (status, headers, body), like the Hosted UI stand-in's pages.
Page = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class PortalConfig:
    """What the portal reads from `config.json`: where the API and the sign-in endpoints are, and its client."""

    api_url: str
    authorize_url: str
    token_url: str
    logout_url: str | None
    client_id: str
    redirect_uri: str
    scopes: str = "openid email genai/admin"

    def as_json(self) -> dict[str, Any]:
        return {
            "apiUrl": self.api_url,
            "authorizeUrl": self.authorize_url,
            "tokenUrl": self.token_url,
            "logoutUrl": self.logout_url,
            "clientId": self.client_id,
            "redirectUri": self.redirect_uri,
            "scopes": self.scopes,
        }


def offline_config(base_url: str, client_id: str) -> PortalConfig:
    """The offline runtime's config: API, Hosted UI stand-in and token endpoint all at `base_url`."""
    base = base_url.rstrip("/")
    return PortalConfig(
        api_url=base,
        authorize_url=f"{base}/oauth2/authorize",
        token_url=f"{base}/oauth2/token",
        logout_url=None,  # the stand-in keeps no session: signing out of the portal is enough
        client_id=client_id,
        redirect_uri=f"{base}{PREFIX}",
    )


class Portal:
    def __init__(self, dist_dir: Path, config: Callable[[], PortalConfig | None]) -> None:
        self.dist_dir = dist_dir.resolve()
        self.config = config  # called per request: the client id is known only once the pools are restored

    def handle(self, method: str, path: str) -> Page | None:
        """The portal's answer to `method path`, or None when it is not the portal's (an API route)."""
        if method not in ("GET", "HEAD"):
            return None
        if path == PREFIX.rstrip("/"):
            return 301, [("location", PREFIX), ("cache-control", "no-store")], b""
        if not path.startswith(PREFIX):
            return None
        if path == CONFIG_PATH:
            config = self.config()
            if config is None:
                return None
            body = json.dumps(config.as_json(), indent=2).encode()
            return 200, [("content-type", "application/json"), ("cache-control", "no-store")], body
        relative = path[len(PREFIX) :] or "index.html"
        if not (self.dist_dir / "index.html").is_file():
            if relative == "index.html":
                return 200, [("content-type", "text/html; charset=utf-8"), *_SECURITY_HEADERS], _NOT_BUILT
            return None
        file = (self.dist_dir / relative).resolve()
        if not file.is_relative_to(self.dist_dir) or not file.is_file():
            return None  # a route of the admin API, or nothing (the API answers 403 like API Gateway)
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/javascript":
            content_type += "; charset=utf-8"
        # Vite puts a content hash in every asset's name: those may be cached for good; index.html never.
        cache = "public, max-age=31536000, immutable" if relative.startswith("assets/") else "no-cache"
        headers = [("content-type", content_type), ("cache-control", cache), *_SECURITY_HEADERS]
        return 200, headers, file.read_bytes()
