"""Step Functions executions run in moto's ASL interpreter, with Lambda tasks dispatched to the local handlers.

The fixture state machine (tests/fixtures/runtime_app/statemachine/job.asl.json) calls Worker through
`arn:aws:states:::lambda:invoke` with a Retry on TransientError and a Catch of ValidationError to Recorder, routes
on the result with a Choice, and calls Worker and Recorder through the bare function-ARN form too.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from offline.stepfunctions import _lambda_eval_utils, install_lambda_dispatch
from tests.fixtures.runtime_app.harness import ACCOUNT_ID, REGION, RunningApp, running_app


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("sfn-logs"), execute_state_machines=True) as running:
        uninstall = install_lambda_dispatch(running.pool)
        try:
            yield running
        finally:
            uninstall()


def _run(local: RunningApp, payload: dict[str, Any], state_machine_arn: str | None = None) -> dict[str, Any]:
    sfn = local.client("stepfunctions")
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn or local.stack.refs["JobStateMachine"],
        name=f"run-{uuid.uuid4().hex[:12]}",
        input=json.dumps(payload),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            described["events"] = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
            return dict(described)
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_arn} still running after 30 s")


def _task_failures(execution: dict[str, Any]) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in execution["events"] if e["type"] == "TaskFailed"]


@pytest.mark.parametrize(
    "size, summary",
    [
        (500, {"text": "big job of size 500"}),
        (5, "small job, nothing to summarise"),
    ],
)
def test_an_execution_succeeds_with_the_functions_real_output(local: RunningApp, size: int, summary: Any) -> None:
    # GIVEN the job state machine and a job of a given size
    # WHEN an execution runs
    execution = _run(local, {"action": "run", "size": size})

    # THEN it succeeds with what the Worker handler returned, in a worker process, through lambda:invoke
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["work"]["statusCode"] == 200
    result = output["work"]["result"]
    assert result["kind"] == ("big" if size > 100 else "small")
    assert result["function_name"] == f"{local.stack.stack_name}-Worker"
    assert isinstance(result["pid"], int) and result["pid"] != os.getpid()
    # AND the Choice routed on that output; the bare-ARN task's result is the handler's return value itself
    if isinstance(summary, dict):
        assert {k: output["summary"][k] for k in summary} == summary
        assert output["summary"]["request_id"]
    else:
        assert output["summary"] == summary


def test_a_transient_error_is_retried_then_succeeds(local: RunningApp) -> None:
    # GIVEN a job whose first attempt raises TransientError (the Worker counts attempts in DynamoDB)
    key = uuid.uuid4().hex

    # WHEN an execution runs
    execution = _run(local, {"action": "transient_once", "key": key, "size": 7})

    # THEN the Retry on TransientError matched the handler's exception name, and the second attempt succeeded
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert _task_failures(execution) == ["TransientError"]
    assert json.loads(execution["output"])["work"]["result"]["attempts"] == 2


def test_a_named_error_is_caught_by_name_and_recorded(local: RunningApp) -> None:
    # GIVEN a job the Worker rejects with ValidationError, which the Work state catches
    # WHEN an execution runs
    execution = _run(local, {"action": "invalid"})

    # THEN the Catch matched by error name, without retrying, and the recorder got the error and its cause
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert _task_failures(execution) == ["ValidationError"]
    assert json.loads(execution["output"]) == {
        "recorded": True,
        "error": "ValidationError",
        "message": "size must be a positive number",
        "function_name": f"{local.stack.stack_name}-failure-recorder",
    }


def test_a_task_that_keeps_failing_fails_the_execution(local: RunningApp) -> None:
    # GIVEN a job whose every attempt raises TransientError (Retry MaxAttempts 2, no Catch for it)
    # WHEN an execution runs
    execution = _run(local, {"action": "transient_always"})

    # THEN the execution fails with the handler's error, after the first attempt and two retries
    assert execution["status"] == "FAILED"
    assert execution["error"] == "TransientError"
    cause = json.loads(execution["cause"])
    assert cause["errorType"] == "TransientError"
    assert cause["errorMessage"] == "the backend is still down"
    assert _task_failures(execution) == ["TransientError"] * 3


def test_a_function_timeout_fails_the_task_with_sandbox_timedout(local: RunningApp) -> None:
    # GIVEN a job that runs past the Worker's 2 s timeout
    # WHEN an execution runs
    execution = _run(local, {"action": "sleep"})

    # THEN the task fails as Lambda reports a timeout to Step Functions
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Sandbox.Timedout"
    assert "timed out" in json.loads(execution["cause"])["errorMessage"]


def test_a_function_outside_the_template_is_left_to_moto(local: RunningApp) -> None:
    # GIVEN a state machine that invokes a function the template does not define
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{local.stack.stack_name}-Nowhere"
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": missing, "Payload": {}},
                "End": True,
            }
        },
    }
    arn = local.client("stepfunctions").create_state_machine(
        name=f"{local.stack.stack_name}-missing",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/sfn",
    )["stateMachineArn"]

    # WHEN an execution runs
    execution = _run(local, {}, state_machine_arn=arn)

    # THEN it fails as on AWS, with Lambda's "function not found"
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Lambda.ResourceNotFoundException"


def test_uninstalling_gives_lambda_tasks_back_to_moto(local: RunningApp) -> None:
    # GIVEN the dispatch installed on top of the one the module fixture installed
    module = _lambda_eval_utils()
    before = module._invoke_lambda_function
    uninstall = install_lambda_dispatch(local.pool)
    assert module._invoke_lambda_function is not before

    # WHEN it is uninstalled
    uninstall()

    # THEN moto calls what it called before
    assert module._invoke_lambda_function is before
