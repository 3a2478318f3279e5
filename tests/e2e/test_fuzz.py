"""Every route of the served OpenAPI document fuzzed with schemathesis against a started offline runtime.

The project rule under test: no client input, however hostile, ever causes a 5xx; and every answer is one the
document promises (status code, content type, body schema). `make fuzz` runs only this; `make test` runs it too.

The run is bounded so CI stays well inside its limit: MAX_EXAMPLES is Hypothesis' max_examples for the generating
phases (fuzzing, stateful; the coverage phase sends a fixed set of boundary and negative cases per operation), and
TIME_BUDGET_S bounds the whole run, after which the engine is stopped and the test warns that it was cut short.
Generation is deterministic (fixed seed, derandomized, no example database), and the runtime is this module's
own, so what other tests stored cannot change what the fuzzer sees, nor the fuzzer's prompts what they see.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, events

from tests.e2e.conftest import Platform, start_platform, stop_platform

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

# CI's bounds. To dig deeper locally: `FUZZ_SEED=7 FUZZ_MAX_EXAMPLES=500 FUZZ_TIME_BUDGET_S=600 make fuzz`.
SEED = int(os.environ.get("FUZZ_SEED", "20260101"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))  # Hypothesis' max_examples: fuzzing, stateful
TIME_BUDGET_S = float(os.environ.get("FUZZ_TIME_BUDGET_S", "75"))  # the whole run; then the engine is stopped

# Prompts that exist before the run, so the routes on /v1/prompts/{name} reach their logic (render, labels,
# versions) instead of stopping at 404: path and body names are drawn from these half of the time.
SEEDED_PROMPTS = [
    {"name": "fuzz-text", "template": "Hello {{who}}, about {{topic}}.", "labels": ["staging"]},
    {
        "name": "fuzz-chat",
        "messages": [{"role": "system", "content": "Be {{tone}}."}, {"role": "user", "content": "hi"}],
    },
]
SEEDED_LABELS = ["latest", "staging", "production"]

# Schemathesis' default statuses for a refusal of schema-invalid input, plus 413: an oversized body is refused by the
# body guard before validation (documented on every operation).
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
# Schemathesis' default statuses for schema-valid input, plus 400: the document does not carry every rule of a valid
# request, and each is a documented 400 that names the problem. Some are state (variables the stored template needs,
# a next_token this API issued, 'latest' being automatic), one is across fields (exactly one of template/messages);
# the name and label patterns (genai_core.prompts.models NAME_PATTERN, LABEL_PATTERN) could be in it and are not.
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# Every built-in check of schemathesis 4.32, each on or off with the reason.
CHECKS: dict[str, dict[str, Any]] = {
    # The project rule: no input ever gets a 5xx.
    "not_a_server_error": {"enabled": True},
    # Status codes, content types and bodies are what the document says.
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
    # Documented response headers are sent as documented (the document declares none yet: inert until it does).
    "response_headers_conformance": {"enabled": True},
    # Input outside the document's schemas is refused with a 4xx, never accepted.
    "negative_data_rejection": {"enabled": True, "expected-statuses": REFUSED},
    # Input inside the document's schemas is not refused for a reason a valid request cannot have (405, 406, 413,
    # 415, 422); see ACCEPTED for why a 400 is allowed.
    "positive_data_acceptance": {"enabled": True, "expected-statuses": ACCEPTED},
    # A request without a required header is refused (the document declares none yet: inert until it does).
    "missing_required_header": {"enabled": True},
    # OFF: inert here. It only strips apiKey/http credentials, and both of this API's schemes are oauth2, so it
    # would never send a request without the token. That every secured route answers 401 without a token or with a
    # forged one is tested route by route in test_auth_matrix.py.
    "ignored_auth": {"enabled": False},
    # A deleted prompt is gone (stateful phase: DELETE, then a call on the same name is a 404).
    "use_after_free": {"enabled": True},
    # OFF: it takes any 404 after a create for "created resource not found", but this API answers 404 for a label or
    # version the prompt does not have (prompt_label_not_found, prompt_version_not_found), e.g. render with
    # {"label": "staging"} right after a create without labels. Read-after-create is test_prompts.py's.
    "ensure_resource_availability": {"enabled": False},
    # OFF: it wants 405 + Allow for a method the document does not list. API Gateway (REST) answers an undeclared
    # method with its MISSING_AUTHENTICATION_TOKEN response, which template.yaml maps to 404 route_not_found, and it
    # cannot send 405 without a mock integration per method. Those requests are still sent (coverage phase) and
    # not_a_server_error still applies to them.
    "unsupported_method": {"enabled": False},
    # An Allow header on an OPTIONS response lists the documented methods (the API sends none yet: inert).
    "allow_header_conformance": {"enabled": True},
    # OFF: needs a second identity configured to swap in; one app reading another's prompts is covered by
    # test_tenancy.py (every area: another app can neither read, list, change nor delete).
    "object_level_authorization": {"enabled": False},
}
# Not set, so off: max_response_time. Timing on a shared 2-core CI machine is noise; `make bench` measures latency.


def fuzz_config(app_token: str, admin_token: str) -> dict[str, Any]:
    """The schemathesis configuration (the schema of `schemathesis.toml`, as a dict)."""
    return {
        "seed": SEED,
        # Derandomized, and no example database: the same cases on every machine, whatever ran before.
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none", "mode": "all"},
        "workers": 1,  # one request at a time: a reproducible order of writes, and room for the runtime's workers
        "request-timeout": 30,
        # Tokens per security scheme of the document: the demo app's (every app scope) and the admin's.
        "auth": {"openapi": {"AppAuthorizer": {"bearer": app_token}, "AdminAuthorizer": {"bearer": admin_token}}},
        "checks": CHECKS,
        "dictionaries": {
            "prompt-names": {"values": [p["name"] for p in SEEDED_PROMPTS]},
            "prompt-labels": {"values": SEEDED_LABELS},
        },
        "parameters": {
            "path.name": {"dictionary": "prompt-names", "probability": 0.5},
            "path.label": {"dictionary": "prompt-labels", "probability": 0.5},
            "query.label": {"dictionary": "prompt-labels", "probability": 0.5},
            "body.name": {"dictionary": "prompt-names", "probability": 0.5},
        },
    }


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("fuzz-platform")
    running = start_platform(base / "state", base / "runtime.log")
    yield running
    stop_platform(running)


def _access_lines(log_path: Path, offset: int) -> list[str]:
    """The gateway's access-log lines (`METHOD path -> status (ms)`) written after `offset`."""
    with log_path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if "offline.gateway: " in line and " -> " in line]


