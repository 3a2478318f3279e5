"""SQS event sources: poll the template's queues and deliver batches to functions as Lambda's event source mapping does.

Per enabled `SqsSource`, one thread long-polls the queue, gathers up to `BatchSize` messages (several receives of at
most 10 each, within `MaximumBatchingWindowInSeconds`), invokes the function with the real Lambda SQS event and then:

- the function succeeded: every message of the batch is deleted;
- with `ReportBatchItemFailures`: only the messages named in `{"batchItemFailures": [{"itemIdentifier": id}]}`
  stay; an empty or absent list means all succeeded; a malformed response, or an itemIdentifier that is empty,
  missing or not a message of the batch, fails the whole batch, as Lambda does;
- the function raised or timed out: nothing is deleted.

Messages that are not deleted become visible again after the queue's visibility timeout, and the queue itself moves
them to its dead-letter queue once they have been received `maxReceiveCount` times (moto implements the
RedrivePolicy on receive). One log line per batch names the function, the count and the failures, never a body.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from offline.functions import FunctionError
from offline.sam import SqsSource

if TYPE_CHECKING:
    from offline.cfn import Stack

log = logging.getLogger("offline.sqs")

MAX_RECEIVE = 10  # SQS ReceiveMessage returns at most 10 messages
DEFAULT_WAIT_SECONDS = 1  # short long-poll, so that stop() is prompt
_ERROR_BACKOFF_SECONDS = 1.0


class _Pool(Protocol):
    def invoke(self, name_or_arn: str, event: Any, *, request_id: str | None = None) -> Any: ...


class MalformedBatchResponse(ValueError):
    """The function's partial batch response cannot be understood: Lambda fails the whole batch."""


@dataclass(frozen=True)
class BatchResult:
    """What happened to one batch (for the log line and for callers that watch deliveries)."""

    function_id: str
    queue_id: str
    message_ids: tuple[str, ...]
    failed_ids: tuple[str, ...]  # messages left on the queue for redelivery
    error: str | None = None  # errorType of a failed invocation, or why the response was rejected

    @property
    def succeeded(self) -> bool:
        return not self.failed_ids


def failed_item_ids(response: Any, message_ids: Iterable[str]) -> set[str]:
    """The message ids a ReportBatchItemFailures response asks to retry.

    Raises MalformedBatchResponse when Lambda would treat the batch as a complete failure: a response that is not
    an object, a `batchItemFailures` that is not a list, an item without an `itemIdentifier` key, with an empty or
    null identifier, or with an identifier that is not a message of the batch.
    """
    known = set(message_ids)
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise MalformedBatchResponse(f"response is a {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise MalformedBatchResponse("batchItemFailures is not a list")
    failed: set[str] = set()
    for item in failures:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            raise MalformedBatchResponse("a batchItemFailures entry has no itemIdentifier")
        identifier = item["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier:
            raise MalformedBatchResponse("an itemIdentifier is empty or not a string")
        if identifier not in known:
            raise MalformedBatchResponse("an itemIdentifier is not a message of the batch")
        failed.add(identifier)
    return failed


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event from one message of boto3's ReceiveMessage response."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """boto3's {StringValue|BinaryValue, DataType} -> Lambda's {stringValue|binaryValue (base64), ..., dataType}."""
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = _b64(value["BinaryValue"])
    out["stringListValues"] = list(value.get("StringListValues") or [])
    out["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues") or []]
    out["dataType"] = value.get("DataType", "String")
    return out


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


@dataclass
class _Poller:
    source: SqsSource
    queue_url: str
    queue_arn: str
    sqs: Any
    pool: _Pool
    region: str
    stopping: threading.Event
    wait_seconds: int
    on_batch: Callable[[BatchResult], None] | None
    thread: threading.Thread | None = field(default=None, repr=False)

    # -- one batch ------------------------------------------------------------------------------------------------
    def gather(self) -> list[dict[str, Any]]:
        """Up to batch_size messages: long-poll for the first, then fill the batch within the batching window."""
        batch: dict[str, dict[str, Any]] = {}  # by message id: a message seen twice keeps its latest receipt
        size = max(1, self.source.batch_size)
        window_ends: float | None = None
        while len(batch) < size and not self.stopping.is_set():
            if window_ends is None:
                wait = self.wait_seconds
            else:
                remaining = window_ends - time.monotonic()
                if remaining <= 0:
                    break
                wait = max(0, min(self.wait_seconds, int(remaining + 0.999)))
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            for message in messages:
                batch[message["MessageId"]] = message
            if not batch:
                return []  # nothing yet: back to the loop, which checks for stop
            if self.source.batching_window_s <= 0:
                break
            if window_ends is None:
                window_ends = time.monotonic() + self.source.batching_window_s
        return list(batch.values())

    def poll_once(self) -> BatchResult | None:
        messages = self.gather()
        if not messages or self.stopping.is_set():
            return None  # received but not delivered after stop: they come back after the visibility timeout
        result = self.deliver(messages)
        if self.on_batch is not None:
            self.on_batch(result)
        return result

    def deliver(self, messages: list[dict[str, Any]]) -> BatchResult:
        source = self.source
        ids = tuple(m["MessageId"] for m in messages)
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in messages]}
        error: str | None = None
        try:
            response = self.pool.invoke(source.function_id, event)
        except FunctionError as exc:  # FunctionTimeout included (errorType Sandbox.Timedout)
            failed, error = set(ids), str(exc.payload.get("errorType") or "Unhandled")
        except Exception as exc:  # the pool is closing, the function cannot start, ...
            failed, error = set(ids), type(exc).__name__
        else:
            failed = set()
            if source.report_item_failures:
                try:
                    failed = failed_item_ids(response, ids)
                except MalformedBatchResponse as exc:
                    failed, error = set(ids), f"malformed batchItemFailures: {exc}"
        self._delete([m for m in messages if m["MessageId"] not in failed])
        result = BatchResult(source.function_id, source.queue_id, ids, tuple(i for i in ids if i in failed), error)
        level = logging.WARNING if error else logging.INFO
        log.log(
            level,
            "sqs %s -> %s: %d message(s), %d failure(s)%s",
            source.queue_id,
            source.function_id,
            len(ids),
            len(result.failed_ids),
            f" ({error})" if error else "",
        )
        return result

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start : start + MAX_RECEIVE]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            answer = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in answer.get("Failed") or []:
                log.warning(
                    "sqs %s: could not delete a message (%s); it will be delivered again",
                    self.source.queue_id,
                    failure.get("Code"),
                )

    # -- the thread -----------------------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # moto stopping, a network hiccup: keep polling, as the mapping does
                if self.stopping.is_set():
                    break
                log.warning("sqs %s -> %s: polling failed: %s", self.source.queue_id, self.source.function_id, exc)
                self.stopping.wait(_ERROR_BACKOFF_SECONDS)


