"""A Lambda execution environment in a subprocess: imports one handler, then serves invocations.

Protocol: one JSON line per message on the original stdin/stdout. The handler's own prints and logs go to the
function's log file (the local stand-in for CloudWatch Logs), never into the protocol channel.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ["OFFLINE_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-10:],
    }


def main() -> None:
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    # From here on, stdout/stderr of the handler land in the log file the parent gave us as stderr.
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)

    module_name, _, func_name = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        ready: dict[str, Any] = {"ready": True}
    except Exception as exc:  # an import error is an init error, reported on every invocation like Lambda does
        traceback.print_exc()
        init_error = _error(exc)
        init_error["errorType"] = "Runtime.ImportModuleError"
        ready = {"ready": False, "error": init_error}
    proto_out.write(json.dumps(ready) + "\n")

    for line in proto_in:
        request = json.loads(line)
        if not ready["ready"]:
            proto_out.write(json.dumps({"error": ready["error"]}) + "\n")
            continue
        context = LambdaContext(request["request_id"], request["deadline"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()
            reply = json.dumps({"error": _error(exc)})
        except BaseException as exc:  # SystemExit and friends end the environment, as in Lambda
            proto_out.write(json.dumps({"error": _error(exc), "exit": True}) + "\n")
            return
        else:
            try:
                reply = json.dumps({"result": result})
            except (TypeError, ValueError) as exc:
                reply = json.dumps({"error": {**_error(exc), "errorType": "Runtime.MarshalError"}})
        proto_out.write(reply + "\n")


if __name__ == "__main__":
    main()
