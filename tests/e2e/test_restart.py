"""State lives in one folder: a restart keeps credentials, tokens and data; `reset` starts from nothing."""

from __future__ import annotations

from pathlib import Path

import requests

from offline.__main__ import main as offline_cli
from tests.e2e.conftest import start_platform, stop_platform


def test_a_restart_keeps_credentials_tokens_and_stored_data(tmp_path: Path) -> None:
    # GIVEN a running platform, a token issued by it, and an object stored in its bucket
    state, log = tmp_path / "state", tmp_path / "runtime.log"
    first = start_platform(state, log)
    token = first.token()
    s3 = first.aws("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "-docs-" in b["Name"])
    s3.put_object(Bucket=bucket, Key="uploads/app/doc/hello.txt", Body=b"hello", ContentType="text/plain")
    # WHEN it is stopped with Ctrl-C and started again on the same state folder
    assert stop_platform(first) == 0
    second = start_platform(state, log)
    try:
        # THEN the printed credentials are the same and still get tokens
        assert second.credentials == first.credentials
        second.token()
        # AND the token issued before the restart is still accepted
        whoami = requests.get(f"{second.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["app_id"] == first.credentials["client_id"]
        # AND the stored object is back, byte for byte
        stored = second.aws("s3").get_object(Bucket=bucket, Key="uploads/app/doc/hello.txt")
        assert stored["Body"].read() == b"hello"
        assert stored["ContentType"] == "text/plain"
    finally:
        stop_platform(second)


def test_reset_removes_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "aws").mkdir(parents=True)
    (state / "credentials.json").write_text("{}")
    assert offline_cli(["reset", "--state-dir", str(state)]) == 0
    assert not state.exists()
