"""The state folder holds every client secret, the admin password and the token signing key: it is the owner's only."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import requests

from tests.e2e.conftest import start_platform, stop_platform


def readable_by_others(state: Path) -> list[str]:
    """Every file or folder under `state` (itself included) that group or others may use, with its mode."""
    found = []
    for path in [state, *state.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(mode) else 0o600
        if stat.S_IMODE(mode) & 0o077 or (stat.S_ISDIR(mode) and stat.S_IMODE(mode) != wanted):
            found.append(f"{path.relative_to(state)} {stat.S_IMODE(mode):o}")
    return found


def current_snapshot(state: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pointer = state / "aws" / "CURRENT"
        if pointer.exists() and (snapshot := state / "aws" / pointer.read_text().strip()).is_dir():
            return snapshot
        time.sleep(0.2)
    raise AssertionError(f"no snapshot saved under {state / 'aws'} within {timeout} s")


def test_every_state_file_is_owner_only_including_what_an_older_run_left_readable(tmp_path: Path) -> None:
    # GIVEN a state folder an older run left readable by everyone: itself, its logs, a function's log, credentials
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "SystemFunction.log").write_text("a line from an older run\n")
    (state / "credentials.json").write_text(json.dumps({"client_id": "an-app-of-an-older-run"}))
    for path, mode in [
        (state, 0o755),
        (state / "logs", 0o755),
        (state / "logs" / "SystemFunction.log", 0o644),
        (state / "credentials.json", 0o644),
    ]:
        path.chmod(mode)

    # WHEN the platform starts on it, serves a request, and saves its state (client secrets and all)
    platform = start_platform(state, tmp_path / "runtime.log")
    try:
        token = platform.token()
        assert requests.get(f"{platform.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10).ok
        snapshot = current_snapshot(state)

        # THEN every folder in it is 0700 and every file 0600 (or tighter): the snapshot holding the secrets, the
        # credentials, the signing key, the function logs, and what the older run left
        assert (snapshot / "cognito-idp" / "user-pools.json").exists()
        assert (state / "token-signing-key.pem").exists()
        assert sorted(p.name for p in (state / "logs").iterdir())
        assert readable_by_others(state) == []
    finally:
        assert stop_platform(platform) == 0

    # AND so is what the final save at shutdown wrote
    assert readable_by_others(state) == []
