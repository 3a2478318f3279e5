"""Where prompts live: a small storage interface and its DynamoDB implementation.

Layout of the prompts table (`pk`/`sk` strings):
- head of a prompt: `pk=APP#<app>`, `sk=PROMPT#<name>`; latest version number, labels (label -> version), an
  `incarnation` id that changes when a prompt is deleted and created again;
- version `n`: `pk=APP#<app>#PROMPT#<name>#<incarnation>`, `sk=VERSION#<n, 10 digits>`; the version as JSON.
Every key starts with the owning app id, so one app's reads can never reach another app's items. A version and
the head that counts it are written in one transaction guarded by the head's previous state, so concurrent saves
never overwrite each other and nothing half-written is left when one of them loses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from genai_core.errors import InvalidRequest
from genai_core.prompts.models import PromptVersion

T = TypeVar("T")
_SER, _DE = TypeSerializer(), TypeDeserializer()


@dataclass(frozen=True)
class Head:
    name: str
    incarnation: str
    latest_version: int
    labels: dict[str, int]
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_key: dict[str, Any] | None


class LabelTargetMissing(Exception):
    """The version a label should point at does not exist."""


class PromptRepository(Protocol):
    def get_head(self, app_id: str, name: str) -> Head | None: ...

    def save_version(
        self, app_id: str, version: PromptVersion, previous: Head | None, labels: list[str]
    ) -> Head | None: ...

    def get_version(self, app_id: str, head: Head, number: int) -> PromptVersion | None: ...

    def list_heads(self, app_id: str, prefix: str, limit: int, start: dict[str, Any] | None) -> Page[Head]: ...

    def list_versions(
        self, app_id: str, head: Head, limit: int, start: dict[str, Any] | None
    ) -> Page[PromptVersion]: ...

    def set_label(self, app_id: str, head: Head, label: str, version: int) -> Head | None: ...

    def delete_label(self, app_id: str, head: Head, label: str) -> Head | None: ...

    def delete_prompt(self, app_id: str, head: Head) -> bool: ...


def _head_key(app_id: str, name: str) -> dict[str, str]:
    return {"pk": f"APP#{app_id}", "sk": f"PROMPT#{name}"}


def _versions_pk(app_id: str, head: Head) -> str:
    return f"APP#{app_id}#PROMPT#{head.name}#{head.incarnation}"


def _version_key(app_id: str, head: Head, number: int) -> dict[str, str]:
    return {"pk": _versions_pk(app_id, head), "sk": f"VERSION#{number:010d}"}


def _ser(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in item.items() if v is not None}


def _de(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _DE.deserialize(v) for k, v in item.items()}


def _head_from_item(item: dict[str, Any]) -> Head:
    data = _de(item)
    return Head(
        name=data["name"],
        incarnation=data["incarnation"],
        latest_version=int(data["latest_version"]),
        labels={k: int(v) for k, v in (data.get("labels") or {}).items()},
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        description=data.get("description"),
        tags=tuple(data.get("tags") or ()),
    )


def _cancelled(exc: ClientError) -> list[str]:
    """Reason codes of a cancelled transaction, one per item ("None" where that item was fine)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        raise exc
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]