def _describe(recorder: Any) -> list[str]:
    """Each failing case of a scenario: operation, what failed, the request (as curl) and the response."""
    found = []
    for case_id in recorder.failing_case_ids():
        failed = [c for c in recorder.checks[case_id] if c.failure_info is not None]
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        lines = [f"{recorder.label}  (case {case_id})"]
        for check in failed:
            failure = check.failure_info.failure
            lines.append(f"  - {failure.code} {failure.title} [{check.name}]")
            lines += [f"      {line}" for line in str(failure.message).strip().splitlines() if line.strip()]
        lines.append("  request:")
        lines += [f"      {line}" for line in failed[0].failure_info.code_sample.strip().splitlines()]
        if response is not None:
            body = response.content[:600].decode("utf-8", "replace")
            content_type = ", ".join(response.headers.get("content-type", [])) or "no content-type"
            lines.append(f"  response: {response.status_code} ({content_type}) {body}")
        found.append("\n".join(lines))
    return found


def test_no_input_gets_a_5xx_and_every_answer_is_documented(
    fuzz_platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = fuzz_platform
    app_token, admin_token = platform.token(), platform.admin_tokens()["access_token"]
    session = platform.session(app_token)
    for body in SEEDED_PROMPTS:
        created = session.post(f"{platform.url}/v1/prompts", json=body, timeout=10)
        assert created.status_code == 201, created.text

    # GIVEN the document as the running runtime serves it, and the tokens of the demo app and the admin
    config = schemathesis.Config.from_dict(fuzz_config(app_token, admin_token))
    schema = schemathesis.openapi.from_url(f"{platform.url}/v1/openapi.json", config=config)
    # Every operation, GET /v1/openapi.json too: schemathesis leaves out the one that served the document unless a
    # filter names it.
    schema = schema.include(path_regex="^/")
    operations = {result.ok().label for result in schema.get_all_operations()}
    log_offset = platform.log_path.stat().st_size

    # WHEN schemathesis runs every phase (examples, coverage, fuzzing, stateful) within the bounds
    started = time.monotonic()
    stream = schemathesis.engine.from_schema(schema).execute()
    failures: list[str] = []
    errors: list[str] = []
    cases: Counter[str] = Counter()
    tested: set[str] = set()
    skipped: list[str] = []
    cut_short = False
    finished: events.EngineFinished | None = None
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            cases[event.phase.value] += len(event.recorder.cases)
            if event.status == Status.SKIP:
                skipped.append(f"{event.recorder.label} ({event.phase.value}): {event.skip_reason}")
            elif event.recorder.label in operations:
                tested.add(event.recorder.label)
            failures += _describe(event.recorder)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            finished = event
        if not cut_short and time.monotonic() - started > TIME_BUDGET_S:
            cut_short = True
            stream.stop()  # the engine finishes the running scenario and then ends with EngineFinished
    elapsed = time.monotonic() - started

    # THEN it ran to the end, and says how much it sent
    requests_sent = _access_lines(platform.log_path, log_offset)
    statuses = Counter(line.split(" -> ")[1].split()[0] for line in requests_sent)
    with capsys.disabled():  # the counts belong in every run's output, not only with -s
        print(
            f"\nschemathesis {schemathesis.__version__}: {len(tested)}/{len(operations)} operations, "
            f"{cases.total()} test cases {dict(cases)}, {len(requests_sent)} requests in {elapsed:.1f} s "
            f"(seed {SEED}, max {MAX_EXAMPLES} examples/operation); statuses {dict(sorted(statuses.items()))}"
        )
    assert finished is not None, "the engine did not finish"
    assert not errors, "schemathesis could not test everything:\n" + "\n".join(errors)
    if cut_short:  # a slow machine: say what was left out rather than fail on it
        warnings.warn(
            f"fuzzing was stopped part-way, at its time budget of {TIME_BUDGET_S} s (test cases per phase: "
            f"{dict(cases)}; operations never reached: {sorted(operations - tested) or 'none'})",
            stacklevel=1,
        )
    else:
        assert tested == operations, f"never tested: {sorted(operations - tested)}; skipped: {skipped}"
    # AND no check failed: no 5xx, and every status, content type and body is the documented one
    assert not failures, f"{len(failures)} failing cases:\n\n" + "\n\n".join(failures)
