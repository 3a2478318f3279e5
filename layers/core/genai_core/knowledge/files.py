"""The documents bucket: uploads, extracted markdown and chunk batches, under keys that start with the owning app.

  uploads/<app>/<collection>/<document>/source          what the client PUT (announced on IngestQueue)
  documents/<app>/<collection>/<document>/content.md    the extracted markdown
  documents/<app>/<collection>/<document>/chunks/NNNNN.json   chunk batches, the embed+index Map's items

Deleting a document removes both prefixes; deleting a collection removes both collection prefixes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError


def upload_key(app_id: str, collection_id: str, document_id: str) -> str:
    return f"uploads/{app_id}/{collection_id}/{document_id}/source"


def parse_upload_key(key: str) -> tuple[str, str, str] | None:
    """(app, collection, document) of an upload key; None for any other key."""
    parts = key.split("/")
    if len(parts) != 5 or parts[0] != "uploads" or parts[4] != "source" or not all(parts[1:4]):
        return None
    return parts[1], parts[2], parts[3]


def document_prefix(app_id: str, collection_id: str, document_id: str) -> str:
    return f"documents/{app_id}/{collection_id}/{document_id}/"


def content_key(app_id: str, collection_id: str, document_id: str) -> str:
    return document_prefix(app_id, collection_id, document_id) + "content.md"


def batch_key(app_id: str, collection_id: str, document_id: str, batch: int) -> str:
    return document_prefix(app_id, collection_id, document_id) + f"chunks/{batch:05d}.json"


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    content_type: str | None


class DocumentFiles(Protocol):
    bucket: str

    def presign_upload(self, key: str, content_type: str, size: int, expires_in: int) -> str: ...

    def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> str: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def read(self, key: str) -> bytes: ...

    def write(self, key: str, body: bytes, content_type: str) -> None: ...

    def read_json(self, key: str) -> Any: ...

    def write_json(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefixes(self, prefixes: Sequence[str]) -> int: ...


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


class S3DocumentFiles:
    def __init__(self, client: Any, presign_client: Any, bucket: str) -> None:
        self.client = client
        self.presign_client = presign_client  # SigV4 signing, so the size and type headers are part of the URL
        self.bucket = bucket

    def presign_upload(self, key: str, content_type: str, size: int, expires_in: int) -> str:
        url: str = self.presign_client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
            ExpiresIn=expires_in,
        )
        return url

    def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'inline; filename="{filename}"'
        url: str = self.presign_client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url

    def head(self, key: str) -> ObjectInfo | None:
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return ObjectInfo(int(answer["ContentLength"]), answer.get("ETag", "").strip('"'), answer.get("ContentType"))

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def write(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def read_json(self, key: str) -> Any:
        return json.loads(self.read(key))

    def write_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        self.write(key, body, "application/json")

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefixes(self, prefixes: Sequence[str]) -> int:
        """Remove every object under the prefixes (1,000 per request); how many were removed."""
        removed = 0
        for keys in _batches(self._keys(prefixes), 1000):
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
            errors = answer.get("Errors") or []
            if errors:
                raise RuntimeError(f"could not delete {len(errors)} object(s), e.g. {errors[0].get('Key')}")
            removed += len(keys)
        return removed

    def _keys(self, prefixes: Sequence[str]) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for prefix in prefixes:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
