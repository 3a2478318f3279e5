"""The offline runtime's cheaper TransactWriteItems backup in moto: a failed transaction still leaves nothing
half-written, a successful one applies everything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from offline import moto_transactions


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    moto_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="ranged",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="flat",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(50):
            client.put_item(TableName="ranged", Item={"pk": {"S": "p"}, "sk": {"S": f"{i:03}"}, "n": {"N": "0"}})
        client.put_item(TableName="flat", Item={"id": {"S": "a"}, "n": {"N": "0"}})
        yield client


def _items(client: Any) -> dict[str, Any]:
    ranged = client.scan(TableName="ranged")["Items"]
    flat = client.scan(TableName="flat")["Items"]
    return {
        **{f"ranged:{i['pk']['S']}/{i['sk']['S']}": i.get("n", {}).get("N") for i in ranged},
        **{f"flat:{i['id']['S']}": i.get("n", {}).get("N") for i in flat},
    }


def _transaction(fail: bool) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": "ranged",
                "Key": {"pk": {"S": "p"}, "sk": {"S": "001"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "new"}, "sk": {"S": "x"}, "n": {"N": "9"}}}},
        {"Delete": {"TableName": "ranged", "Key": {"pk": {"S": "p"}, "sk": {"S": "002"}}}},
        {
            "Update": {
                "TableName": "flat",
                "Key": {"id": {"S": "a"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": "ranged",
                "Key": {"pk": {"S": "p"}, "sk": {"S": "003"}},
                "ConditionExpression": "n = :want",
                "ExpressionAttributeValues": {":want": {"N": "1" if fail else "0"}},
            }
        },
    ]


def test_a_failed_transaction_leaves_every_item_as_it_was(ddb: Any) -> None:
    before = _items(ddb)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=_transaction(fail=True))
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(ddb) == before


def test_a_successful_transaction_applies_every_change(ddb: Any) -> None:
    before = _items(ddb)
    ddb.transact_write_items(TransactItems=_transaction(fail=False))
    after = _items(ddb)
    assert after["ranged:p/001"] == "1" and after["flat:a"] == "1" and after["ranged:new/x"] == "9"
    assert "ranged:p/002" not in after
    untouched = {k: v for k, v in before.items() if k not in ("ranged:p/001", "ranged:p/002", "flat:a")}
    assert {k: after[k] for k in untouched} == untouched
