"""Cached, lazily created boto3 clients. Never create a client at import time with a fixed endpoint."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from genai_core.config import get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)


def _options(region: str | None) -> dict[str, Any]:
    """Region, endpoint (`AWS_ENDPOINT_URL`: the offline runtime's moto) and retry settings for every client."""
    settings = get_settings()
    return {"region_name": region or settings.region, "endpoint_url": settings.endpoint_url, "config": _CONFIG}


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str, region: str | None = None) -> Any:
    """A boto3 client for `service`."""
    return _session().client(service, **_options(region))  # type: ignore[call-overload]


@cache
def resource(service: str, region: str | None = None) -> Any:
    """A boto3 resource (DynamoDB tables mostly), with the same settings as `client`."""
    return _session().resource(service, **_options(region))  # type: ignore[call-overload]


@cache
def provider_client(service: str, region: str | None, read_timeout: float) -> Any:
    """A client for a model provider's runtime API: no botocore retries (the gateway retries, then falls back to
    the next target, and needs to see each throttle) and the target's own read timeout."""
    options = _options(region)
    options["config"] = Config(
        retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout
    )
    return _session().client(service, **options)  # type: ignore[call-overload]


@cache
def s3_presigner() -> Any:
    """An S3 client for presigned URLs, signed with SigV4 so that the headers given as parameters (Content-Type,
    Content-Length) are part of the signature: S3 refuses an upload whose body differs from the declared size."""
    options = _options(None)
    options["config"] = _CONFIG.merge(Config(signature_version="s3v4"))
    return _session().client("s3", **options)
