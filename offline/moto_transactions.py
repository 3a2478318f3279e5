"""Cheaper DynamoDB transactions in the offline runtime's moto.

moto backs up every table a TransactWriteItems writes with `copy.deepcopy(table)`, so that it can roll back when a
condition fails: a cost that grows with the table. The gateway writes its usage table in a transaction on every call,
so a long `make run` session grew slower call by call (a chat call took 15 ms after 100 calls, 27 ms after 500).

The runtime applies DynamoDB requests one at a time (`persistence.SerializedRequests`), so a backup only needs what
this transaction can change: the table object and its partition map are copied shallowly, and only the items the
transaction names are copied deeply (an update changes an item in place). Rolling back puts that backup in place,
as moto does with its full copy; every other item is the same object in both.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

_pending = threading.local()


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    # moto.dynamodb.models: `import copy` at module level, used by transact_write_items' backup (and one deepcopy
    # of an item elsewhere, which the shim passes through); DynamoDBBackend.transact_write_items(transact_items).
    from moto.dynamodb import models

    if getattr(models.DynamoDBBackend.transact_write_items, "_offline_patched", False):
        return
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _pending.keys = _keys_by_table(self, transact_items)
        try:
            original(self, transact_items)
        finally:
            _pending.keys = None

    transact_write_items._offline_patched = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = _CopyShim()  # type: ignore[assignment]


class _CopyShim:
    """The `copy` module, except for the backup of a table inside a patched transaction."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        keys = getattr(_pending, "keys", None)
        name = getattr(value, "name", None)
        if keys is not None and name in keys and hasattr(value, "items") and hasattr(value, "hash_key_attr"):
            return _backup(value, keys[name])
        return copy.deepcopy(value, memo)


def _keys_by_table(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, set[tuple[Any, Any]]]:
    """(hash, range) of every item the transaction names, per table, as moto's Table keys its items."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys: dict[str, set[tuple[Any, Any]]] = defaultdict(set)
    for item in transact_items:
        _, op = next(iter(item.items()))
        table = backend.tables.get(op.get("TableName"))
        attributes = op.get("Key") or op.get("Item") or {}
        if table is None or table.hash_key_attr not in attributes:
            continue
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_attr = table.range_key_attr
        range_key = DynamoType(attributes[range_attr]) if range_attr and range_attr in attributes else None
        keys[table.name].add((hash_key, range_key))
    return keys


def _backup(table: Any, keys: set[tuple[Any, Any]]) -> Any:
    # moto's Table.items: defaultdict(dict), hash -> Item, or hash -> {range -> Item} when the table has a range key.
    clone = copy.copy(table)
    clone.items = defaultdict(dict, table.items)
    ranges: dict[Any, list[Any]] = defaultdict(list)
    for hash_key, range_key in keys:
        ranges[hash_key].append(range_key)
    for hash_key, range_keys in ranges.items():
        if hash_key not in table.items:
            continue
        if not table.range_key_attr:
            clone.items[hash_key] = copy.deepcopy(table.items[hash_key])
            continue
        partition = dict(table.items[hash_key])
        for range_key in range_keys:
            if range_key in partition:
                partition[range_key] = copy.deepcopy(partition[range_key])
        clone.items[hash_key] = partition
    return clone
