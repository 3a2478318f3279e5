"""Shared test helpers: the repository root and a free-port finder."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_mocked_aws(monkeypatch: pytest.MonkeyPatch, region: str = "us-east-1") -> None:
    """The environment a function sees, with fake credentials for moto's in-process mock (and no endpoint override
    left over from an offline runtime), and the cached settings and clients cleared."""
    from genai_core import aws
    from genai_core.admin import audit, status
    from genai_core.admin.service import get_admin_service
    from genai_core.config import get_settings

    for key, value in {
        "STAGE": "test",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    get_settings.cache_clear()
    aws.client.cache_clear()
    status.reset()
    audit.get_audit_log.cache_clear()
    get_admin_service.cache_clear()
