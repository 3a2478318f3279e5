"""The template's own ingest state machine in the offline runtime, started directly (tests/e2e/test_knowledge.py
drives it through real uploads)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.e2e.conftest import Platform


def _run(platform: Platform, document: dict[str, str]) -> dict[str, Any]:
    sfn = platform.aws("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-ingest"))
    arn = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name=document["document_id"], input=json.dumps(document)
    )["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.2)
    raise AssertionError("the execution did not finish within 30 s")


def test_a_missing_status_record_ends_the_execution_failed(platform: Platform) -> None:
    execution = _run(
        platform, {"app_id": "app1", "document_id": uuid.uuid4().hex, "collection_id": "c1", "bucket": "b", "key": "k"}
    )
    assert execution["status"] == "FAILED"
