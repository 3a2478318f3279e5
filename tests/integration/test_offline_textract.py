"""The offline Textract emulation in a real moto server: StartDocumentAnalysis -> SNS -> SQS completion message ->
GetDocumentAnalysis pages -> markdown, through the production adapter (TextractAnalysis, parse_completion).

moto's ThreadedMotoServer runs in this process, so the emulation's patch of moto's Textract responses applies to it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from genai_core.knowledge.extraction.textract import (
    TextractAnalysis,
    TextractCompletion,
    TextractError,
    TextractWarning,
    blocks_to_markdown,
    parse_completion,
)
from offline.textract import handle_injection, inject_result, install_textract_emulation
from tests.conftest import free_port
from tests.fixtures.textract.documents import ANNUAL_REPORT, annual_report

REGION = "us-east-1"
BUCKET = "genai-offline-documents"
ROLE = "arn:aws:iam::123456789012:role/textract-publish"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def client(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    s3 = client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def emulation() -> Iterator[None]:
    uninstall = install_textract_emulation(completion_delay=0.5)
    yield
    uninstall()


class Channel:
    """An SNS topic with an SQS queue subscribed, as the pipeline wires Textract's notifications."""

    def __init__(self, aws: Any, *, raw: bool = False) -> None:
        name = f"textract-{uuid.uuid4().hex[:8]}"
        self.sns, self.sqs = aws("sns"), aws("sqs")
        self.topic_arn = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {"RawMessageDelivery": "true"} if raw else {}
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)

    def receive(self, wait: int = 5) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
            "Messages", []
        )
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [m["Body"] for m in messages]


def upload(aws: Any, key: str) -> None:
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=b"%PDF-1.7 scanned pages", ContentType="application/pdf")


def start(analysis: TextractAnalysis, channel: Channel, key: str, token: str, tag: str = "doc-1") -> str:
    return analysis.start(
        BUCKET, key, sns_topic_arn=channel.topic_arn, role_arn=ROLE, job_tag=tag, client_request_token=token
    )


def test_analysis_completes_through_sns_and_sqs_and_pages_its_blocks(aws, emulation):
    # GIVEN an uploaded scan, a notification channel and the report's blocks queued for that document
    key = f"workspaces/w1/{uuid.uuid4().hex}.pdf"
    upload(aws, key)
    channel = Channel(aws)
    inject_result(annual_report().blocks(), document_key=key)
    client = aws("textract")
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.textract.GetDocumentAnalysis", lambda params, **_: calls.append(dict(params))
    )
    analysis = TextractAnalysis(client, page_size=100)

    # WHEN the analysis starts
    job_id = start(analysis, channel, key, token="doc-1-v1")

    # THEN the job runs after the call returned, and its completion arrives through SNS -> SQS
    with pytest.raises(TextractError, match="not finished"):
        list(analysis.blocks(job_id))
    bodies = channel.receive()
    assert len(bodies) == 1
    completion = parse_completion(bodies[0])
    assert completion == TextractCompletion(
        job_id=job_id,
        status="SUCCEEDED",
        api="StartDocumentAnalysis",
        job_tag="doc-1",
        timestamp=completion.timestamp,
        bucket=BUCKET,
        key=key,
    )
    assert json.loads(bodies[0])["TopicArn"] == channel.topic_arn  # an SNS envelope, not raw delivery

    # AND the blocks come back in pages of 100, joined by NextToken, and render to the whole report
    calls.clear()
    document = blocks_to_markdown(analysis.blocks(completion.job_id))
    assert document.markdown == ANNUAL_REPORT
    assert document.pages == 3
    blocks = annual_report().blocks()
    assert len(calls) == len(blocks) // 100 + 1
    assert all(c["MaxResults"] == 100 for c in calls)
    assert "NextToken" not in calls[0] and all("NextToken" in c for c in calls[1:])


def test_document_metadata_counts_the_pages(aws, emulation):
    key = f"workspaces/w1/{uuid.uuid4().hex}.pdf"
    upload(aws, key)
    channel = Channel(aws)
    inject_result(annual_report().blocks(), document_key=key)
    client = aws("textract")
    job_id = start(TextractAnalysis(client), channel, key, token=uuid.uuid4().hex)
    channel.receive()

    response = client.get_document_analysis(JobId=job_id, MaxResults=5)
    assert (response["JobStatus"], response["DocumentMetadata"], len(response["Blocks"])) == (
        "SUCCEEDED",
        {"Pages": 3},
        5,
    )
    assert response["NextToken"]


def test_same_client_request_token_is_the_same_job(aws, emulation):
    # GIVEN a started analysis
    key = f"workspaces/w1/{uuid.uuid4().hex}.pdf"
    upload(aws, key)
    channel = Channel(aws)
    analysis = TextractAnalysis(aws("textract"))
    job_id = start(analysis, channel, key, token="retry-me")

    # WHEN the step is retried with the same token THEN the same job answers and one notification is sent
    assert start(analysis, channel, key, token="retry-me") == job_id
    assert len(channel.receive()) == 1
    assert channel.receive(wait=1) == []

    # AND the token cannot be reused for another document
    other = f"workspaces/w1/{uuid.uuid4().hex}.pdf"
    upload(aws, other)
    with pytest.raises(ClientError, match="IdempotentParameterMismatchException"):
        start(analysis, channel, other, token="retry-me")