class DynamoPromptRepository:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def get_head(self, app_id: str, name: str) -> Head | None:
        found = self.client.get_item(TableName=self.table, Key=_ser(_head_key(app_id, name)), ConsistentRead=True)
        return _head_from_item(found["Item"]) if "Item" in found else None

    def save_version(
        self, app_id: str, version: PromptVersion, previous: Head | None, labels: list[str]
    ) -> Head | None:
        """Write `version` (numbered previous.latest_version + 1) and its head; None when another save won."""
        now = version.created_at
        if previous is None:
            head = Head(
                name=version.name,
                incarnation=uuid.uuid4().hex[:12],
                latest_version=version.version,
                labels=dict.fromkeys(labels, version.version),
                created_at=now,
                updated_at=now,
                description=version.description,
                tags=tuple(version.tags),
            )
            head_op = {
                "Put": {
                    "TableName": self.table,
                    "Item": _ser({**_head_key(app_id, version.name), **_head_attributes(head)}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        else:
            head = replace(
                previous,
                latest_version=version.version,
                labels={**previous.labels, **dict.fromkeys(labels, version.version)},
                updated_at=now,
                description=version.description,
                tags=tuple(version.tags),
            )
            names: dict[str, str] = {}
            values: dict[str, Any] = {
                ":n": version.version,
                ":prev": previous.latest_version,
                ":inc": previous.incarnation,
                ":now": now.isoformat(),
                ":tags": list(version.tags),
            }
            update = "SET latest_version = :n, updated_at = :now, tags = :tags"
            for i, label in enumerate(labels):
                names.update({"#labels": "labels", f"#l{i}": label})
                update += f", #labels.#l{i} = :n"
            if version.description is None:
                update += " REMOVE description"
            else:
                update += ", description = :desc"
                values[":desc"] = version.description
            head_op = {
                "Update": {
                    "TableName": self.table,
                    "Key": _ser(_head_key(app_id, version.name)),
                    "UpdateExpression": update,
                    "ConditionExpression": "latest_version = :prev AND incarnation = :inc",
                    "ExpressionAttributeValues": _ser(values),
                    **({"ExpressionAttributeNames": names} if names else {}),
                }
            }
        version_op = {
            "Put": {
                "TableName": self.table,
                "Item": _ser(
                    {**_version_key(app_id, head, version.version), "doc": version.model_dump_json(exclude_none=True)}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self.client.transact_write_items(TransactItems=[head_op, version_op])
        except ClientError as exc:
            _cancelled(exc)
            return None
        return head

    def get_version(self, app_id: str, head: Head, number: int) -> PromptVersion | None:
        found = self.client.get_item(TableName=self.table, Key=_ser(_version_key(app_id, head, number)))
        if "Item" not in found:
            return None
        return PromptVersion.model_validate_json(_de(found["Item"])["doc"])

    def list_heads(self, app_id: str, prefix: str, limit: int, start: dict[str, Any] | None) -> Page[Head]:
        page = self._query(f"APP#{app_id}", f"PROMPT#{prefix}", limit, start, forward=True)
        return Page([_head_from_item(i) for i in page.items], page.next_key)

    def list_versions(self, app_id: str, head: Head, limit: int, start: dict[str, Any] | None) -> Page[PromptVersion]:
        page = self._query(_versions_pk(app_id, head), "VERSION#", limit, start, forward=False)
        return Page([PromptVersion.model_validate_json(_de(i)["doc"]) for i in page.items], page.next_key)

    def _query(
        self, pk: str, sk_prefix: str, limit: int, start: dict[str, Any] | None, *, forward: bool
    ) -> Page[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": _ser({":pk": pk, ":prefix": sk_prefix}),
            "Limit": limit,
            "ScanIndexForward": forward,
        }
        if start:
            if start.get("pk") != pk or not str(start.get("sk", "")).startswith(sk_prefix):
                raise InvalidRequest("next_token does not belong to this listing", param="next_token")
            args["ExclusiveStartKey"] = _ser(start)
        result = self.client.query(**args)
        last = result.get("LastEvaluatedKey")
        return Page(result.get("Items", []), _de(last) if last else None)

    def set_label(self, app_id: str, head: Head, label: str, version: int) -> Head | None:
        """Point `label` at `version`; None when the prompt changed incarnation (deleted meanwhile)."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _ser(_version_key(app_id, head, version)),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _ser(_head_key(app_id, head.name)),
                            "UpdateExpression": "SET #labels.#label = :v, updated_at = :now",
                            "ConditionExpression": "incarnation = :inc",
                            "ExpressionAttributeNames": {"#labels": "labels", "#label": label},
                            "ExpressionAttributeValues": _ser(
                                {":v": version, ":inc": head.incarnation, ":now": _now().isoformat()}
                            ),
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = _cancelled(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise LabelTargetMissing(label) from None
            return None
        return replace(head, labels={**head.labels, label: version})

    def delete_label(self, app_id: str, head: Head, label: str) -> Head | None:
        """Remove `label`; None when the prompt has no such label (or was deleted meanwhile)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_ser(_head_key(app_id, head.name)),
                UpdateExpression="REMOVE #labels.#label SET updated_at = :now",
                ConditionExpression="incarnation = :inc AND attribute_exists(#labels.#label)",
                ExpressionAttributeNames={"#labels": "labels", "#label": label},
                ExpressionAttributeValues=_ser({":inc": head.incarnation, ":now": _now().isoformat()}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return replace(head, labels={k: v for k, v in head.labels.items() if k != label})

    def delete_prompt(self, app_id: str, head: Head) -> bool:
        """Delete the head (the prompt is gone at once), then its versions, which nothing can reach any more."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=_ser(_head_key(app_id, head.name)),
                ConditionExpression="incarnation = :inc",
                ExpressionAttributeValues=_ser({":inc": head.incarnation}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        start: dict[str, Any] | None = None
        while True:
            page = self._query(_versions_pk(app_id, head), "VERSION#", 25, start, forward=True)
            if page.items:
                requests = [{"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in page.items]
                pending: dict[str, Any] = {self.table: requests}
                while pending:
                    pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not page.next_key:
                return True
            start = page.next_key


def _head_attributes(head: Head) -> dict[str, Any]:
    return {
        "name": head.name,
        "incarnation": head.incarnation,
        "latest_version": head.latest_version,
        "labels": {k: Decimal(v) for k, v in head.labels.items()},
        "created_at": head.created_at.isoformat(),
        "updated_at": head.updated_at.isoformat(),
        "description": head.description,
        "tags": list(head.tags),
    }


def _now() -> datetime:
    return datetime.now(UTC)
