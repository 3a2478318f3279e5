"""Textract blocks -> markdown, and the StartDocumentAnalysis / GetDocumentAnalysis adapter against a real textract
client whose calls are stubbed with botocore's Stubber (which checks the parameters and validates both sides against
the service model).

The documents are built block by block the way Textract returns them (tests/fixtures/textract/builder.py).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from genai_core.knowledge.chunking import ChunkingConfig, chunk_document
from genai_core.knowledge.extraction.textract import (
    TextractAnalysis,
    TextractCompletion,
    TextractDocument,
    TextractError,
    TextractWarning,
    blocks_to_markdown,
    parse_completion,
)
from tests.fixtures.textract.builder import DocumentBuilder, get_document_analysis_pages
from tests.fixtures.textract.documents import ANNUAL_REPORT, annual_report

JOB_ID = "4d3f6d2a8f1b4c7e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
TOPIC = "arn:aws:sns:us-east-1:123456789012:genai-test-textract"
ROLE = "arn:aws:iam::123456789012:role/genai-test-textract-publish"


@pytest.fixture
def textract() -> Iterator[tuple[TextractAnalysis, Stubber]]:
    client = boto3.client(
        "textract", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield TextractAnalysis(client), stubber
        stubber.assert_no_pending_responses()


def stub_pages(stubber: Stubber, responses: list[dict[str, Any]], max_results: int = 1000) -> None:
    for n, response in enumerate(responses):
        expected: dict[str, Any] = {"JobId": JOB_ID, "MaxResults": max_results}
        if n:
            expected["NextToken"] = f"token-{n}"
        stubber.add_response("get_document_analysis", response, expected)


# -- blocks -> markdown ---------------------------------------------------------------------------------------------


def test_three_page_document_renders_layout_tables_and_markers():
    # GIVEN a three-page analysis with headers, footers, page numbers, a title, sections, a list and a merged table
    blocks = annual_report().blocks()

    # WHEN it is rendered
    document = blocks_to_markdown(blocks)

    # THEN the markdown has one marker per page, the structure as markdown, and no page furniture
    assert document == TextractDocument(markdown=ANNUAL_REPORT, pages=3)
    assert "Confidential" not in document.markdown
    assert "ACME Corp" not in document.markdown


def test_block_order_and_page_order_do_not_matter():
    # GIVEN the same blocks shuffled (responses can be read in any order, pages interleaved)
    blocks = annual_report().blocks()
    random.Random(7).shuffle(blocks)

    # WHEN rendered THEN the reading order still comes from each PAGE block's CHILD order
    assert blocks_to_markdown(blocks).markdown == ANNUAL_REPORT


def test_the_chunker_reads_pages_headings_and_the_table():
    # GIVEN the rendered report WHEN it is chunked by layout
    chunks = chunk_document(
        "doc-1", blocks_to_markdown(annual_report().blocks()).markdown, ChunkingConfig(size_tokens=512)
    )

    # THEN the table chunk starts on page 2 under its section heading
    table = next(c for c in chunks if "| EMEA |" in c.text)
    assert table.pages[0] == 2
    assert table.heading_path[-1] == "2. Revenue by region"


def test_table_without_column_headers_uses_its_first_row_and_renders_selection_marks():
    # GIVEN a table whose cells carry no COLUMN_HEADER and two check boxes
    doc = DocumentBuilder("checklist")
    doc.page().table(
        [["Step", "Done"], ["Back up the database", ""], ["Rotate the keys", ""]],
        header_rows=0,
        selections={(2, 2): True, (3, 2): False},
    )

    # WHEN rendered THEN the first row is the header and the marks are [x] / [ ]
    assert blocks_to_markdown(doc.blocks()).markdown == (
        "<!-- page 1 -->\n| Step | Done |\n| --- | --- |\n| Back up the database | [x] |\n| Rotate the keys | [ ] |\n"
    )


def test_table_without_layout_table_is_placed_by_position():
    # GIVEN a page whose table no LAYOUT_TABLE covers (the layout model missed it)
    doc = DocumentBuilder("loose-table")
    page = doc.page()
    page.section_header("Prices")
    page.table([["Item", "Price"], ["Tea", "2.50"]], layout=False)
    page.text("Prices include VAT.")

    # WHEN rendered THEN the table comes between the blocks above and below it
    assert blocks_to_markdown(doc.blocks()).markdown == (
        "<!-- page 1 -->\n## Prices\n\n| Item | Price |\n| --- | --- |\n| Tea | 2.50 |\n\nPrices include VAT.\n"
    )


def test_table_words_in_a_text_block_are_not_written_twice():
    # GIVEN a table whose lines Textract's layout also put into a LAYOUT_TEXT (no LAYOUT_TABLE at all)
    doc = DocumentBuilder("table-as-text")
    page = doc.page()
    page.text("Opening hours")
    page.table([["Day", "Hours"], ["Monday", "9-17"]], layout=False)
    page._layout("LAYOUT_TEXT", [line for line in page.lines if line["Text"] in {"Day", "Hours", "Monday", "9-17"}])

    # WHEN rendered THEN the table appears once, where that text block is
    assert blocks_to_markdown(doc.blocks()).markdown == (
        "<!-- page 1 -->\nOpening hours\n\n| Day | Hours |\n| --- | --- |\n| Monday | 9-17 |\n"
    )


def test_numbered_list_items_keep_their_numbers_and_structural_text_is_escaped():
    doc = DocumentBuilder("steps")
    page = doc.page()
    page.list("1. Unpack the box", "2) Plug it in")
    page.text("| not a table row")
    page.text("<!-- page 9 --> is how markers look")
    page.figure("Figure 3: sales by quarter")

    assert blocks_to_markdown(doc.blocks()).markdown == (
        "<!-- page 1 -->\n1. Unpack the box\n2) Plug it in\n\n\\| not a table row\n\n"
        "\\<!-- page 9 --> is how markers look\n\nFigure 3: sales by quarter\n"
    )


def test_dangling_ids_and_missing_fields_are_skipped():
    # GIVEN blocks with ids that point nowhere, a layout without geometry, a cell without indexes and junk blocks
    doc = DocumentBuilder("broken")
    page = doc.page()
    page.title("Survey results")
    text = page.text("Most people answered.")
    table = page.table([["Answer", "Share"], ["Yes", "61%"]])
    text["Relationships"][0]["Ids"].append("missing-line")
    del text["Geometry"]
    table["Relationships"][0]["Ids"].append("missing-cell")
    table["Relationships"].append({"Type": "MERGED_CELL", "Ids": ["missing-merged"]})
    page.table_parts[0].pop("RowIndex")  # the "Answer" cell loses its position
    blocks = doc.blocks()
    blocks[0]["Relationships"][0]["Ids"][:0] = ["missing-layout", "missing-line"]
    blocks += [{"BlockType": "LINE"}, {"Id": "no-type"}, "not a block"]
    blocks.append({"BlockType": "LAYOUT_TEXT", "Id": "empty-layout", "Page": 1})

    # WHEN rendered THEN what can be placed is, and nothing raises
    assert blocks_to_markdown(blocks).markdown == (
        "<!-- page 1 -->\n# Survey results\n\nMost people answered.\n\n| | Share |\n| --- | --- |\n| Yes | 61% |\n"
    ).replace("| | Share", "|  | Share")


def test_malformed_relationships_geometry_and_spans_are_skipped():
    # GIVEN blocks whose fields have the wrong types, and a merged cell with an absurd span
    doc = DocumentBuilder("malformed")
    page = doc.page()
    page.text("Kept.")
    broken = page.text("Lost.")
    broken["Relationships"] = {"Type": "CHILD"}
    page.text("Also kept.")["Geometry"] = "nowhere"
    page.table([["A", "B"], ["1", "2"]], merges=[(2, 1, 1, 2)])
    page.table_parts[-1]["ColumnSpan"] = 10**9
    page.table_parts[-1]["RowIndex"] = 10**9

    # WHEN rendered THEN the broken parts are left out and the rest renders
    assert blocks_to_markdown(doc.blocks()).markdown == (
        "<!-- page 1 -->\nKept.\n\nAlso kept.\n\n| A | B |\n| --- | --- |\n| 1 | 2 |\n"
    )


def test_no_blocks_is_an_empty_document():
    assert blocks_to_markdown([]) == TextractDocument(markdown="", pages=0)


def test_large_document_renders_in_linear_time():
    # GIVEN 300 pages of 40 lines each in 4 paragraphs, and a table per page (about 75,000 blocks)
    doc = DocumentBuilder("large")
    for n in range(300):
        page = doc.page()
        page.section_header(f"Section {n}")
        for p in range(4):
            page.text(*(f"Page {n} paragraph {p} line {i} with several words in it" for i in range(10)))
        page.table([["Key", "Value"], *([f"k{i}", f"v{i}"] for i in range(10))])
    blocks = doc.blocks()

    # WHEN rendered
    started = time.perf_counter()
    document = blocks_to_markdown(blocks)
    elapsed = time.perf_counter() - started

    # THEN every page is there, and it took well under what a quadratic walk over the blocks would
    assert document.pages == 300
    assert document.markdown.count("<!-- page ") == 300
    assert "| k9 | v9 |" in document.markdown.rsplit("<!-- page 300 -->", 1)[1]
    assert elapsed < 5, elapsed


# -- GetDocumentAnalysis --------------------------------------------------------------------------------------------


def test_blocks_pages_through_every_response(textract):
    # GIVEN the report's blocks spread over four GetDocumentAnalysis responses
    analysis, stubber = textract
    blocks = annual_report().blocks()
    responses = get_document_analysis_pages(blocks, page_size=len(blocks) // 4 + 1)
    assert len(responses) == 4
    stub_pages(stubber, responses)

    # WHEN all blocks are read and rendered
    document = blocks_to_markdown(analysis.blocks(JOB_ID))

    # THEN every NextToken was followed, with MaxResults 1000, and the markdown is the whole document
    assert document.markdown == ANNUAL_REPORT


def test_blocks_with_a_smaller_page_size(textract):
    _, stubber = textract
    analysis = TextractAnalysis(stubber.client, page_size=50)
    blocks = annual_report().blocks()
    stub_pages(stubber, get_document_analysis_pages(blocks, page_size=50), max_results=50)

    assert list(analysis.blocks(JOB_ID)) == blocks


def test_failed_job_raises_textracts_status_message(textract):
    analysis, stubber = textract
    stubber.add_response(
        "get_document_analysis",
        {"JobStatus": "FAILED", "StatusMessage": "Request has unsupported document format", "Blocks": []},
        {"JobId": JOB_ID, "MaxResults": 1000},
    )

    with pytest.raises(TextractError, match="unsupported document format") as raised:
        list(analysis.blocks(JOB_ID))
    assert raised.value.code == "FAILED"


def test_job_still_in_progress_raises(textract):
    analysis, stubber = textract
    stubber.add_response("get_document_analysis", {"JobStatus": "IN_PROGRESS"}, {"JobId": JOB_ID, "MaxResults": 1000})

    with pytest.raises(TextractError, match="not finished") as raised:
        list(analysis.blocks(JOB_ID))
    assert raised.value.code == "IN_PROGRESS"


def test_unknown_job_raises(textract):
    analysis, stubber = textract
    stubber.add_client_error(
        "get_document_analysis",
        service_error_code="InvalidJobIdException",
        service_message="An invalid job identifier was passed.",
        http_status_code=400,
        expected_params={"JobId": JOB_ID, "MaxResults": 1000},
    )

    with pytest.raises(TextractError, match="unknown or its results have expired"):
        list(analysis.blocks(JOB_ID))


def test_partial_success_yields_the_blocks_and_reports_each_warning_once(textract, caplog):
    # GIVEN a PARTIAL_SUCCESS job whose two responses both carry the same warning
    analysis, stubber = textract
    blocks = annual_report().blocks()
    warning = {"ErrorCode": "UNSUPPORTED_PAGE_FORMAT", "Pages": [4, 5]}
    half = len(blocks) // 2 + 1
    stub_pages(stubber, get_document_analysis_pages(blocks, half, status="PARTIAL_SUCCESS", warnings=[warning]))
    reported: list[TextractWarning] = []

    # WHEN the blocks are read
    with caplog.at_level(logging.WARNING):
        document = blocks_to_markdown(analysis.blocks(JOB_ID, on_warning=reported.append))

    # THEN the pages Textract read are rendered, and the warning is reported and logged once
    assert document.markdown == ANNUAL_REPORT
    assert reported == [TextractWarning("UNSUPPORTED_PAGE_FORMAT", (4, 5))]
    assert [r.getMessage() for r in caplog.records if "UNSUPPORTED_PAGE_FORMAT" in r.getMessage()] == [
        f"textract job {JOB_ID}: UNSUPPORTED_PAGE_FORMAT on pages [4, 5]"
    ]


# -- StartDocumentAnalysis ------------------------------------------------------------------------------------------

START_PARAMS = {
    "DocumentLocation": {"S3Object": {"Bucket": "genai-test-documents", "Name": "workspaces/w1/scan.pdf"}},
    "FeatureTypes": ["LAYOUT", "TABLES"],
    "ClientRequestToken": "doc-1-v3",
    "JobTag": "doc-1",
    "NotificationChannel": {"SNSTopicArn": TOPIC, "RoleArn": ROLE},
}


def start(analysis: TextractAnalysis, **changes: Any) -> str:
    arguments: dict[str, Any] = {
        "sns_topic_arn": TOPIC,
        "role_arn": ROLE,
        "job_tag": "doc-1",
        "client_request_token": "doc-1-v3",
    }
    arguments.update(changes)
    return analysis.start("genai-test-documents", "workspaces/w1/scan.pdf", **arguments)


def test_start_asks_for_layout_and_tables_with_the_notification_channel(textract):
    analysis, stubber = textract
    stubber.add_response("start_document_analysis", {"JobId": JOB_ID}, START_PARAMS)

    assert start(analysis) == JOB_ID


def test_start_passes_the_object_version(textract):
    analysis, stubber = textract
    params = json.loads(json.dumps(START_PARAMS))
    params["DocumentLocation"]["S3Object"]["Version"] = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
    stubber.add_response("start_document_analysis", {"JobId": JOB_ID}, params)

    assert start(analysis, version="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY") == JOB_ID


def test_start_explains_document_problems(textract):
    analysis, stubber = textract
    stubber.add_client_error(
        "start_document_analysis",
        service_error_code="UnsupportedDocumentException",
        service_message="Request has unsupported document format",
        http_status_code=400,
        expected_params=START_PARAMS,
    )

    with pytest.raises(TextractError, match="format is not supported") as raised:
        start(analysis)
    assert raised.value.code == "UnsupportedDocumentException"


def test_start_leaves_throttling_to_the_caller(textract):
    analysis, stubber = textract
    stubber.add_client_error(
        "start_document_analysis",
        service_error_code="ProvisionedThroughputExceededException",
        http_status_code=400,
        expected_params=START_PARAMS,
    )

    with pytest.raises(ClientError):
        start(analysis)


@pytest.mark.parametrize(
    "changes",
    [{"client_request_token": "s3://bucket/key"}, {"client_request_token": "x" * 65}, {"job_tag": "doc 1"}],
)
def test_start_refuses_tokens_and_tags_textract_would_refuse(textract, changes):
    analysis, _ = textract
    with pytest.raises(ValueError):
        start(analysis, **changes)


# -- completion notification ----------------------------------------------------------------------------------------

TEXTRACT_MESSAGE = {
    "JobId": JOB_ID,
    "Status": "SUCCEEDED",
    "API": "StartDocumentAnalysis",
    "JobTag": "doc-1",
    "Timestamp": 1718000000123,
    "DocumentLocation": {"S3ObjectName": "workspaces/w1/scan.pdf", "S3Bucket": "genai-test-documents"},
}
COMPLETION = TextractCompletion(
    job_id=JOB_ID,
    status="SUCCEEDED",
    api="StartDocumentAnalysis",
    job_tag="doc-1",
    timestamp=1718000000123,
    bucket="genai-test-documents",
    key="workspaces/w1/scan.pdf",
)


def sns_envelope(message: str, kind: str = "Notification") -> str:
    """An SQS message body as SNS delivers it to a queue without raw message delivery."""
    return json.dumps(
        {
            "Type": kind,
            "MessageId": "a1b2c3d4-5678-90ab-cdef-1234567890ab",
            "TopicArn": TOPIC,
            "Message": message,
            "Timestamp": "2024-06-10T06:13:20.123Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bk",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + TOPIC + ":1",
        }
    )


def test_parse_completion_from_an_sns_envelope():
    assert parse_completion(sns_envelope(json.dumps(TEXTRACT_MESSAGE))) == COMPLETION
    assert COMPLETION.succeeded


def test_parse_completion_from_raw_message_delivery():
    assert parse_completion(json.dumps(TEXTRACT_MESSAGE)) == COMPLETION


def test_parse_completion_of_a_failed_job_without_tag():
    message = {**TEXTRACT_MESSAGE, "Status": "FAILED", "JobTag": ""}
    completion = parse_completion(sns_envelope(json.dumps(message)))
    assert (completion.status, completion.job_tag, completion.succeeded) == ("FAILED", None, False)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
        sns_envelope("plain text"),
        sns_envelope(json.dumps({"hello": "world"})),
        sns_envelope(json.dumps(TEXTRACT_MESSAGE), kind="SubscriptionConfirmation"),
        json.dumps({**TEXTRACT_MESSAGE, "JobId": ""}),
    ],
)
def test_parse_completion_refuses_other_messages(body):
    with pytest.raises(ValueError, match="not a Textract completion"):
        parse_completion(body)
