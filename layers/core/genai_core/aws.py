"""Cached, lazily created boto3 clients. Never create a client at import time with a fixed endpoint."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from genai_core.config import get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str, region: str | None = None) -> Any:
    """A boto3 client for `service`, honouring `AWS_ENDPOINT_URL` (offline runtime, moto) when it is set."""
    settings = get_settings()
    session = boto3.session.Session()
    return session.client(
        service,  # type: ignore[call-overload]
        region_name=region or settings.region,
        endpoint_url=settings.endpoint_url,
        config=_CONFIG,
    )


@cache
def resource(service: str, region: str | None = None) -> Any:
    """A boto3 resource (DynamoDB tables mostly), with the same endpoint rules as `client`."""
    settings = get_settings()
    session = boto3.session.Session()
    return session.resource(
        service,  # type: ignore[call-overload]
        region_name=region or settings.region,
        endpoint_url=settings.endpoint_url,
        config=_CONFIG,
    )
