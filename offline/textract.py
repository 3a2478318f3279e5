"""Amazon Textract's asynchronous document analysis in moto, close enough to AWS for the extraction pipeline to run
offline end to end.

moto 5's StartDocumentAnalysis ignores NotificationChannel, JobTag and ClientRequestToken, and its
GetDocumentAnalysis answers every job with the class-wide `TextractBackend.BLOCKS` at once. With
`install_textract_emulation`, the two operations behave as the pipeline relies on:

- StartDocumentAnalysis checks its parameters and that the S3 object exists (InvalidS3ObjectException otherwise),
  records JobTag and DocumentLocation, and returns the same JobId again for a ClientRequestToken it has seen
  (IdempotentParameterMismatchException when the document or features differ, as Textract answers).
- The job's result is the one queued with `inject_result` for its S3 key, else the next one queued without a key,
  else an empty analysis (one blank PAGE). The job stays IN_PROGRESS until, shortly after the call returned (a
  timer thread; a real job finishes later too), it completes and Textract's completion message is published to the
  NotificationChannel's SNS topic: ``{"JobId", "Status", "API": "StartDocumentAnalysis", "JobTag", "Timestamp",
  "DocumentLocation": {"S3ObjectName", "S3Bucket"}}``. Status is SUCCEEDED (also for PARTIAL_SUCCESS, since the
  notification only knows SUCCEEDED, FAILED and ERROR) or FAILED.
- GetDocumentAnalysis pages the blocks by MaxResults (1..1000, default 1000) with an opaque NextToken, and answers
  JobStatus, StatusMessage, Warnings and DocumentMetadata.Pages (the count of PAGE blocks).

A test that drives the runtime as a subprocess queues results over HTTP: the runtime mounts `handle_injection` at
``POST /_offline/textract/results`` with ``{"blocks": [...], "status": ..., "status_message": ...,
"document_key": ..., "warnings": [...]}``.

Every access to moto internals sits in a small named function below, because moto's internals change.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("offline.textract")

API = "StartDocumentAnalysis"
MAX_RESULTS = 1000
STATUSES = frozenset({"SUCCEEDED", "FAILED", "PARTIAL_SUCCESS"})
FEATURE_TYPES = frozenset({"TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT"})
DEFAULT_COMPLETION_DELAY = 0.2  # seconds between StartDocumentAnalysis returning and the job completing


# -- moto internals -------------------------------------------------------------------------------------------------
def _response_class() -> Any:
    """moto.textract.responses.TextractResponse: moto's dispatcher calls the method named after the action
    (`start_document_analysis`, `get_document_analysis`) on an instance, looked up on the class at call time, in
    both server mode and the in-process mock. Those two methods are the seam replaced here."""
    from moto.textract.responses import TextractResponse

    return TextractResponse


def _request(response: Any) -> tuple[dict[str, Any], str, str]:
    """The request's JSON parameters, account id and region, from a moto BaseResponse being dispatched."""
    params = json.loads(response.body or "{}")
    return (params if isinstance(params, dict) else {}), str(response.current_account), str(response.region)


def _client_error(error_type: str, message: str) -> Exception:
    """An exception moto's dispatcher turns into Textract's JSON error (HTTP 400, `__type` = error_type)."""
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(error_type, message)


def _s3_object_exists(account: str, region: str, bucket: str, key: str, version: str | None) -> bool:
    """Whether moto's S3 backend (moto.s3.models.s3_backends[account][partition]) holds the object."""
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    try:
        return s3_backends[account][get_partition(region)].get_object(bucket, key, version_id=version) is not None
    except Exception:  # MissingBucket, an unknown version: Textract cannot read it either
        return False


def _publish(account: str, region: str, topic_arn: str, message: str) -> None:
    """Publish to an SNS topic in moto's SNS backend (moto.sns.models.sns_backends), which delivers to its SQS,
    Lambda and HTTP subscriptions as SNS does."""
    from moto.sns.models import sns_backends

    topic_region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else region
    sns_backends[account][topic_region].publish(message=message, arn=topic_arn)


