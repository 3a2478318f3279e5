"""Pure parts of the operations service: the latency histogram's percentiles, date ranges, grouping, catalogue
checks and console links."""

from __future__ import annotations

import random

import pytest

from genai_core.errors import InvalidRequest
from genai_core.gateway.catalogue import ModelEntry
from genai_core.gateway.store import latency_bucket, latency_bucket_bounds
from genai_core.operations.service import check_usable, execution_console_url, parse_group_by, percentile


@pytest.mark.parametrize("latency", [0, 1, 7, 99, 100, 101, 1234, 59_999, 600_000])
def test_a_latency_falls_in_the_bucket_whose_bounds_hold_it(latency: int) -> None:
    low, high = latency_bucket_bounds(latency_bucket(latency))
    assert low <= max(1, latency) < high and high / low < 1.19


def test_percentiles_from_the_histogram_are_within_ten_percent_of_the_exact_ones() -> None:
    # GIVEN 10,000 latencies from a long-tailed distribution, as the gateway's counters would bucket them
    rng = random.Random(7)
    latencies = sorted(int(rng.lognormvariate(5, 0.8)) + 1 for _ in range(10_000))
    histogram: dict[int, int] = {}
    for latency in latencies:
        histogram[latency_bucket(latency)] = histogram.get(latency_bucket(latency), 0) + 1
    # WHEN p50 and p95 are read from it
    # THEN they are close to the exact order statistics
    for q in (0.5, 0.95):
        exact = latencies[int(q * len(latencies)) - 1]
        assert abs(percentile(histogram, q) - exact) / exact < 0.10  # type: ignore[operator]
    assert percentile({}, 0.5) is None


def test_group_by_takes_a_comma_separated_mix_in_a_fixed_order() -> None:
    assert parse_group_by(None) == ["day"]
    assert parse_group_by("app,day") == ["day", "app"]
    for bad in ("week", "day,day", ","):
        with pytest.raises(InvalidRequest) as refused:
            parse_group_by(bad)
        assert refused.value.param == "group_by"


def _entry(**changes: object) -> ModelEntry:
    base = {
        "alias": "m",
        "targets": [{"provider": "openai", "base_url": "https://api.example.com/v1", "model": "x"}],
        "capabilities": ["chat"],
        "context_window": 1000,
    }
    return ModelEntry.model_validate(base | changes)


def test_a_provider_key_outside_the_gateways_secrets_is_refused_naming_the_target() -> None:
    secret = "genai/dev/providers/openai"
    target = {"provider": "openai", "base_url": "https://api.example.com/v1", "model": "x"}
    check_usable(_entry(targets=[target | {"api_key_secret": secret}]), "dev")
    with pytest.raises(InvalidRequest) as refused:
        check_usable(_entry(targets=[target, target | {"api_key_secret": "genai/prod/providers/openai"}]), "dev")
    assert refused.value.param == "targets.1.api_key_secret"


def test_console_link_is_in_the_executions_region() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:ingest:abc"
    assert execution_console_url(arn) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + arn
    )
