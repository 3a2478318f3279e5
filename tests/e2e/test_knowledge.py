"""Knowledge pipelines over HTTP against the offline runtime: upload through the presigned URL, the real pipeline
(moto S3 notification -> SQS -> trigger -> state machine -> local handlers), status, content, chunks, search in
every mode, chat with knowledge (openai SDK), failures, Textract with injected blocks, re-delivery, isolation and
deletes."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote_plus

import openai
import pytest
import requests

from tests.e2e.conftest import Platform
from tests.fixtures.documents import heading, text_pdf
from tests.fixtures.textract.documents import annual_report

DOCUMENT_SCOPES = ["genai/documents.read", "genai/documents.write", "genai/invoke"]

# One topic per page, in words no other page uses, so a sentence of page N belongs to page N alone.
HANDBOOK = [
    [heading("Employee Handbook"), "Welcome aboard. This handbook explains how the company works day to day."],
    [heading("Onboarding", 2), "During your first week a mentor walks you through the codebase and the deploy tools."],
    [heading("Holidays", 2), "Every employee receives twenty-eight days of paid vacation per calendar year."],
    [
        heading("Expenses", 2),
        "Receipts for taxis, hotels and meals must be uploaded to the reimbursement portal within thirty days.",
    ],
    [heading("Security", 2), "Badges open the office doors; report a lost badge to the reception desk at once."],
    [heading("Parental leave", 2), "Parents may take sixteen weeks of fully paid parental leave after a birth."],
]
EXPENSES_PAGE = 4
EXPENSES_SENTENCE = "Receipts for taxis, hotels and meals must be uploaded to the reimbursement portal"


def _session(platform: Platform, client_id: str | None = None, secret: str | None = None) -> requests.Session:
    return platform.session(platform.token(client_id=client_id, secret=secret))


def _collection(api: requests.Session, url: str, **body: Any) -> str:
    response = api.post(f"{url}/v1/collections", json={"name": "handbook", **body}, timeout=30)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _register(
    api: requests.Session, url: str, collection_id: str, filename: str, content_type: str, data: bytes, **extra: Any
) -> dict[str, Any]:
    body = {"filename": filename, "content_type": content_type, "size_bytes": len(data), **extra}
    response = api.post(f"{url}/v1/collections/{collection_id}/documents", json=body, timeout=30)
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    assert registered["status"] == "PENDING_UPLOAD"
    return registered


def _upload(registered: dict[str, Any], data: bytes) -> None:
    upload = registered["upload"]
    response = requests.request(upload["method"], upload["url"], data=data, headers=upload["headers"], timeout=30)
    assert response.status_code == 200, response.text


def _wait(api: requests.Session, url: str, document_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    document: dict[str, Any] = {}
    while time.monotonic() < deadline:
        document = api.get(f"{url}/v1/documents/{document_id}", timeout=30).json()
        if document["status"] in {"READY", "FAILED"}:
            return document
        time.sleep(0.3)
    raise AssertionError(f"document {document_id} still {document.get('status')} after {timeout} s")


def _ingest(
    api: requests.Session, url: str, collection_id: str, filename: str, content_type: str, data: bytes, **extra: Any
) -> dict[str, Any]:
    registered = _register(api, url, collection_id, filename, content_type, data, **extra)
    _upload(registered, data)
    return _wait(api, url, registered["id"])


def _search(api: requests.Session, url: str, collection_id: str, **body: Any) -> requests.Response:
    return api.post(f"{url}/v1/collections/{collection_id}/search", json=body, timeout=30)


@pytest.fixture(scope="module")
def handbook(platform: Platform) -> dict[str, Any]:
    """The handbook PDF ingested into a fresh collection of the demo app."""
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url, chunking={"strategy": "page", "overlap_tokens": 0})
    data = text_pdf(HANDBOOK, header="ACME Corp - Internal", footer="Page {page} of {pages}")
    document = _ingest(api, url, collection_id, "handbook.pdf", "application/pdf", data, metadata={"team": "hr"})
    return {"collection_id": collection_id, "document": document, "data": data}


def test_a_multi_page_pdf_is_ingested_to_ready_with_its_pages_chunks_and_timings(
    platform: Platform, handbook: dict[str, Any]
) -> None:
    api, url, document = _session(platform), platform.url, handbook["document"]
    # THEN the record says READY, with what the pipeline found and how long each step took
    assert document["status"] == "READY", document.get("failure")
    assert (document["pages"], document["extraction_method"], document["failure"]) == (6, "pypdf", None)
    assert document["chunks"] == 6  # strategy page: one chunk per page
    assert all(document["timings"][f"{step}_ms"] is not None for step in ("extract", "chunk", "index", "total"))
    assert document["execution_arn"].split(":")[-1].startswith(document["id"])
    # AND the extracted markdown has its page markers, headings, and no running header or page footer
    content = api.get(f"{url}/v1/documents/{document['id']}/content", timeout=30)
    assert content.status_code == 200 and content.headers["Content-Type"].startswith("text/markdown")
    markdown = content.text
    assert markdown.index("<!-- page 4 -->") < markdown.index(EXPENSES_SENTENCE) < markdown.index("<!-- page 5 -->")
    assert "## Expenses" in markdown and "ACME Corp - Internal" not in markdown and "Page 4 of 6" not in markdown
    # AND its chunks carry pages, headings and offsets into that markdown
    chunks = api.get(f"{url}/v1/documents/{document['id']}/chunks", params={"limit": 4}, timeout=30).json()
    assert [c["pages"] for c in chunks["data"]] == [[1], [2], [3], [4]] and chunks["next_token"]
    rest = api.get(
        f"{url}/v1/documents/{document['id']}/chunks", params={"next_token": chunks["next_token"]}, timeout=30
    ).json()
    assert [c["index"] for c in rest["data"]] == [4, 5] and rest["next_token"] is None
    expenses = chunks["data"][3]
    assert expenses["heading_path"] == ["Employee Handbook", "Expenses"]
    assert EXPENSES_SENTENCE in expenses["text"]


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_a_sentence_of_page_n_finds_page_n_first_in_every_mode(
    platform: Platform, handbook: dict[str, Any], mode: str
) -> None:
    api, url = _session(platform), platform.url
    # WHEN the collection is searched for a sentence of page 4
    response = _search(api, url, handbook["collection_id"], query=EXPENSES_SENTENCE, k=3, mode=mode)
    # THEN the first hit is page 4's chunk, with its source
    assert response.status_code == 200, response.text
    hits = response.json()["data"]
    first = hits[0]
    assert (first["page"], first["document_id"], first["filename"]) == (
        EXPENSES_PAGE,
        handbook["document"]["id"],
        "handbook.pdf",
    )
    assert first["metadata"] == {"team": "hr"} and first["heading_path"] == ["Employee Handbook", "Expenses"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_a_filter_on_metadata_narrows_the_search(platform: Platform, handbook: dict[str, Any]) -> None:
    api, url, collection_id = _session(platform), platform.url, handbook["collection_id"]
    matching = _search(api, url, collection_id, query="parental leave", filter={"team": "hr"}).json()["data"]
    other = _search(api, url, collection_id, query="parental leave", filter={"team": "finance"}).json()["data"]
    assert matching and other == []
    bad = _search(api, url, collection_id, query="leave", filter={"team": {"$ne": "hr"}})
    assert bad.status_code == 400 and "filter" in bad.json()["error"]["message"]


def test_a_chat_completion_with_knowledge_cites_the_page_it_drew_from(
    platform: Platform, handbook: dict[str, Any]
) -> None:
    client = openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.token(), max_retries=0)
    # WHEN a chat completion names the collection as knowledge
    completion = client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": "How many days of paid vacation does every employee receive?"}],
        extra_body={"knowledge": {"collection_ids": [handbook["collection_id"]], "k": 2}},
    )
    # THEN the answer comes with citations, the first to the holidays page of the handbook
    citations = (completion.model_extra or {})["citations"]
    assert [c["index"] for c in citations] == [1, 2]
    assert citations[0]["page"] == 3 and citations[0]["document_id"] == handbook["document"]["id"]
    assert citations[0]["filename"] == "handbook.pdf" and citations[0]["heading_path"][-1] == "Holidays"
    assert completion.choices[0].message.content


def test_knowledge_of_a_collection_that_is_not_the_apps_is_a_404(platform: Platform, handbook: dict[str, Any]) -> None:
    client_id, secret = platform.new_app("knowledge-stranger", DOCUMENT_SCOPES)
    client = openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.token(client_id=client_id, secret=secret))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="offline-echo",
            messages=[{"role": "user", "content": "vacation days?"}],
            extra_body={"knowledge": {"collection_ids": [handbook["collection_id"]]}},
        )


def test_another_app_cannot_see_search_or_delete_the_documents(platform: Platform, handbook: dict[str, Any]) -> None:
    url, document_id, collection_id = platform.url, handbook["document"]["id"], handbook["collection_id"]
    client_id, secret = platform.new_app("knowledge-other", DOCUMENT_SCOPES)
    other = _session(platform, client_id, secret)
    for method, path, body in [
        ("GET", f"/v1/documents/{document_id}", None),
        ("GET", f"/v1/documents/{document_id}/content", None),
        ("GET", f"/v1/documents/{document_id}/chunks", None),
        ("DELETE", f"/v1/documents/{document_id}", None),
        ("POST", f"/v1/collections/{collection_id}/search", {"query": EXPENSES_SENTENCE}),
        ("GET", f"/v1/collections/{collection_id}/documents", None),
    ]:
        response = other.request(method, url + path, json=body, timeout=30)
        assert response.status_code == 404, f"{method} {path} -> {response.status_code}"
    # AND the owner's document is untouched
    owner = _session(platform)
    assert owner.get(f"{url}/v1/documents/{document_id}", timeout=30).json()["status"] == "READY"


def test_a_re_delivered_upload_event_indexes_nothing_twice(platform: Platform, handbook: dict[str, Any]) -> None:
    api, url, document = _session(platform), platform.url, handbook["document"]
    sfn, s3, sqs = platform.aws("stepfunctions"), platform.aws("s3"), platform.aws("sqs")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-ingest"))

    def executions() -> list[str]:
        listed = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
        return [e["name"] for e in listed if e["name"].startswith(document["id"])]

    assert len(executions()) == 1
    # GIVEN the S3 event of the upload, as S3 sent it
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "-docs-" in b["Name"])
    key = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="uploads/")["Contents"] if document["id"] in o["Key"]
    )
    head = s3.head_object(Bucket=bucket, Key=key)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": head["ContentLength"], "eTag": head["ETag"].strip('"')},
        },
    }
    queue = next(u for u in sqs.list_queues()["QueueUrls"] if u.endswith("IngestQueue"))
    # WHEN it is delivered again
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Records": [record]}))
    time.sleep(4)
    # THEN no second execution ran, the document stays READY, and its chunks are in the index once
    assert len(executions()) == 1
    again = api.get(f"{url}/v1/documents/{document['id']}", timeout=30).json()
    assert (again["status"], again["chunks"], again["execution_arn"]) == ("READY", 6, document["execution_arn"])
    only_this = {"document_id": document["id"]}
    hits = _search(api, url, handbook["collection_id"], query="handbook", k=50, mode="vector", filter=only_this)
    hits = hits.json()["data"]
    ids = [h["chunk_id"] for h in hits]
    assert len(ids) == len(set(ids)) == 6


def test_a_corrupt_pdf_ends_failed_with_the_step_and_a_readable_reason(platform: Platform) -> None:
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url)
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40  # a PDF header and nothing a reader can use
    document = _ingest(api, url, collection_id, "broken.pdf", "application/pdf", data)
    assert document["status"] == "FAILED"
    failure = document["failure"]
    assert (failure["step"], failure["error"]) == ("extract", "DocumentUnreadable")
    assert "PDF" in failure["message"] and "Traceback" not in failure["message"]
    # AND nothing was left to read
    content = api.get(f"{url}/v1/documents/{document['id']}/content", timeout=30)
    assert content.status_code == 404 and content.json()["error"]["code"] == "document_not_ready"


def test_an_upload_of_another_size_than_declared_is_refused(platform: Platform) -> None:
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url)
    registered = _register(api, url, collection_id, "notes.txt", "text/plain", b"0123456789")
    # WHEN the client uploads other bytes than it declared (S3 itself refuses this in AWS: the size is signed)
    requests.put(registered["upload"]["url"], data=b"a much longer body than declared", timeout=30)
    document = _wait(api, url, registered["id"])
    assert document["status"] == "FAILED"
    assert document["failure"]["step"] == "upload" and "10 were declared" in document["failure"]["message"]


def test_unsupported_types_and_oversized_documents_are_refused_at_registration(platform: Platform) -> None:
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url)
    exe = {"filename": "a.exe", "content_type": "application/x-msdownload", "size_bytes": 10}
    refused = api.post(f"{url}/v1/collections/{collection_id}/documents", json=exe, timeout=30)
    assert refused.status_code == 400 and "application/pdf" in refused.json()["error"]["message"]
    huge = {"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 10**12}
    too_big = api.post(f"{url}/v1/collections/{collection_id}/documents", json=huge, timeout=30)
    assert too_big.status_code == 400 and too_big.json()["error"]["param"] == "size_bytes"


def test_a_scanned_document_goes_through_textract_and_keeps_its_table(platform: Platform) -> None:
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url, extraction="textract")
    data = text_pdf([["a page"]])  # forced through Textract, which (offline) answers with the injected blocks
    registered = _register(api, url, collection_id, "report.pdf", "application/pdf", data)
    key = registered["upload"]["url"].split("?")[0].split("/", 4)[4]
    injected = requests.post(
        f"{url}/_offline/textract/results", json={"blocks": annual_report().blocks(), "document_key": key}, timeout=30
    )
    assert injected.status_code == 202, injected.text
    _upload(registered, data)
    document = _wait(api, url, registered["id"])
    assert document["status"] == "READY", document["failure"]
    assert (document["extraction_method"], document["pages"]) == ("textract", 3)
    markdown = api.get(f"{url}/v1/documents/{document['id']}/content", timeout=30).text
    assert "| Region | Revenue 2023 | Revenue 2024 |\n| --- | --- | --- |\n| EMEA | 10.5 | 12.0 |" in markdown
    hits = _search(api, url, collection_id, query="revenue by region EMEA", k=1).json()["data"]
    assert hits[0]["page"] == 2


def test_deleting_a_document_removes_its_hits_and_files(platform: Platform) -> None:
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url)
    text = b"# Lighthouse\n\nThe lighthouse keeper polishes the great lens every evening.\n"
    document = _ingest(api, url, collection_id, "lighthouse.md", "text/markdown", text)
    assert document["status"] == "READY", document["failure"]
    assert _search(api, url, collection_id, query="lighthouse keeper lens", mode="lexical").json()["data"]
    # WHEN it is deleted
    assert api.delete(f"{url}/v1/documents/{document['id']}", timeout=30).status_code == 204
    # THEN search finds nothing, the record is gone, and no file of it is left in the bucket
    for mode in ("vector", "lexical", "hybrid"):
        assert _search(api, url, collection_id, query="lighthouse keeper lens", mode=mode).json()["data"] == []
    assert api.get(f"{url}/v1/documents/{document['id']}", timeout=30).status_code == 404
    s3 = platform.aws("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "-docs-" in b["Name"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [k for k in keys if document["id"] in k]


def test_deleting_a_collection_removes_its_documents_and_index(platform: Platform) -> None:
    api, url = _session(platform), platform.url
    collection_id = _collection(api, url)
    document = _ingest(api, url, collection_id, "note.txt", "text/plain", b"Orchids need bright indirect light.\n")
    assert document["status"] == "READY", document["failure"]
    assert api.delete(f"{url}/v1/collections/{collection_id}", timeout=30).status_code == 204
    assert api.get(f"{url}/v1/collections/{collection_id}", timeout=30).status_code == 404
    assert api.get(f"{url}/v1/documents/{document['id']}", timeout=30).status_code == 404
    assert _search(api, url, collection_id, query="orchids").status_code == 404