# -- results and jobs -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Result:
    blocks: list[dict[str, Any]]
    status: str = "SUCCEEDED"
    status_message: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Job:
    job_id: str
    account: str
    region: str
    location: dict[str, Any]  # DocumentLocation.S3Object: Bucket, Name, Version
    features: tuple[str, ...]
    job_tag: str | None
    topic_arn: str | None
    result: _Result
    status: str = "IN_PROGRESS"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[str, deque[_Result]] = {}
        self.anywhere: deque[_Result] = deque()
        self.jobs: dict[tuple[str, str, str], _Job] = {}
        self.tokens: dict[tuple[str, str, str], str] = {}
        self.timers: dict[str, threading.Timer] = {}  # job id -> the timer that completes it
        self.completion_delay = DEFAULT_COMPLETION_DELAY

    def take_result(self, key: str) -> _Result:
        with self.lock:
            queued = self.by_key.get(key)
            if queued:
                result = queued.popleft()
                if not queued:
                    del self.by_key[key]
                return result
            if self.anywhere:
                return self.anywhere.popleft()
        # an empty analysis of a one-page document
        page = {
            "BlockType": "PAGE",
            "Geometry": {"BoundingBox": {"Width": 1.0, "Height": 1.0, "Left": 0.0, "Top": 0.0}},
            "Id": str(uuid.uuid4()),
            "Page": 1,
        }
        return _Result(blocks=[page])

    def clear(self) -> None:
        with self.lock:
            for timer in self.timers.values():
                timer.cancel()
            self.timers.clear()
            self.by_key.clear()
            self.anywhere.clear()
            self.jobs.clear()
            self.tokens.clear()


_state = _State()


# -- public API -----------------------------------------------------------------------------------------------------
def inject_result(
    blocks: list[dict[str, Any]],
    status: str = "SUCCEEDED",
    status_message: str | None = None,
    document_key: str | None = None,
    *,
    warnings: list[dict[str, Any]] | None = None,
) -> None:
    """Queue the result of a coming analysis job: the next job for the S3 object `document_key`, or without a key
    the next job whose key has nothing queued. `warnings` ({"ErrorCode", "Pages"}) go with PARTIAL_SUCCESS."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {sorted(STATUSES)}")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise ValueError("blocks must be a list of Textract Block objects")
    result = _Result(list(blocks), status, status_message, list(warnings or []))
    with _state.lock:
        if document_key:
            _state.by_key.setdefault(document_key, deque()).append(result)
        else:
            _state.anywhere.append(result)


def handle_injection(body: bytes) -> tuple[int, dict[str, Any]]:
    """``POST /_offline/textract/results``: queue a result from JSON (see the module docstring); (status, JSON)."""
    try:
        data = json.loads(body or b"{}")
    except (UnicodeDecodeError, ValueError):
        return 400, {"error": "the body must be a JSON object"}
    if not isinstance(data, dict):
        return 400, {"error": "the body must be a JSON object"}
    unknown = set(data) - {"blocks", "status", "status_message", "document_key", "warnings"}
    if unknown:
        return 400, {"error": f"unknown fields: {sorted(unknown)}"}
    status_message, document_key = data.get("status_message"), data.get("document_key")
    if status_message is not None and not isinstance(status_message, str):
        return 400, {"error": "status_message must be a string"}
    if document_key is not None and not isinstance(document_key, str):
        return 400, {"error": "document_key must be a string"}
    warnings = data.get("warnings") or []
    if not isinstance(warnings, list) or not all(isinstance(w, dict) for w in warnings):
        return 400, {"error": "warnings must be a list of {ErrorCode, Pages} objects"}
    try:
        inject_result(
            data.get("blocks", []),
            str(data.get("status", "SUCCEEDED")),
            status_message,
            document_key,
            warnings=warnings,
        )
    except ValueError as exc:
        return 400, {"error": str(exc)}
    return 202, {"queued": True, "document_key": document_key, "blocks": len(data.get("blocks", []))}


_install_lock = threading.Lock()


def install_textract_emulation(*, completion_delay: float = DEFAULT_COMPLETION_DELAY) -> Callable[[], None]:
    """Replace moto's StartDocumentAnalysis and GetDocumentAnalysis (see the module docstring); returns a callable
    that puts moto's back and forgets the emulated jobs and queued results."""
    response_class = _response_class()
    with _install_lock:
        original_start = response_class.start_document_analysis
        original_get = response_class.get_document_analysis
        _state.completion_delay = completion_delay

        def start_document_analysis(self: Any) -> str:
            return json.dumps(_start(*_request(self)))

        def get_document_analysis(self: Any) -> str:
            return json.dumps(_get(*_request(self)))

        response_class.start_document_analysis = start_document_analysis
        response_class.get_document_analysis = get_document_analysis

    def uninstall() -> None:
        with _install_lock:
            if response_class.start_document_analysis is start_document_analysis:
                response_class.start_document_analysis = original_start
            if response_class.get_document_analysis is get_document_analysis:
                response_class.get_document_analysis = original_get
            _state.clear()

    return uninstall


# -- the operations -------------------------------------------------------------------------------------------------
def _invalid(message: str) -> Exception:
    return _client_error("InvalidParameterException", message)


