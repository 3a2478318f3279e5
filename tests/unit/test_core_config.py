"""Settings come from the environment once; a missing or invalid value fails loudly and names itself."""

from __future__ import annotations

import pytest

from genai_core.config import ConfigurationError, get_settings, load_settings

COMPLETE = {"STAGE": "dev", "AWS_REGION": "eu-west-1"}


def test_required_values_are_read_from_their_environment_names() -> None:
    # GIVEN an environment with the required values only
    # WHEN the settings are loaded
    settings = load_settings(COMPLETE)

    # THEN they carry those values and the documented defaults for the rest
    assert settings.model_dump() == {
        "stage": "dev",
        "region": "eu-west-1",
        "service": "genai",
        "endpoint_url": None,
        "max_body_bytes": 1_048_576,
    }


def test_optional_values_override_the_defaults() -> None:
    # GIVEN every optional value set in the environment
    env = {
        **COMPLETE,
        "POWERTOOLS_SERVICE_NAME": "gateway",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "MAX_BODY_BYTES": "2048",
    }

    # WHEN the settings are loaded
    settings = load_settings(env)

    # THEN each one is used, the number parsed as a number
    assert (settings.service, settings.endpoint_url, settings.max_body_bytes) == (
        "gateway",
        "http://127.0.0.1:5000",
        2048,
    )


def test_unrelated_environment_variables_are_ignored() -> None:
    # GIVEN an environment full of other variables, as Lambda's is
    env = {**COMPLETE, "PATH": "/usr/bin", "AWS_LAMBDA_FUNCTION_NAME": "f"}

    # WHEN / THEN loading succeeds
    assert load_settings(env).stage == "dev"


def test_a_missing_required_value_is_named_in_the_error() -> None:
    # GIVEN an environment without STAGE
    # WHEN the settings are loaded
    with pytest.raises(ConfigurationError) as err:
        load_settings({"AWS_REGION": "eu-west-1"})

    # THEN the error names STAGE (and not the value that is present)
    assert "STAGE" in str(err.value)
    assert "AWS_REGION" not in str(err.value)


def test_every_missing_value_is_named_at_once() -> None:
    # GIVEN an empty environment
    # WHEN the settings are loaded
    with pytest.raises(ConfigurationError) as err:
        load_settings({})

    # THEN both required values are named in the one error
    assert "STAGE" in str(err.value)
    assert "AWS_REGION" in str(err.value)


def test_an_empty_required_value_counts_as_missing() -> None:
    # GIVEN STAGE set to an empty string
    # WHEN / THEN loading fails naming STAGE
    with pytest.raises(ConfigurationError, match="STAGE"):
        load_settings({**COMPLETE, "STAGE": ""})


@pytest.mark.parametrize("raw", ["lots", "0", "-1"])
def test_an_invalid_body_limit_is_named_in_the_error(raw: str) -> None:
    # GIVEN MAX_BODY_BYTES that is not a positive whole number
    # WHEN / THEN loading fails naming MAX_BODY_BYTES
    with pytest.raises(ConfigurationError, match="MAX_BODY_BYTES"):
        load_settings({**COMPLETE, "MAX_BODY_BYTES": raw})


def test_settings_are_read_from_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the process environment holds the settings
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("AWS_REGION", "us-west-2")

    # WHEN loaded without an explicit mapping
    settings = load_settings()

    # THEN the process environment is used
    assert (settings.stage, settings.region) == ("prod", "us-west-2")


def test_get_settings_reads_the_environment_once_per_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN settings already read once
    get_settings.cache_clear()
    monkeypatch.setenv("STAGE", "first")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    first = get_settings()

    # WHEN the environment changes afterwards
    monkeypatch.setenv("STAGE", "second")

    # THEN the cached settings are returned unchanged
    try:
        assert get_settings() is first
        assert get_settings().stage == "first"
    finally:
        get_settings.cache_clear()


def test_settings_cannot_be_changed_after_loading() -> None:
    # GIVEN loaded settings
    settings = load_settings(COMPLETE)

    # WHEN code tries to change one
    # THEN it is refused
    with pytest.raises(ValueError, match="frozen"):
        settings.stage = "other"  # type: ignore[misc]