class SqsEventSources:
    """The template's SQS event source mappings, one polling thread each."""

    def __init__(
        self,
        sqs_client: Any,
        pool: _Pool,
        sources: Iterable[SqsSource],
        queue_urls_by_logical_id: Mapping[str, str],
        queue_arns_by_logical_id: Mapping[str, str],
        region: str,
        *,
        wait_seconds: int = DEFAULT_WAIT_SECONDS,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self._stopping = threading.Event()
        self.pollers: list[_Poller] = []
        for source in sources:
            if not source.enabled:
                log.info("sqs %s -> %s: disabled in the template", source.queue_id, source.function_id)
                continue
            url, arn = queue_urls_by_logical_id.get(source.queue_id), queue_arns_by_logical_id.get(source.queue_id)
            if not url or not arn:
                log.warning("sqs %s -> %s: the queue was not created; not polled", source.queue_id, source.function_id)
                continue
            self.pollers.append(
                _Poller(source, url, arn, sqs_client, pool, region, self._stopping, wait_seconds, on_batch)
            )

    @classmethod
    def from_stack(
        cls,
        sqs_client: Any,
        pool: _Pool,
        sources: Iterable[SqsSource],
        stack: Stack,
        **kwargs: Any,
    ) -> SqsEventSources:
        """Queue URLs and ARNs from a provisioned stack (queue Ref = URL, GetAtt Arn = ARN)."""
        sources = list(sources)
        urls = {s.queue_id: str(stack.refs[s.queue_id]) for s in sources if s.queue_id in stack.refs}
        arns = {s.queue_id: stack.attrs[(s.queue_id, "Arn")] for s in sources if (s.queue_id, "Arn") in stack.attrs}
        return cls(sqs_client, pool, sources, urls, arns, stack.region, **kwargs)

    @property
    def sources(self) -> list[SqsSource]:
        """The sources being polled (enabled and with a queue)."""
        return [p.source for p in self.pollers]

    def start(self) -> None:
        self._stopping.clear()
        for poller in self.pollers:
            if poller.thread is not None and poller.thread.is_alive():
                continue
            name = f"sqs-{poller.source.queue_id}-{poller.source.function_id}"
            poller.thread = threading.Thread(target=poller.run, name=name, daemon=True)
            poller.thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling; waits up to `timeout` in all. A batch whose function is still running finishes on its own
        (its messages are deleted or left as its outcome says)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for poller in self.pollers:
            if poller.thread is not None:
                poller.thread.join(max(0.0, deadline - time.monotonic()))
                if poller.thread.is_alive():
                    log.info(
                        "sqs %s -> %s: a batch is still running", poller.source.queue_id, poller.source.function_id
                    )
