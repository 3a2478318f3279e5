"""boto3 clients come from cached factories that follow the settings, AWS_ENDPOINT_URL included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genai_core import aws
from genai_core.config import get_settings


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STAGE", "test")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for cached in (get_settings, aws.client, aws.resource):
        cached.cache_clear()
    yield
    for cached in (get_settings, aws.client, aws.resource):
        cached.cache_clear()


def test_clients_go_to_aws_endpoint_url_when_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the offline runtime's endpoint in the environment
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    # WHEN a function asks for clients
    s3, table = aws.client("s3"), aws.resource("dynamodb")
    # THEN both talk to that endpoint, in the configured region
    assert s3.meta.endpoint_url == "http://127.0.0.1:4566"
    assert s3.meta.region_name == "eu-west-1"
    assert table.meta.client.meta.endpoint_url == "http://127.0.0.1:4566"


def test_clients_go_to_the_regional_aws_endpoint_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert aws.client("sqs").meta.endpoint_url == "https://sqs.eu-west-1.amazonaws.com"


def test_a_client_is_created_once_and_reused() -> None:
    assert aws.client("s3") is aws.client("s3")
    assert aws.client("s3") is not aws.client("s3", "us-east-1")
    assert aws.client("s3", "us-east-1").meta.region_name == "us-east-1"