def test_failed_job_notifies_failed_and_reports_the_status_message(aws, emulation):
    key = f"workspaces/w1/{uuid.uuid4().hex}.png"
    upload(aws, key)
    channel = Channel(aws, raw=True)
    inject_result([], status="FAILED", status_message="Unable to process the image", document_key=key)
    analysis = TextractAnalysis(aws("textract"))
    start(analysis, channel, key, token=uuid.uuid4().hex)

    (body,) = channel.receive()
    completion = parse_completion(body)  # raw message delivery: Textract's JSON is the body
    assert "TopicArn" not in json.loads(body)
    assert (completion.status, completion.succeeded) == ("FAILED", False)
    with pytest.raises(TextractError, match="Unable to process the image"):
        list(analysis.blocks(completion.job_id))


def test_partial_success_reports_its_warnings(aws, emulation):
    key = f"workspaces/w1/{uuid.uuid4().hex}.pdf"
    upload(aws, key)
    channel = Channel(aws)
    status, body = handle_injection(
        json.dumps(
            {
                "blocks": annual_report().blocks(),
                "status": "PARTIAL_SUCCESS",
                "document_key": key,
                "warnings": [{"ErrorCode": "UNSUPPORTED_PAGE", "Pages": [4]}],
            }
        ).encode()
    )
    assert status == 202, body
    analysis = TextractAnalysis(aws("textract"))
    start(analysis, channel, key, token=uuid.uuid4().hex)
    completion = parse_completion(channel.receive()[0])
    warnings: list[TextractWarning] = []

    assert completion.status == "SUCCEEDED"
    assert blocks_to_markdown(analysis.blocks(completion.job_id, on_warning=warnings.append)).markdown == ANNUAL_REPORT
    assert warnings == [TextractWarning("UNSUPPORTED_PAGE", (4,))]


def test_without_an_injected_result_the_document_is_one_blank_page(aws, emulation):
    key = f"workspaces/w1/{uuid.uuid4().hex}.tiff"
    upload(aws, key)
    channel = Channel(aws)
    analysis = TextractAnalysis(aws("textract"))
    start(analysis, channel, key, token=uuid.uuid4().hex)
    completion = parse_completion(channel.receive()[0])

    document = blocks_to_markdown(analysis.blocks(completion.job_id))
    assert (document.markdown, document.pages) == ("<!-- page 1 -->\n", 1)


def test_results_queued_without_a_key_go_to_the_next_job(aws, emulation):
    first, second = (f"workspaces/w1/{uuid.uuid4().hex}.pdf" for _ in range(2))
    upload(aws, first)
    upload(aws, second)
    channel = Channel(aws)
    inject_result([], status="FAILED", status_message="first")
    inject_result([], status="FAILED", status_message="second")
    analysis = TextractAnalysis(aws("textract"))
    jobs = [start(analysis, channel, key, token=uuid.uuid4().hex) for key in (first, second)]
    assert len(channel.receive()) + len(channel.receive(wait=2)) == 2

    for job_id, message in zip(jobs, ("first", "second"), strict=True):
        with pytest.raises(TextractError, match=message):
            list(analysis.blocks(job_id))


def test_a_missing_document_is_refused(aws, emulation):
    channel = Channel(aws)
    with pytest.raises(TextractError, match="could not be read from storage") as raised:
        start(TextractAnalysis(aws("textract")), channel, "workspaces/w1/missing.pdf", token=uuid.uuid4().hex)
    assert raised.value.code == "InvalidS3ObjectException"


def test_unknown_job_and_bad_token_are_client_errors(aws, emulation):
    client = aws("textract")
    with pytest.raises(TextractError, match="unknown"):
        list(TextractAnalysis(client).blocks("0" * 64))

    key = f"workspaces/w1/{uuid.uuid4().hex}.pdf"
    upload(aws, key)
    channel = Channel(aws)
    job_id = start(TextractAnalysis(client), channel, key, token=uuid.uuid4().hex)
    channel.receive()
    with pytest.raises(ClientError, match="InvalidParameterException"):
        client.get_document_analysis(JobId=job_id, NextToken="not-a-token")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "JSON object"),
        (b"[]", "JSON object"),
        (b'{"blocks": "x"}', "list of Textract Block"),
        (b'{"blocks": [], "status": "DONE"}', "status must be one of"),
        (b'{"blocks": [], "document_key": 7}', "document_key"),
        (b'{"blocks": [], "extra": 1}', "unknown fields"),
    ],
)
def test_handle_injection_refuses_malformed_bodies(body, error):
    status, answer = handle_injection(body)
    assert status == 400
    assert error in answer["error"]


def test_uninstall_puts_motos_textract_back(aws):
    from moto.textract.responses import TextractResponse

    original = TextractResponse.start_document_analysis
    uninstall = install_textract_emulation()
    assert TextractResponse.start_document_analysis is not original
    uninstall()
    assert TextractResponse.start_document_analysis is original
