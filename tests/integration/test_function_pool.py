"""The function pool runs handlers the way Lambda does: isolated environments, reuse, timeouts, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline.functions import FunctionError, FunctionPool, FunctionTimeout
from offline.sam import FunctionSpec
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "pool_functions"


def _spec(logical_id: str, folder: str, *, timeout: int = 5, greeting: str = "") -> FunctionSpec:
    name = f"test-{logical_id}"
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        code_dir=FIXTURES / folder,
        handler="app.handler",
        timeout=timeout,
        memory_mb=128,
        environment={"GREETING": greeting},
        layer_dirs=(),
    )


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    specs = {
        "Hello": _spec("Hello", "echo", greeting="hello"),
        "Bonjour": _spec("Bonjour", "echo", greeting="bonjour"),
        "Slow": _spec("Slow", "echo", timeout=1),
        "Broken": _spec("Broken", "broken"),
    }
    functions = FunctionPool(specs, base_env={"AWS_REGION": "us-east-1"}, log_dir=tmp_path, max_concurrency=2)
    yield functions
    functions.close()


def test_each_function_sees_its_own_environment(pool: FunctionPool) -> None:
    assert pool.invoke("Hello", {})["greeting"] == "hello"
    assert pool.invoke("Bonjour", {})["greeting"] == "bonjour"


def test_a_warm_environment_is_reused_and_keeps_its_module_state(pool: FunctionPool) -> None:
    first = pool.invoke("Hello", {})
    second = pool.invoke("Hello", {})
    assert first["pid"] == second["pid"]
    assert first["cold_start_at"] == second["cold_start_at"]
    assert first["request_id"] != second["request_id"]


def test_functions_are_found_by_name_and_arn(pool: FunctionPool) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:test-Hello"
    assert pool.invoke("test-Hello", {})["function_name"] == "test-Hello"
    assert pool.invoke(arn, {})["greeting"] == "hello"
    assert pool.invoke(f"{arn}:$LATEST", {})["greeting"] == "hello"
    with pytest.raises(KeyError):
        pool.invoke("NoSuchFunction", {})


def test_handler_output_on_stdout_goes_to_the_function_log(pool: FunctionPool, tmp_path: Path) -> None:
    pool.invoke("Hello", {})
    assert "noise on stdout" in (tmp_path / "Hello.log").read_text()


def test_a_handler_error_comes_back_as_lambda_reports_it(pool: FunctionPool) -> None:
    with pytest.raises(FunctionError) as caught:
        pool.invoke("Hello", {"action": "raise"})
    assert caught.value.payload["errorType"] == "ValueError"
    assert caught.value.payload["errorMessage"] == "asked to fail"
    # and the environment survives the error
    assert pool.invoke("Hello", {})["greeting"] == "hello"


def test_an_import_error_is_reported_as_an_init_error(pool: FunctionPool) -> None:
    with pytest.raises(FunctionError) as caught:
        pool.invoke("Broken", {})
    assert caught.value.payload["errorType"] == "Runtime.ImportModuleError"
    assert "a_module_that_does_not_exist" in caught.value.payload["errorMessage"]


def test_an_unserializable_result_is_an_error(pool: FunctionPool) -> None:
    with pytest.raises(FunctionError) as caught:
        pool.invoke("Hello", {"action": "unserializable"})
    assert caught.value.payload["errorType"] == "Runtime.MarshalError"


def test_a_handler_over_its_timeout_is_killed_and_replaced(pool: FunctionPool) -> None:
    before = pool.invoke("Slow", {})["pid"]
    with pytest.raises(FunctionTimeout) as caught:
        pool.invoke("Slow", {"action": "sleep", "seconds": 3})
    assert caught.value.payload["errorMessage"] == "Task timed out after 1.00 seconds"
    after = pool.invoke("Slow", {})["pid"]
    assert after != before


def test_an_environment_that_exits_is_replaced(pool: FunctionPool) -> None:
    before = pool.invoke("Hello", {})["pid"]
    with pytest.raises(FunctionError):
        pool.invoke("Hello", {"action": "exit"})
    assert pool.invoke("Hello", {})["pid"] != before


def test_concurrent_invocations_use_separate_environments_up_to_the_limit(pool: FunctionPool) -> None:
    pids: list[int] = []

    def call() -> None:
        pool.invoke("Hello", {"action": "sleep", "seconds": 0.5})
        pids.append(pool.invoke("Hello", {})["pid"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pids) == 4
    assert 1 <= len(set(pids)) <= 2  # max_concurrency=2
