"""SQS event sources deliver queue messages to functions the way Lambda's event source mapping does.

Real moto (server mode), the fixture template provisioned, the Consumer handler running in worker processes. The
Consumer records every batch it receives in a DynamoDB table, reports bodies containing "fail" in
batchItemFailures, raises on "boom" and answers a malformed response on "malformed".
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from offline.sqs_events import BatchResult, MalformedBatchResponse, SqsEventSources, failed_item_ids
from tests.fixtures.runtime_app.harness import RunningApp, running_app

Starter = Callable[..., SqsEventSources]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("sqs-logs")) as running:
        running.pool.warm("Consumer")  # a cold start must not eat into the 1 s visibility timeout
        yield running


@pytest.fixture
def batches() -> list[BatchResult]:
    return []


@pytest.fixture
def start_sources(local: RunningApp, batches: list[BatchResult]) -> Iterator[Starter]:
    """Start polling the given queues (by logical id); every started source is stopped after the test."""
    started: list[SqsEventSources] = []
    lock = threading.Lock()

    def record(result: BatchResult) -> None:
        with lock:
            batches.append(result)

    def start(*queue_ids: str) -> SqsEventSources:
        sources = [s for s in local.app.sqs_sources if s.queue_id in queue_ids]
        events = SqsEventSources.from_stack(local.client("sqs"), local.pool, sources, local.stack, on_batch=record)
        events.start()
        started.append(events)
        return events

    yield start
    for events in started:
        events.stop()


def _url(local: RunningApp, queue_id: str) -> str:
    return local.stack.refs[queue_id]


def _send(local: RunningApp, queue_id: str, *bodies: str, attributes: dict[str, Any] | None = None) -> None:
    sqs = local.client("sqs")
    for start in range(0, len(bodies), 10):
        entries: list[dict[str, Any]] = [
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])
        ]
        if attributes:
            for entry in entries:
                entry["MessageAttributes"] = attributes
        answer = sqs.send_message_batch(QueueUrl=_url(local, queue_id), Entries=entries)
        assert not answer.get("Failed")


def _deliveries(local: RunningApp, queue_id: str, tag: str) -> list[dict[str, Any]]:
    """The batches the Consumer recorded for this queue whose bodies carry `tag`, oldest first."""
    queue_name = local.stack.attrs[(queue_id, "QueueName")]
    table = local.client("dynamodb")
    table_name = local.stack.refs["RecordsTable"]
    items: list[dict[str, Any]] = []
    deserialize = TypeDeserializer().deserialize
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": queue_name}},
    }
    while True:
        page = table.query(**kwargs)
        items += [{k: deserialize(v) for k, v in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [i for i in items if any(tag in b for b in i["bodies"])]


def _counts(local: RunningApp, queue_id: str) -> tuple[int, int]:
    attrs = local.client("sqs").get_queue_attributes(
        QueueUrl=_url(local, queue_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _dead_letters(local: RunningApp, dlq_id: str, expected: int, timeout: float = 15) -> list[dict[str, Any]]:
    sqs = local.client("sqs")
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=_url(local, dlq_id),
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            VisibilityTimeout=30,
        )
        for message in answer.get("Messages", []):
            found[message["MessageId"]] = message
    return list(found.values())


def _wait_until(condition: Callable[[], Any], timeout: float = 15, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def _tag() -> str:
    return uuid.uuid4().hex[:8]


# -- delivery ----------------------------------------------------------------------------------------------------------
def test_all_messages_are_delivered_in_batches_no_larger_than_batch_size(
    local: RunningApp, start_sources: Starter
) -> None:
    # GIVEN eight messages on a queue whose mapping has BatchSize 3
    tag = _tag()
    bodies = [f"{tag}-ok-{i}" for i in range(8)]
    _send(local, "BatchQueue", *bodies)

    # WHEN the event source runs
    start_sources("BatchQueue")

    # THEN every message reaches the function exactly once, in batches of at most 3, and is deleted
    def all_delivered() -> list[dict[str, Any]] | None:
        seen = _deliveries(local, "BatchQueue", tag)
        return seen if sum(len(d["bodies"]) for d in seen) >= len(bodies) else None

    deliveries = _wait_until(all_delivered, message="all eight messages")
    assert sorted(b for d in deliveries for b in d["bodies"]) == sorted(bodies)
    assert all(1 <= len(d["bodies"]) <= 3 for d in deliveries)
    assert len(deliveries) >= 3
    _wait_until(lambda: _counts(local, "BatchQueue") == (0, 0), message="an empty queue")


def test_each_record_has_the_shape_of_lambdas_sqs_event(local: RunningApp, start_sources: Starter) -> None:
    # GIVEN a message with a string and a binary message attribute
    tag = _tag()
    body = f'{{"tag": "{tag}", "text": "ok"}}'
    _send(
        local,
        "PlainQueue",
        body,
        attributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    # WHEN it is delivered
    start_sources("PlainQueue")
    (delivery,) = _wait_until(lambda: _deliveries(local, "PlainQueue", tag), message="the delivery")

    # THEN the record is what Lambda sends for SQS
    record = json.loads(delivery["first_record"])
    queue_arn = local.stack.attrs[("PlainQueue", "Arn")]
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's own checksum
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"] and record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    for name in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
        assert record["attributes"][name]
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "greeting", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }


def test_the_batching_window_gathers_more_than_one_receive_into_one_batch(
    local: RunningApp, start_sources: Starter
) -> None:
    # GIVEN 15 messages on a queue whose mapping has BatchSize 25 and a 2 s batching window
    tag = _tag()
    bodies = [f"{tag}-ok-{i}" for i in range(15)]
    _send(local, "WindowQueue", *bodies)

    # WHEN the event source runs
    start_sources("WindowQueue")

    # THEN they arrive in one invocation, although SQS returns at most 10 messages per receive
    (delivery,) = _wait_until(lambda: _deliveries(local, "WindowQueue", tag), message="the batch")
    assert sorted(delivery["bodies"]) == sorted(bodies)


# -- failures ----------------------------------------------------------------------------------------------------------
def test_failed_items_are_redelivered_and_end_in_the_dlq_with_their_body_intact(
    local: RunningApp, start_sources: Starter, batches: list[BatchResult]
) -> None:
    # GIVEN a batch where one message fails each time (maxReceiveCount 2, visibility timeout 1 s)
    tag = _tag()
    attributes = {"origin": {"DataType": "String", "StringValue": "test"}}
    _send(local, "BatchQueue", f"{tag}-ok-1", f"{tag}-fail-1", f"{tag}-ok-2", attributes=attributes)

    # WHEN the event source runs
    start_sources("BatchQueue")

    # THEN the failed message ends in the dead-letter queue, body and attributes intact
    (dead,) = _dead_letters(local, "BatchDLQ", expected=1)
    assert dead["Body"] == f"{tag}-fail-1"
    assert dead["MessageAttributes"] == {"origin": {"StringValue": "test", "DataType": "String"}}

    # AND it was delivered maxReceiveCount times, the succeeded messages once, and the source queue is empty
    deliveries = _deliveries(local, "BatchQueue", tag)
    received = [(b, n) for d in deliveries for b, n in zip(d["bodies"], d["receive_counts"], strict=True)]
    assert sorted(received) == [(f"{tag}-fail-1", 1), (f"{tag}-fail-1", 2), (f"{tag}-ok-1", 1), (f"{tag}-ok-2", 1)]
    assert _counts(local, "BatchQueue") == (0, 0)
    assert any(len(b.failed_ids) == 1 and b.error is None for b in batches)


def test_a_function_that_raises_leaves_the_whole_batch_for_redelivery(
    local: RunningApp, start_sources: Starter, batches: list[BatchResult]
) -> None:
    # GIVEN a batch of two messages, one of which makes the function raise
    tag = _tag()
    _send(local, "RaiseQueue", f"{tag}-boom", f"{tag}-fine")

    # WHEN the event source runs
    start_sources("RaiseQueue")

    # THEN both messages are delivered again (as one batch), and after maxReceiveCount both are dead letters
    dead = _dead_letters(local, "RaiseDLQ", expected=2)
    assert sorted(m["Body"] for m in dead) == [f"{tag}-boom", f"{tag}-fine"]
    deliveries = _deliveries(local, "RaiseQueue", tag)
    assert [sorted(d["bodies"]) for d in deliveries] == [[f"{tag}-boom", f"{tag}-fine"]] * 2
    assert [d["receive_counts"] for d in deliveries] == [[1, 1], [2, 2]]
    assert {b.error for b in batches} == {"RuntimeError"}


def test_a_malformed_batch_item_failures_response_fails_the_whole_batch(
    local: RunningApp, start_sources: Starter, batches: list[BatchResult]
) -> None:
    # GIVEN a batch the function answers with an itemIdentifier that is not one of its messages
    tag = _tag()
    _send(local, "MalformedQueue", f"{tag}-malformed", f"{tag}-fine")

    # WHEN the event source runs
    start_sources("MalformedQueue")

    # THEN the whole batch is redelivered, then dead-lettered, as when the function fails
    dead = _dead_letters(local, "MalformedDLQ", expected=2)
    assert sorted(m["Body"] for m in dead) == [f"{tag}-fine", f"{tag}-malformed"]
    deliveries = _deliveries(local, "MalformedQueue", tag)
    assert [d["receive_counts"] for d in deliveries] == [[1, 1], [2, 2]]
    assert all(b.error and "malformed" in b.error and len(b.failed_ids) == 2 for b in batches)


def test_without_report_batch_item_failures_the_response_is_ignored(
    local: RunningApp, start_sources: Starter, batches: list[BatchResult]
) -> None:
    # GIVEN a mapping without ReportBatchItemFailures and a message the function reports as failed
    tag = _tag()
    _send(local, "PlainQueue", f"{tag}-fail", f"{tag}-ok")

    # WHEN the event source runs, past the visibility timeout
    start_sources("PlainQueue")
    _wait_until(lambda: batches, message="a batch")
    time.sleep(2)

    # THEN the function succeeded, so the whole batch was deleted after one delivery
    deliveries = _deliveries(local, "PlainQueue", tag)
    assert sum(len(d["bodies"]) for d in deliveries) == 2
    assert _counts(local, "PlainQueue") == (0, 0)


# -- the pollers -------------------------------------------------------------------------------------------------------
def test_disabled_sources_are_not_polled_and_stop_is_prompt(local: RunningApp) -> None:
    # GIVEN every SQS event source of the template, one of them `Enabled: false`
    events = SqsEventSources.from_stack(local.client("sqs"), local.pool, local.app.sqs_sources, local.stack)

    # THEN the disabled one is not polled
    assert "DisabledQueue" in {s.queue_id for s in local.app.sqs_sources}
    assert "DisabledQueue" not in {s.queue_id for s in events.sources}

    # AND WHEN the pollers run and are stopped, they stop within 2 s
    events.start()
    time.sleep(0.5)
    started = time.monotonic()
    events.stop()
    assert time.monotonic() - started < 2.5
    assert not any(p.thread and p.thread.is_alive() for p in events.pollers)


@pytest.mark.parametrize(
    "response, failed",
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}, {"a", "c"}),
    ],
)
def test_partial_batch_responses_name_the_messages_to_retry(response: Any, failed: set[str]) -> None:
    assert failed_item_ids(response, ["a", "b", "c"]) == failed


@pytest.mark.parametrize(
    "response",
    [
        "all good",
        ["a"],
        {"batchItemFailures": "a"},
        {"batchItemFailures": [{"id": "a"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifier": "z"}]},
        {"batchItemFailures": ["a"]},
    ],
)
def test_malformed_partial_batch_responses_fail_the_whole_batch(response: Any) -> None:
    with pytest.raises(MalformedBatchResponse):
        failed_item_ids(response, ["a", "b", "c"])
