"""Where collections and document status records live: the documents table (see template.yaml, DocumentsTable).

  collection     pk=APP#<app>  sk=COLLECTION#<collection_id>
  document       pk=APP#<app>  sk=DOCUMENT#<document_id>       gsi1pk=APP#<app>#COLLECTION#<collection_id>
                                                                gsi1sk=DOCUMENT#<created_at>#<document_id>
                                                                gsi2pk=STATUS#<status>  gsi2sk=<updated_at>#<id>
  textract job   pk=TEXTRACT#<job_id>  sk=JOB                   (the task token that resumes the execution)

Every app-owned key starts with the app id, so a lookup with the caller's app id cannot reach another app's items.
The state machine updates a document's status fields itself (statemachines/ingest.asl.json); this module writes
what the API and the pipeline's functions own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from genai_core.knowledge.chunking import ChunkingConfig
from genai_core.knowledge.models import STEPS, Collection, Document
from genai_core.pagination import checked_start_key

_SER, _DE = TypeSerializer(), TypeDeserializer()
_DOCUMENT_FIELDS = {f.name for f in fields(Document)}


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_key: dict[str, Any] | None


@dataclass(frozen=True)
class TextractJob:
    job_id: str
    task_token: str
    app_id: str
    document_id: str
    collection_id: str
    content_key: str


class KnowledgeRepository(Protocol):
    def create_collection(self, collection: Collection) -> None: ...

    def get_collection(self, app_id: str, collection_id: str) -> Collection | None: ...

    def list_collections(self, app_id: str, limit: int, start: dict[str, Any] | None) -> Page: ...

    def delete_collection(self, app_id: str, collection_id: str) -> None: ...

    def create_document(self, document: Document, expires_at: int) -> None: ...

    def get_document(self, app_id: str, document_id: str) -> Document | None: ...

    def list_documents(self, app_id: str, collection_id: str, limit: int, start: dict[str, Any] | None) -> Page: ...

    def document_ids(self, app_id: str, collection_id: str) -> Iterator[str]: ...

    def mark_queued(self, app_id: str, document_id: str, execution_arn: str, now: str) -> bool: ...

    def record_failure(
        self, app_id: str, document_id: str, error: str, message: str, now: str, step: str | None = None
    ) -> None: ...

    def delete_document(self, app_id: str, document_id: str) -> None: ...

    def put_textract_job(self, job: TextractJob, expires_at: int) -> None: ...

    def get_textract_job(self, job_id: str) -> TextractJob | None: ...

    def delete_textract_job(self, job_id: str) -> None: ...


def _ser(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(_for_dynamo(v)) for k, v in item.items() if v is not None}


def _for_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _for_dynamo(v) for k, v in value.items()}
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    return value


def _de(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_DE.deserialize(v)) for k, v in item.items()}


def _app_key(app_id: str, kind: str, ident: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"APP#{app_id}"}, "sk": {"S": f"{kind}#{ident}"}}


def _collection_from(data: dict[str, Any]) -> Collection:
    return Collection(
        app_id=data["app_id"],
        collection_id=data["collection_id"],
        name=data["name"],
        description=data.get("description"),
        embedding_model=data["embedding_model"],
        chunking=ChunkingConfig.model_validate(data["chunking"]),
        extraction=data["extraction"],
        created_at=data["created_at"],
    )


def _document_from(data: dict[str, Any]) -> Document:
    values = {k: v for k, v in data.items() if k in _DOCUMENT_FIELDS}
    values["started"] = {step: data[f"{step}_started_at"] for step in STEPS if f"{step}_started_at" in data}
    return Document(**values)


def _is_conditional(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoKnowledgeRepository:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    # -- collections ---------------------------------------------------------------------------------------------
    def create_collection(self, collection: Collection) -> None:
        item = {
            "pk": f"APP#{collection.app_id}",
            "sk": f"COLLECTION#{collection.collection_id}",
            "app_id": collection.app_id,
            "collection_id": collection.collection_id,
            "name": collection.name,
            "description": collection.description,
            "embedding_model": collection.embedding_model,
            "chunking": collection.chunking.model_dump(),
            "extraction": collection.extraction,
            "created_at": collection.created_at,
        }
        self.client.put_item(TableName=self.table, Item=_ser(item), ConditionExpression="attribute_not_exists(pk)")

    def get_collection(self, app_id: str, collection_id: str) -> Collection | None:
        item = self.client.get_item(
            TableName=self.table, Key=_app_key(app_id, "COLLECTION", collection_id), ConsistentRead=True
        ).get("Item")
        return _collection_from(_de(item)) if item else None

    def list_collections(self, app_id: str, limit: int, start: dict[str, Any] | None) -> Page:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"APP#{app_id}"}, ":prefix": {"S": "COLLECTION#"}},
            "Limit": limit,
        }
        if start:
            params["ExclusiveStartKey"] = checked_start_key(start, {"pk": f"APP#{app_id}"}, {"sk": "COLLECTION#"})
        answer = self.client.query(**params)
        last = answer.get("LastEvaluatedKey")
        return Page([_collection_from(_de(i)) for i in answer.get("Items", [])], _de(last) if last else None)

    def delete_collection(self, app_id: str, collection_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=_app_key(app_id, "COLLECTION", collection_id))

    # -- documents -----------------------------------------------------------------------------------------------
    def create_document(self, document: Document, expires_at: int) -> None:
        item = {
            "pk": f"APP#{document.app_id}",
            "sk": f"DOCUMENT#{document.document_id}",
            "gsi1pk": f"APP#{document.app_id}#COLLECTION#{document.collection_id}",
            "gsi1sk": f"DOCUMENT#{document.created_at}#{document.document_id}",
            "gsi2pk": f"STATUS#{document.status}",
            "gsi2sk": f"{document.updated_at}#{document.document_id}",
            "app_id": document.app_id,
            "document_id": document.document_id,
            "collection_id": document.collection_id,
            "filename": document.filename,
            "content_type": document.content_type,
            "size_bytes": document.size_bytes,
            "metadata": document.metadata,
            "status": document.status,
            "created_at": document.created_at,
            "updated_at": document.updated_at,
            # A registration whose upload never comes disappears after a while; the trigger removes the expiry.
            "expires_at": expires_at,
        }
        self.client.put_item(TableName=self.table, Item=_ser(item), ConditionExpression="attribute_not_exists(pk)")

    def get_document(self, app_id: str, document_id: str) -> Document | None:
        item = self.client.get_item(
            TableName=self.table, Key=_app_key(app_id, "DOCUMENT", document_id), ConsistentRead=True
        ).get("Item")
        return _document_from(_de(item)) if item else None

    def list_documents(self, app_id: str, collection_id: str, limit: int, start: dict[str, Any] | None) -> Page:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"APP#{app_id}#COLLECTION#{collection_id}"}},
            "ScanIndexForward": False,  # newest first
            "Limit": limit,
        }
        if start:
            owner = {"gsi1pk": f"APP#{app_id}#COLLECTION#{collection_id}", "pk": f"APP#{app_id}"}
            params["ExclusiveStartKey"] = checked_start_key(start, owner, {"sk": "DOCUMENT#", "gsi1sk": ""})
        answer = self.client.query(**params)
        last = answer.get("LastEvaluatedKey")
        return Page([_document_from(_de(i)) for i in answer.get("Items", [])], _de(last) if last else None)

    def document_ids(self, app_id: str, collection_id: str) -> Iterator[str]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"APP#{app_id}#COLLECTION#{collection_id}"}},
            ProjectionExpression="document_id",
        ):
            for item in page.get("Items", []):
                yield item["document_id"]["S"]

    def mark_queued(self, app_id: str, document_id: str, execution_arn: str, now: str) -> bool:
        """QUEUED with its execution; False when the document is gone (deleted before its upload was seen)."""
        return self._set_status(
            app_id,
            document_id,
            "QUEUED",
            now,
            "execution_arn = :arn REMOVE expires_at, #error, #cause, failed_step, #step, finished_at, "
            "extract_started_at, chunk_started_at, index_started_at",
            {":arn": execution_arn},
        )

    def record_failure(
        self, app_id: str, document_id: str, error: str, message: str, now: str, step: str | None = None
    ) -> None:
        """FAILED, with the failed `step` (default: the step the record was in); a missing record stays missing."""
        self._set_status(
            app_id,
            document_id,
            "FAILED",
            now,
            "failed_step = if_not_exists(#step, :step), #error = :error, #cause = :cause, finished_at = :now",
            {":step": step or "unknown", ":error": error, ":cause": message},
        )

    def _set_status(
        self, app_id: str, document_id: str, status: str, now: str, more: str, values: dict[str, str]
    ) -> bool:
        """One conditional update of an existing record's status (and its gsi2 keys) plus `more`; False if gone."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_app_key(app_id, "DOCUMENT", document_id),
                ConditionExpression="attribute_exists(pk)",
                UpdateExpression=(
                    "SET #status = :status, updated_at = :now, gsi2pk = :gsi2pk, gsi2sk = :gsi2sk, " + more
                ),
                ExpressionAttributeNames={
                    name: name[1:]
                    for name in ("#status", "#error", "#cause", "#step")
                    if name in more or name == "#status"
                },
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":now": {"S": now},
                    ":gsi2pk": {"S": f"STATUS#{status}"},
                    ":gsi2sk": {"S": f"{now}#{document_id}"},
                    **{key: {"S": value} for key, value in values.items()},
                },
            )
        except ClientError as exc:
            if _is_conditional(exc):
                return False
            raise
        return True

    def delete_document(self, app_id: str, document_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=_app_key(app_id, "DOCUMENT", document_id))

    # -- textract jobs -------------------------------------------------------------------------------------------
    def put_textract_job(self, job: TextractJob, expires_at: int) -> None:
        item = {
            "pk": f"TEXTRACT#{job.job_id}",
            "sk": "JOB",
            "task_token": job.task_token,
            "app_id": job.app_id,
            "document_id": job.document_id,
            "collection_id": job.collection_id,
            "content_key": job.content_key,
            "expires_at": expires_at,
        }
        self.client.put_item(TableName=self.table, Item=_ser(item))

    def get_textract_job(self, job_id: str) -> TextractJob | None:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": f"TEXTRACT#{job_id}"}, "sk": {"S": "JOB"}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = _de(item)
        return TextractJob(
            job_id=job_id,
            task_token=data["task_token"],
            app_id=data["app_id"],
            document_id=data["document_id"],
            collection_id=data["collection_id"],
            content_key=data["content_key"],
        )

    def delete_textract_job(self, job_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": f"TEXTRACT#{job_id}"}, "sk": {"S": "JOB"}})
