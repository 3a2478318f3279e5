"""Running the template's functions locally, one subprocess per execution environment, like Lambda does.

Each function gets its own environment variables, its code and layers on `sys.path`, a cold start when a new
environment is needed, reuse when one is idle, at most `max_concurrency` environments at once, and its
configured timeout (an environment that times out is killed, as Lambda does).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from offline.sam import FunctionSpec

_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


class FunctionError(Exception):
    """The handler raised (or could not start): Lambda's `FunctionError: Unhandled` with its error payload."""

    def __init__(self, function_id: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{function_id}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        self.function_id = function_id
        self.payload = payload


class FunctionTimeout(FunctionError):
    def __init__(self, function_id: str, seconds: float) -> None:
        super().__init__(
            function_id,
            {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {seconds:.2f} seconds"},
        )


class _Environment:
    """One worker process serving invocations of one function, one at a time."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], log: IO[bytes]) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "offline.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=spec.code_dir,
        )
        assert self.proc.stdin and self.proc.stdout
        self._in, self._out = self.proc.stdin, self.proc.stdout
        self._buffer = b""
        ready = self._read_line(time.monotonic() + 60)
        if ready is None:
            self.kill()
            raise FunctionError(spec.logical_id, {"errorType": "Runtime.ExitError", "errorMessage": "worker died"})

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        fd = self._out.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def invoke(self, event: Any, request_id: str) -> tuple[dict[str, Any] | None, bool]:
        """(reply, alive). A None reply means the timeout passed or the process died."""
        timeout = self.spec.timeout
        message = {"event": event, "request_id": request_id, "deadline": time.time() + timeout}
        try:
            self._in.write(json.dumps(message).encode() + b"\n")
            self._in.flush()
        except BrokenPipeError:
            return None, False
        reply = self._read_line(time.monotonic() + timeout)
        alive = reply is not None and not reply.get("exit") and self.proc.poll() is None
        return reply, alive

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class FunctionPool:
    """Invoke the template's functions by logical id (or name/ARN, as Step Functions and SQS refer to them)."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        base_env: Mapping[str, str],
        log_dir: Path,
        max_concurrency: int = 4,
    ) -> None:
        self.functions = dict(functions)
        self._base_env = dict(base_env)
        self._log_dir = log_dir
        self._max = max_concurrency
        self._idle: dict[str, list[_Environment]] = {name: [] for name in functions}
        self._busy: dict[str, int] = dict.fromkeys(functions, 0)
        self._lock = threading.Condition()
        self._closed = False
        self._aliases = {spec.name: lid for lid, spec in functions.items()}
        self._aliases.update({spec.arn: lid for lid, spec in functions.items()})
        log_dir.mkdir(parents=True, exist_ok=True)

    def resolve(self, name_or_arn: str) -> str:
        """Logical id for a logical id, function name or (possibly qualified) function ARN."""
        if name_or_arn in self.functions:
            return name_or_arn
        unqualified = name_or_arn.split(":$LATEST")[0]
        if unqualified in self._aliases:
            return self._aliases[unqualified]
        raise KeyError(f"no function {name_or_arn} in this template")

    def _environment_variables(self, spec: FunctionSpec) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update(self._base_env)
        paths = [str(spec.code_dir), *(str(d) for d in spec.layer_dirs), str(Path(__file__).resolve().parents[1])]
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python_offline",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "OFFLINE_FUNCTION_ARN": spec.arn,
                "_HANDLER": spec.handler,
                "PYTHONPATH": os.pathsep.join(paths),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(spec.environment)
        return env

    def _acquire(self, function_id: str) -> _Environment:
        with self._lock:
            while True:
                if self._closed:
                    raise RuntimeError("the function pool is closed")
                if self._idle[function_id]:
                    self._busy[function_id] += 1
                    return self._idle[function_id].pop()
                if self._busy[function_id] < self._max:
                    self._busy[function_id] += 1
                    break
                self._lock.wait()
        spec = self.functions[function_id]
        try:
            with (self._log_dir / f"{function_id}.log").open("ab") as log:
                return _Environment(spec, self._environment_variables(spec), log)
        except BaseException:
            self._release(function_id, None)
            raise

    def _release(self, function_id: str, env: _Environment | None) -> None:
        with self._lock:
            self._busy[function_id] -= 1
            if env is not None:
                if self._closed:
                    env.kill()
                else:
                    self._idle[function_id].append(env)
            self._lock.notify_all()

    def warm(self, function_id: str) -> None:
        """Start one environment ahead of the first request (cold start off the request path)."""
        self._release(function_id, self._acquire(function_id))

    def invoke(self, name_or_arn: str, event: Any, *, request_id: str | None = None) -> Any:
        """Run the handler with `event`; return its result or raise FunctionError / FunctionTimeout."""
        function_id = self.resolve(name_or_arn)
        env = self._acquire(function_id)
        reply, alive = env.invoke(event, request_id or str(uuid.uuid4()))
        if not alive:
            env.kill()
        self._release(function_id, env if alive else None)
        if reply is None:
            if env.proc.returncode not in (None, -9):
                raise FunctionError(
                    function_id,
                    {"errorType": "Runtime.ExitError", "errorMessage": f"exited with code {env.proc.returncode}"},
                )
            raise FunctionTimeout(function_id, env.spec.timeout)
        if "error" in reply:
            raise FunctionError(function_id, reply["error"])
        return reply.get("result")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            envs = [env for idle in self._idle.values() for env in idle]
            for idle in self._idle.values():
                idle.clear()
            self._lock.notify_all()
        for env in envs:
            env.kill()
