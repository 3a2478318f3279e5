"""A local stand-in for Cognito's Hosted UI: `GET /oauth2/authorize` shows a sign-in form, `POST /login` checks the
user against the local user pool and redirects back with an authorization code (PKCE S256), which the token
endpoint (`offline.auth`) exchanges for an ID token and an access token signed by this runtime.

As in Cognito: only the client's registered callback URLs are redirected to (anything else is an error page, never
a redirect); a public client (no secret) must use PKCE with S256; scopes are the client's allowed ones, narrowed
by `scope`; errors found after the redirect URI is known go back to it as `?error=...&state=...`.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from offline.auth import AppClient, ClientLookup, Grant, TokenService, User

# (status, headers, body): the gateway turns it into its reply.
Page = tuple[int, list[tuple[str, str]], bytes]
VerifyUser = Callable[[str, str, str, str], "User | None"]  # (pool_id, client_id, username, password)

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43,128}")
_PAGE_HEADERS = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
]
_PARAMS = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method")


class _Refused(Exception):
    """An error of the authorization request; `redirect` when it may go back to the client's callback URL."""

    def __init__(self, error: str, description: str, redirect: bool = True) -> None:
        super().__init__(description)
        self.error, self.description, self.redirect = error, description, redirect


@dataclass(frozen=True)
class _Request:
    client: AppClient
    redirect_uri: str
    scopes: frozenset[str]
    state: str | None
    code_challenge: str | None
    params: dict[str, str]


class HostedUi:
    def __init__(self, tokens: TokenService, lookup: ClientLookup, verify_user: VerifyUser) -> None:
        self.tokens = tokens
        self.lookup = lookup
        self.verify_user = verify_user

    # -- endpoints ---------------------------------------------------------------------------------------------
    def authorize(self, query: str) -> Page:
        """GET /oauth2/authorize: the sign-in form, or an error."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            request = self._check(params)
        except _Refused as refused:
            return self._refusal(refused, params)
        return _form(request.params, error=None, status=200)

    def login(self, body: bytes) -> Page:
        """POST /login: check the user; redirect to the callback with a code, or show the form again."""
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _error_page("invalid_request", "the form is not valid UTF-8")
        try:
            request = self._check(fields)
        except _Refused as refused:
            return self._refusal(refused, fields)
        username, password = fields.get("username", "").strip(), fields.get("password", "")
        user = self.verify_user(request.client.pool_id, request.client.client_id, username, password)
        if user is None:
            return _form(request.params, error="Incorrect username or password.", status=401)
        grant = Grant(
            client_id=request.client.client_id,
            pool_id=request.client.pool_id,
            user=user,
            scopes=request.scopes,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            auth_time=int(time.time()),
        )
        answer = {"code": self.tokens.grants.new_code(grant)}
        if request.state is not None:
            answer["state"] = request.state
        return _redirect(request.redirect_uri, answer)

    # -- checks ------------------------------------------------------------------------------------------------
    def _check(self, params: dict[str, str]) -> _Request:
        client = self.lookup(params.get("client_id", ""))
        if client is None:
            raise _Refused("invalid_request", "client_id is not a client of this user pool", redirect=False)
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.callback_urls:
            raise _Refused("redirect_mismatch", "redirect_uri is not a callback URL of this client", redirect=False)
        if params.get("response_type") != "code":
            raise _Refused("unsupported_response_type", "response_type must be code")
        if not client.oauth_enabled or "code" not in client.flows:
            raise _Refused("unauthorized_client", "this client may not use the authorization code grant")
        requested = frozenset(params.get("scope", "").split())
        if requested - client.scopes:
            raise _Refused(
                "invalid_scope", f"scope not allowed for this client: {' '.join(sorted(requested - client.scopes))}"
            )
        challenge = params.get("code_challenge") or None
        if challenge is None and not client.secret:
            raise _Refused("invalid_request", "a public client must send code_challenge (PKCE)")
        if challenge is not None:
            if params.get("code_challenge_method") != "S256":
                raise _Refused("invalid_request", "code_challenge_method must be S256")
            if not _CHALLENGE.fullmatch(challenge):
                raise _Refused("invalid_request", "code_challenge must be 43-128 base64url characters")
        kept = {k: params[k] for k in _PARAMS if k in params}
        return _Request(client, redirect_uri, requested or client.scopes, params.get("state"), challenge, kept)

    def _refusal(self, refused: _Refused, params: dict[str, str]) -> Page:
        if not refused.redirect:
            return _error_page(refused.error, refused.description)
        answer = {"error": refused.error, "error_description": refused.description}
        if "state" in params:
            answer["state"] = params["state"]
        return _redirect(params["redirect_uri"], answer)


def _redirect(uri: str, params: dict[str, str]) -> Page:
    separator = "&" if "?" in uri else "?"
    return 302, [("location", uri + separator + urlencode(params)), ("cache-control", "no-store")], b""


def _error_page(error: str, description: str) -> Page:
    body = f"<h1>Sign-in error</h1><p><b>{html.escape(error)}</b>: {html.escape(description)}</p>"
    return 400, _PAGE_HEADERS, _page(body).encode()


def _form(params: dict[str, str], *, error: str | None, status: int) -> Page:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    alert = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    body = f"""<h1>Sign in</h1>
<p class="note">GenAI platform (offline). This stands in for the Cognito Hosted UI of the admin pool.</p>
{alert}
<form method="post" action="/login">{hidden}
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>"""
    return status, _PAGE_HEADERS, _page(body).encode()


def _page(body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto}}label{{display:block;margin:.8rem 0}}
input{{display:block;width:100%;padding:.4rem}}.error{{color:#b00020}}.note{{color:#555;font-size:.9rem}}</style>
</head><body>{body}</body></html>"""
