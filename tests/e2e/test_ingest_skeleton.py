"""The template's own ingest state machine runs in the offline runtime and records the document's status."""

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


def _documents_table(platform: Platform) -> str:
    return next(t for t in platform.aws("dynamodb").list_tables()["TableNames"] if "DocumentsTable" in t)


def test_a_document_goes_through_every_status_to_ready(platform: Platform) -> None:
    # GIVEN a document's status record, as the upload API will write it
    ddb, table, doc_id = platform.aws("dynamodb"), _documents_table(platform), uuid.uuid4().hex
    ddb.put_item(
        TableName=table, Item={"pk": {"S": "APP#app1"}, "sk": {"S": f"DOCUMENT#{doc_id}"}, "status": {"S": "QUEUED"}}
    )
    # WHEN the ingest state machine runs for it
    execution = _run(
        platform,
        {
            "app_id": "app1",
            "document_id": doc_id,
            "collection_id": "c1",
            "bucket": "b",
            "key": f"uploads/app1/{doc_id}/a.pdf",
        },
    )
    # THEN it succeeds and the record says READY
    assert execution["status"] == "SUCCEEDED"
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "APP#app1"}, "sk": {"S": f"DOCUMENT#{doc_id}"}})["Item"]
    assert item["status"]["S"] == "READY"
    assert item["gsi2pk"]["S"] == "STATUS#READY"


def test_a_missing_status_record_ends_the_execution_failed(platform: Platform) -> None:
    execution = _run(
        platform, {"app_id": "app1", "document_id": uuid.uuid4().hex, "collection_id": "c1", "bucket": "b", "key": "k"}
    )
    assert execution["status"] == "FAILED"