def _start(params: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    location = (params.get("DocumentLocation") or {}).get("S3Object") or {}
    bucket, key, version = location.get("Bucket"), location.get("Name"), location.get("Version")
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        raise _invalid("DocumentLocation.S3Object needs a Bucket and a Name.")
    features = params.get("FeatureTypes")
    if not features or not isinstance(features, list) or not set(features) <= FEATURE_TYPES:
        raise _invalid(f"FeatureTypes must be a non-empty list of {sorted(FEATURE_TYPES)}.")
    channel = params.get("NotificationChannel")
    if channel is not None and not (
        isinstance(channel, dict) and channel.get("SNSTopicArn") and channel.get("RoleArn")
    ):
        raise _invalid("NotificationChannel needs SNSTopicArn and RoleArn.")
    token, job_tag = params.get("ClientRequestToken"), params.get("JobTag")
    s3_object = {k: v for k, v in (("Bucket", bucket), ("Name", key), ("Version", version)) if v}
    feature_types = tuple(sorted(set(features)))
    with _state.lock:
        if token:
            earlier = _state.jobs.get((account, region, _state.tokens.get((account, region, token), "")))
            if earlier is not None:
                if earlier.location != s3_object or earlier.features != feature_types:
                    raise _client_error(
                        "IdempotentParameterMismatchException",
                        "A ClientRequestToken input parameter was reused with an operation, but at least one of the "
                        "other input parameters is different from the previous call to the operation.",
                    )
                return {"JobId": earlier.job_id}
    if not _s3_object_exists(account, region, bucket, key, version):
        raise _client_error(
            "InvalidS3ObjectException", "Unable to get object metadata from S3. Check object key, region and/or access."
        )
    job = _Job(
        job_id=uuid.uuid4().hex + uuid.uuid4().hex,  # Textract's job ids are 64 hex characters
        account=account,
        region=region,
        location=s3_object,
        features=feature_types,
        job_tag=job_tag if isinstance(job_tag, str) and job_tag else None,
        topic_arn=channel.get("SNSTopicArn") if channel else None,
        result=_state.take_result(key),
    )
    timer = threading.Timer(_state.completion_delay, _complete, args=(job,))
    timer.daemon = True
    with _state.lock:
        _state.jobs[(account, region, job.job_id)] = job
        if token:
            _state.tokens[(account, region, token)] = job.job_id
        _state.timers[job.job_id] = timer
    timer.start()
    log.info("textract job %s started for s3://%s/%s", job.job_id, bucket, key)
    return {"JobId": job.job_id}


def _complete(job: _Job) -> None:
    with _state.lock:
        _state.timers.pop(job.job_id, None)
        if _state.jobs.get((job.account, job.region, job.job_id)) is not job:
            return  # uninstalled meanwhile
        job.status = job.result.status
    if not job.topic_arn:
        return
    message: dict[str, Any] = {
        "JobId": job.job_id,
        "Status": "FAILED" if job.status == "FAILED" else "SUCCEEDED",
        "API": API,
        "Timestamp": int(time.time() * 1000),
        "DocumentLocation": {"S3ObjectName": job.location["Name"], "S3Bucket": job.location["Bucket"]},
    }
    if job.job_tag:
        message["JobTag"] = job.job_tag
    try:
        _publish(job.account, job.region, job.topic_arn, json.dumps(message))
    except Exception:  # a topic deleted meanwhile: AWS drops the notification too
        log.warning("textract job %s: completion not published to %s", job.job_id, job.topic_arn, exc_info=True)
        return
    log.info("textract job %s %s, notified %s", job.job_id, job.status, job.topic_arn)


def _encode_token(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([job_id, offset]).encode()).decode()


def _decode_token(token: str, job_id: str) -> int:
    try:
        token_job, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _invalid("NextToken is not valid.") from None
    if token_job != job_id or not isinstance(offset, int) or offset < 0:
        raise _invalid("NextToken is not valid.")
    return offset


def _get(params: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    job_id = params.get("JobId")
    with _state.lock:
        job = _state.jobs.get((account, region, str(job_id)))
    if job is None:
        from moto.textract.exceptions import InvalidJobIdException

        raise InvalidJobIdException()
    max_results = params.get("MaxResults") or MAX_RESULTS
    if not isinstance(max_results, int) or max_results < 1:
        raise _invalid("MaxResults must be at least 1.")
    max_results = min(max_results, MAX_RESULTS)
    response: dict[str, Any] = {"JobStatus": job.status, "AnalyzeDocumentModelVersion": "1.0"}
    if job.status == "IN_PROGRESS":
        return response
    result = job.result
    response["DocumentMetadata"] = {"Pages": sum(1 for b in result.blocks if b.get("BlockType") == "PAGE")}
    if result.status_message:
        response["StatusMessage"] = result.status_message
    if result.warnings:
        response["Warnings"] = result.warnings
    if job.status == "FAILED":
        return response
    offset = _decode_token(params["NextToken"], job.job_id) if params.get("NextToken") else 0
    response["Blocks"] = result.blocks[offset : offset + max_results]
    if offset + max_results < len(result.blocks):
        response["NextToken"] = _encode_token(job.job_id, offset + max_results)
    return response
