"""Step Functions executions in moto's ASL interpreter, with Lambda tasks dispatched to the local handlers.

moto runs real ASL (Task, Choice, Map, Parallel, Retry/Catch, service integrations) when its config says
`{"stepfunctions": {"execute_state_machine": True}}`. Its Lambda tasks, though, call moto's own Lambda backend,
which needs Docker or only echoes the payload. `install_lambda_dispatch` routes them to the `FunctionPool`
instead and answers the way Lambda's Invoke API does, so Step Functions sees what it sees on AWS:

- `arn:aws:states:::lambda:invoke` (`FunctionName`, `Payload`): the state result is
  `{"ExecutedVersion": "$LATEST", "Payload": <handler result>, "StatusCode": 200}`;
- the bare function ARN as `Resource`: the state result is the handler result itself;
- a handler that raises: `FunctionError: Unhandled` with Lambda's error payload, which Step Functions turns into
  a task failure whose Error is the payload's `errorType` (the exception class name, so `Retry`/`Catch`
  `ErrorEquals: ["MyError"]` match by name) and whose Cause is the payload as JSON;
- a handler that exceeds its timeout: the same, with errorType `Sandbox.Timedout` (what Lambda reports).

Functions that are not part of the template are left to moto (it answers ResourceNotFoundException, which Step
Functions reports as `Lambda.ResourceNotFoundException`).

Every access to moto internals sits in a small named function below, because moto's internals change.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from offline.functions import FunctionError

log = logging.getLogger("offline.stepfunctions")


class _Pool(Protocol):
    def resolve(self, name_or_arn: str) -> str: ...

    def invoke(self, name_or_arn: str, event: Any, *, request_id: str | None = None) -> Any: ...


# -- moto internals -------------------------------------------------------------------------------------------------
def _moto_user_config() -> dict[str, Any]:
    """moto.core.config.default_user_config: read on every Step Functions request by
    moto.stepfunctions.responses.get_backend to choose the interpreting backend (stepfunctions_parser_backends)
    over the bookkeeping one (stepfunctions_backends)."""
    from moto.core.config import default_user_config

    return default_user_config  # type: ignore[return-value]


def _lambda_eval_utils() -> ModuleType:
    """moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils: both Lambda task forms
    (StateTaskLambda for the bare ARN, StateTaskServiceLambda for lambda:invoke) call its module-level
    `execute_lambda_function_integration`, which looks up `_invoke_lambda_function(parameters, region,
    state_credentials)` in the module globals at call time and expects boto3's Invoke response with the
    Payload already decoded. That function is the seam replaced here."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    return lambda_eval_utils


_INVOKE_ATTRIBUTE = "_invoke_lambda_function"  # the attribute of lambda_eval_utils that is replaced


# -- public API ---------------------------------------------------------------------------------------------------
def enable_execution(moto_port: int | None = None) -> Callable[[], None]:
    """Make moto run state machines (its ASL interpreter) instead of only recording executions.

    Call it before the state machines are created: moto keeps interpreted state machines in a separate backend,
    chosen per request. In server mode, moto's service integrations (DynamoDB, SQS, ... tasks) call back into moto
    on `MOTO_PORT` (default 5000), so pass the server's port (or set MOTO_PORT yourself).
    Returns a callable that restores the previous settings.
    """
    config = _moto_user_config()
    previous_config = config.get("stepfunctions")
    previous_port = os.environ.get("MOTO_PORT")
    config["stepfunctions"] = {**(previous_config or {}), "execute_state_machine": True}
    if moto_port is not None:
        os.environ["MOTO_PORT"] = str(moto_port)

    def restore() -> None:
        if previous_config is None:
            config.pop("stepfunctions", None)
        else:
            config["stepfunctions"] = previous_config
        if moto_port is not None:
            if previous_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = previous_port

    return restore


_install_lock = threading.Lock()


def install_lambda_dispatch(pool: _Pool) -> Callable[[], None]:
    """Dispatch Step Functions' Lambda tasks to `pool`; returns a callable that puts moto's own invoke back."""
    module = _lambda_eval_utils()
    with _install_lock:
        original = getattr(module, _INVOKE_ATTRIBUTE)

        def invoke_lambda_function(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
            name = str(parameters.get("FunctionName", ""))
            function_id = _local_function(pool, name)
            if function_id is None:
                return original(parameters=parameters, region=region, state_credentials=state_credentials)
            return invoke_locally(pool, function_id, parameters.get("Payload"))

        setattr(module, _INVOKE_ATTRIBUTE, invoke_lambda_function)

    def uninstall() -> None:
        with _install_lock:
            if getattr(module, _INVOKE_ATTRIBUTE) is invoke_lambda_function:
                setattr(module, _INVOKE_ATTRIBUTE, original)

    return uninstall


def invoke_locally(pool: _Pool, function_id: str, payload: Any) -> dict[str, Any]:
    """Run the handler and answer as Lambda's synchronous Invoke does (boto3 shape, Payload decoded)."""
    event = _decode_payload(payload)
    request_id = str(uuid.uuid4())
    response: dict[str, Any] = {"ExecutedVersion": "$LATEST", "StatusCode": 200}
    # The subject of the task (a document being ingested), so the console shows each one's progress.
    subject = f" ({event['document_id']})" if isinstance(event, dict) and event.get("document_id") else ""
    started = time.perf_counter()
    try:
        response["Payload"] = pool.invoke(function_id, event, request_id=request_id)
    except FunctionError as exc:  # FunctionTimeout included: errorType Sandbox.Timedout
        error = dict(exc.payload)
        error.setdefault("requestId", request_id)
        response["FunctionError"] = "Unhandled"
        response["Payload"] = error
        log.info(
            "step functions task %s%s failed after %.0f ms: %s: %s",
            function_id,
            subject,
            (time.perf_counter() - started) * 1000,
            error.get("errorType"),
            str(error.get("errorMessage", ""))[:200],
        )
    else:
        log.info(
            "step functions task %s%s done in %.0f ms", function_id, subject, (time.perf_counter() - started) * 1000
        )
    return response


def _local_function(pool: _Pool, name: str) -> str | None:
    """Logical id for a function name, ARN, partial ARN (`123456789012:function:name`) or qualified name."""
    candidates = [name]
    parts = name.split(":")
    if "function" in parts:
        index = parts.index("function")
        if index + 1 < len(parts):
            candidates.append(parts[index + 1])  # the local runtime has one version: any qualifier is $LATEST
    elif len(parts) == 2:
        candidates.append(parts[0])  # name:qualifier
    for candidate in candidates:
        try:
            return pool.resolve(candidate)
        except KeyError:
            continue
    return None


def _decode_payload(payload: Any) -> Any:
    if payload is None:
        return {}
    if isinstance(payload, bytes | bytearray):
        payload = payload.decode("utf-8")
    if isinstance(payload, str):
        try:
            return json.loads(payload) if payload else {}
        except json.JSONDecodeError:
            return payload
    return payload
