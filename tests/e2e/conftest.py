"""A started offline runtime (`python -m offline run`), driven over HTTP like a user would."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from genai_core.admin.clients import create_app_client
from tests.conftest import ROOT, free_port


@dataclass
class Platform:
    url: str
    moto_url: str
    state_dir: Path
    credentials: dict[str, Any]
    process: subprocess.Popen[bytes]
    log_path: Path

    def token(self, scope: str | None = None, client_id: str | None = None, secret: str | None = None) -> str:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        auth = (client_id or self.credentials["client_id"], secret or self.credentials["client_secret"])
        response = requests.post(f"{self.url}/oauth2/token", data=data, auth=auth, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def new_app(self, name: str, scopes: list[str]) -> tuple[str, str]:
        """Another app (a client of the apps pool) with `scopes`, made the way the admin API and the runtime make one,
        without the admin API's records (so, active); returns (client_id, client_secret)."""
        idp = self.aws("cognito-idp")
        pools = idp.list_user_pools(MaxResults=10)["UserPools"]
        pool_id = next(p["Id"] for p in pools if p["Name"].endswith("-apps"))
        return create_app_client(idp, pool_id, name, scopes)

    def admin_tokens(self, scope: str = "openid email genai/admin") -> dict[str, Any]:
        """Sign the seeded admin in as the portal does: /oauth2/authorize + /login (PKCE S256), then the code."""
        idp = self.aws("cognito-idp")
        pools = idp.list_user_pools(MaxResults=10)["UserPools"]
        pool_id = next(p["Id"] for p in pools if p["Name"].endswith("-admins"))
        clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)["UserPoolClients"]
        client_id = next(c["ClientId"] for c in clients if c["ClientName"] == "admin-portal")
        callback = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"][
            "CallbackURLs"
        ][0]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": callback,
            "scope": scope,
            "state": "e2e",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        page = requests.get(f"{self.url}/oauth2/authorize", params=params, timeout=10)
        assert page.status_code == 200, page.text
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
        form = {html.unescape(k): html.unescape(v) for k, v in hidden}
        form |= {"username": self.credentials["admin_username"], "password": self.credentials["admin_password"]}
        login = requests.post(f"{self.url}/login", data=form, allow_redirects=False, timeout=10)
        assert login.status_code == 302, login.text
        code = parse_qs(urlsplit(login.headers["location"]).query)["code"][0]
        data = {"grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": callback}
        tokens = requests.post(f"{self.url}/oauth2/token", data=data | {"code_verifier": verifier}, timeout=10)
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())

    def signing_key(self) -> bytes:
        """The runtime's token signing key (PEM), to mint tokens with claims a real issuer would never give."""
        return (self.state_dir / "token-signing-key.pem").read_bytes()

    def session(self, token: str | None = None) -> requests.Session:
        """An HTTP session that sends `token` (default: a token of the demo app with every scope)."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token or self.token()}"
        return session

    def aws(self, service: str) -> Any:
        """A boto3 client on the runtime's moto, to look at (or arrange) what the platform stored."""
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="offline",
            aws_secret_access_key="offline",
        )


def start_platform(state_dir: Path, log_path: Path, parameters: dict[str, str] | None = None) -> Platform:
    port, moto_port = free_port(), free_port()
    log = log_path.open("ab")
    overrides = [arg for name, value in (parameters or {}).items() for arg in ("--parameter", f"{name}={value}")]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "offline",
            "run",
            "--port",
            str(port),
            "--moto-port",
            str(moto_port),
            "--state-dir",
            str(state_dir),
            *overrides,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the offline runtime exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(f"{url}/v1/health", timeout=2).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or listening and still starting (the request waits in the listen queue)
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"the offline runtime did not serve /v1/health within 90 s:\n{log_path.read_text()}")
    credentials = json.loads((state_dir / "credentials.json").read_text())
    return Platform(url, f"http://127.0.0.1:{moto_port}", state_dir, credentials, process, log_path)


def stop_platform(platform: Platform) -> int:
    platform.process.send_signal(signal.SIGINT)
    try:
        return platform.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        platform.process.kill()
        raise


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("platform")
    # Functions re-read an app's status every 2 s instead of 30: the admin tests see a disabled app refused quickly.
    running = start_platform(base / "state", base / "runtime.log", {"AppStatusMaxAgeSeconds": "2"})
    yield running
    stop_platform(running)
