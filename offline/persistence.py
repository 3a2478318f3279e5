"""Snapshots of the offline runtime's moto state, so that state survives restarts.

moto keeps everything in memory and its backends cannot be pickled (locks, RSA keys). This module writes the state
that matters into a folder and puts it back after the next start has re-created the resources from
``template.yaml``:

- DynamoDB: every item of every table (one JSON Lines file per table, DynamoDB JSON, binary values base64).
  Tables are not created here: the template re-creates them. Snapshot tables that no longer exist are skipped.
- S3: every object (latest version) of every bucket, with content type, user metadata, the other content headers
  and tags. Object bodies are real files under ``s3/<bucket>/blobs/``; ``s3/<bucket>/objects.json`` maps keys to
  them. Buckets that no longer exist are skipped.
- Secrets Manager: every secret with its current value, description, tags and ARN (previous versions are not kept).
- Cognito user pools, matched by pool name: the pool id and ARN, app clients (same ClientId, ClientSecret and
  settings), users (sub, attributes, enabled flag, status, password), groups, memberships, resource servers,
  domains, and moto's issued-token registries (so refresh tokens keep working). Pool settings, and resource
  servers/groups/domains that already exist, come from the template (template wins); clients come from the snapshot.

Not persisted: SQS messages, SNS, Step Functions executions, Lambda, Textract jobs, identity providers, Cognito
pools/tables/buckets created at runtime that the template does not define.

How it works: boto3 calls against the moto endpoint wherever the AWS API can read and write the state; moto's
in-process backends only where it cannot (pool ids, client ids and secrets, user passwords and subs, secret ARNs).
The runtime must therefore run moto in the same process (``MotoServer`` below does that). Every access to a moto
internal is in a ``_moto_*`` function that names the attribute it uses.

Layout of the folder::

    CURRENT                        name of the current snapshot directory (replaced atomically)
    snapshot-<utc time>/           one complete snapshot
        snapshot.json              format version, time, region, account
        dynamodb/<table>.jsonl
        s3/<bucket>/objects.json, s3/<bucket>/blobs/<n>
        secretsmanager/secrets.json
        cognito-idp/user-pools.json
    .tmp-<random>/                 a save in progress (removed when it fails or at the next save)

A save builds a new snapshot in a temporary directory, renames it into place and only then switches ``CURRENT``,
so a crash or an error mid-save leaves the previous snapshot intact. ``save_if_dirty`` re-dumps only the services
that received mutating requests (see ``DirtyTracker``) and hard-links the other services' files from the previous
snapshot; S3 bodies of unchanged objects are hard-linked too. A snapshot is not a point-in-time copy across
services while requests are in flight; the next save catches up.

Usage in the runtime::

    tracker = DirtyTracker()
    server = start_moto(port=0, tracker=tracker)
    create_resources_from_template(server.url)          # the runtime's own code
    store = StateStore(Path(".local/aws"), server.url, region, tracker=tracker)
    report = store.restore()                             # then read pool ids etc. (report.user_pool_ids)
    # background thread: every ~2 s store.save_if_dirty(); at shutdown: store.save_if_dirty(); server.stop()
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
FORMAT_VERSION = 1
PERSISTED_SERVICES: tuple[str, ...] = ("dynamodb", "s3", "secretsmanager", "cognito-idp")
ALL_SERVICES = "*"  # marker for "a mutating request whose service could not be identified"

_CURRENT_FILE = "CURRENT"
_SNAPSHOT_PREFIX = "snapshot-"
_TMP_PREFIX = ".tmp-"

JsonDict = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# Dirty tracking: a WSGI middleware in front of moto's app
# ---------------------------------------------------------------------------------------------------------------

# Actions with these name prefixes only read (X-Amz-Target protocols: DynamoDB, Secrets Manager, Cognito, ...).
_READ_ACTION_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Scan",
    "Query",
    "BatchGet",
    "TransactGet",
    "AdminGet",
    "AdminList",
)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Service of an X-Amz-Target prefix, for requests without a SigV4 credential scope.
_TARGET_PREFIX_SERVICES = {
    "DynamoDB_": "dynamodb",
    "DynamoDBStreams_": "dynamodb",
    "secretsmanager": "secretsmanager",
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AmazonSQS": "sqs",
    "AWSStepFunctions": "states",
}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


def _service_and_mutation(environ: WSGIEnvironment) -> tuple[str | None, bool]:
    """(service name from the request, whether the request may change state)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    service: str | None = None

    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    match = _CREDENTIAL_SCOPE.search(authorization)
    if match:
        service = match.group(1)
    elif "X-Amz-Credential" in query:  # SigV4 presigned URL: the credential scope is in the query string
        parts = query["X-Amz-Credential"][0].split("/")
        if len(parts) == 5 and parts[4] == "aws4_request":
            service = parts[3]
    elif authorization.startswith("AWS ") or "AWSAccessKeyId" in query:  # SigV2: only S3 still uses it
        service = "s3"
    if service is None and target:
        service = next((svc for prefix, svc in _TARGET_PREFIX_SERVICES.items() if target.startswith(prefix)), None)

    if target:
        action = target.rsplit(".", 1)[-1]
        return service, not action.startswith(_READ_ACTION_PREFIXES)
    return service, method not in _READ_METHODS


class DirtyTracker:
    """WSGI middleware that records which AWS services received a mutating request.

    The service comes from the SigV4 credential scope (``Authorization`` header or presigned ``X-Amz-Credential``),
    is S3 for SigV2 signatures (header or presigned ``AWSAccessKeyId``), else comes from the ``X-Amz-Target``
    prefix. A request mutates unless its ``X-Amz-Target`` action starts with a read prefix (Get, List, Describe,
    Scan, Query, ...) or, without a target (S3 and other REST services), its method is GET/HEAD/OPTIONS. Mutating
    requests of an unknown service (e.g. ``/moto-api/reset``) mark ``ALL_SERVICES``.
    Services are marked after moto has handled the request, so a save that clears the marks never misses a write.

    Writes that bypass HTTP (code that changes moto's backends in-process) must call ``mark`` themselves.
    """

    def __init__(self, app: WSGIApplication | None = None) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._dirty: set[str] = set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            raise RuntimeError("DirtyTracker has no app to wrap")
        response = self.app(environ, start_response)
        service, mutating = _service_and_mutation(environ)
        if mutating:
            self.mark(service or ALL_SERVICES)
        return response

    def mark(self, *services: str) -> None:
        with self._lock:
            self._dirty.update(services)

    def dirty(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._dirty)

    def take(self) -> frozenset[str]:
        """Return the marked services and clear them, atomically."""
        with self._lock:
            taken = frozenset(self._dirty)
            self._dirty.clear()
            return taken

    def clear(self) -> None:
        with self._lock:
            self._dirty.clear()


class SerializedRequests:
    """WSGI middleware applying the requests of some services (DynamoDB) one at a time.

    moto serves requests on many threads and evaluates conditional writes and transactions as check-then-apply in
    Python, so two concurrent conditional writes can both pass their condition. DynamoDB makes each of them atomic;
    serializing DynamoDB's requests gives the local emulation the same guarantee. Reads are serialized too: moto
    copies items while answering (ReturnValues, GetItem), and a copy taken while another thread writes the same
    item fails with "dictionary changed size during iteration" (seen with the gateway's concurrent limit checks).
    """

    def __init__(self, app: WSGIApplication, services: frozenset[str] = frozenset({"dynamodb"})) -> None:
        self.app = app
        self.services = services
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        service, _ = _service_and_mutation(environ)
        if service in self.services:
            with self._lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class MotoServer:
    """moto's server app on a background thread, like ``moto.server.ThreadedMotoServer``, with a tracker in front.

    ``port=0`` picks a free port. The runtime should set ``MOTO_PORT`` to ``server.port`` (Step Functions tasks call
    back into moto through it).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tracker: DirtyTracker | None = None) -> None:
        self.host = host
        self._requested_port = port
        self.tracker = tracker
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # The same wiring as moto.moto_server.threaded_moto_server.ThreadedMotoServer._server_entry.
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        from offline import moto_cognito_secrets, moto_transactions

        moto_transactions.install()  # relies on SerializedRequests below
        moto_cognito_secrets.install()

        app: WSGIApplication = SerializedRequests(DomainDispatcherApplication(create_backend_app))
        if self.tracker is not None:
            self.tracker.app = app
            app = self.tracker
        self._server = make_server(
            self.host, self._requested_port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("MotoServer is not started")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None


def start_moto(port: int = 0, tracker: DirtyTracker | None = None, host: str = "127.0.0.1") -> MotoServer:
    """Start moto in this process, with ``tracker`` (if given) in front of its WSGI app."""
    server = MotoServer(host=host, port=port, tracker=tracker)
    server.start()
    return server


# ---------------------------------------------------------------------------------------------------------------
# moto internals. Every access to moto's in-process state is below; each names the attribute it relies on.
# ---------------------------------------------------------------------------------------------------------------


def _moto_cognito_backend(account_id: str, region: str) -> Any:
    # moto.cognitoidp.models.cognitoidp_backends[account_id][region] -> CognitoIdpBackend
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[account_id][region]


def _moto_user_pool(account_id: str, region: str, pool_id: str) -> Any:
    # CognitoIdpBackend.user_pools: dict[pool id, CognitoIdpUserPool]
    return _moto_cognito_backend(account_id, region).user_pools[pool_id]


def _moto_rekey_user_pool(account_id: str, region: str, current_id: str, wanted_id: str) -> None:
    """Give a user pool back its previous id: re-key the backend dict, fix the ARN and every child's pool id."""
    backend = _moto_cognito_backend(account_id, region)
    # CognitoIdpBackend.user_pools: dict keyed by CognitoIdpUserPool.id
    if wanted_id in backend.user_pools:
        raise ValueError(f"user pool id {wanted_id} is already taken")
    pool = backend.user_pools.pop(current_id)
    # CognitoIdpUserPool.id and .arn ("arn:...:userpool/<id>"); the JWT "iss" claim is derived from .id
    pool.id = wanted_id
    pool.arn = f"{pool.arn.rsplit('/', 1)[0]}/{wanted_id}"
    backend.user_pools[wanted_id] = pool
    # CognitoIdpUserPool.clients/groups/users/resource_servers values all carry .user_pool_id
    for children in (pool.clients, pool.groups, pool.users, pool.resource_servers):
        for child in children.values():
            child.user_pool_id = wanted_id
    # CognitoIdpBackend.user_pool_domains: dict[domain, CognitoIdpUserPoolDomain(.user_pool_id)]
    for domain in backend.user_pool_domains.values():
        if domain.user_pool_id == current_id:
            domain.user_pool_id = wanted_id


def _moto_rekey_client(pool: Any, current_id: str, wanted_id: str, secret: str | None) -> None:
    """Give an app client back its previous ClientId and ClientSecret."""
    # CognitoIdpUserPool.clients: dict[client id, CognitoIdpUserPoolClient(.id, .secret)]
    if wanted_id != current_id and wanted_id in pool.clients:
        raise ValueError(f"client id {wanted_id} is already taken")
    client = pool.clients.pop(current_id)
    client.id = wanted_id
    if secret is not None:
        client.secret = secret
    pool.clients[wanted_id] = client


def _moto_read_users(pool: Any) -> list[JsonDict]:
    """Users with what the API cannot return: password and the ``sub`` (moto's user id)."""
    users = []
    # CognitoIdpUserPool.users: dict[username, CognitoIdpUser] (copied first: requests may change it meanwhile)
    for user in list(pool.users.values()):
        users.append(
            {
                "username": user.username,
                "sub": user.id,
                "password": user.password,
                "status": str(user.status.value if hasattr(user.status, "value") else user.status),
                "enabled": user.enabled,
                "attributes": list(user.attributes),
                "sms_mfa_enabled": user.sms_mfa_enabled,
                "software_token_mfa_enabled": user.software_token_mfa_enabled,
                "token_verified": user.token_verified,
                "preferred_mfa_setting": user.preferred_mfa_setting,
                "create_date": user.create_date.isoformat(),
                "last_modified_date": user.last_modified_date.isoformat(),
            }
        )
    return users


def _moto_put_user(pool: Any, record: JsonDict) -> None:
    """Create (or replace) a user with its previous sub, password, status and flags."""
    # moto.cognitoidp.models.CognitoIdpUser(user_pool_id, username, password, status, attributes);
    # UserStatus members are compared by identity in moto, so the status must be the enum member.
    from moto.cognitoidp.models import CognitoIdpUser, UserStatus

    previous = pool.users.get(record["username"])
    if previous is not None:  # CognitoIdpUser.groups <-> CognitoIdpGroup.users are linked both ways
        for group in previous.groups:
            group.users.discard(previous)
    user = CognitoIdpUser(pool.id, record["username"], record["password"], UserStatus(record["status"]), [])
    user.id = record["sub"]
    user.attributes = []
    user.update_attributes(record["attributes"])
    user.enabled = record["enabled"]
    user.sms_mfa_enabled = record["sms_mfa_enabled"]
    user.software_token_mfa_enabled = record["software_token_mfa_enabled"]
    user.token_verified = record["token_verified"]
    user.preferred_mfa_setting = record["preferred_mfa_setting"]
    user.create_date = datetime.fromisoformat(record["create_date"])
    user.last_modified_date = datetime.fromisoformat(record["last_modified_date"])
    pool.users[user.username] = user


def _moto_read_tokens(pool: Any) -> JsonDict:
    # CognitoIdpUserPool.refresh_tokens / access_tokens / id_tokens: dict[token, tuple[...] | None]
    return {
        "refresh_tokens": {k: list(v) if v else None for k, v in dict(pool.refresh_tokens).items()},
        "access_tokens": {k: list(v) for k, v in dict(pool.access_tokens).items()},
        "id_tokens": {k: list(v) for k, v in dict(pool.id_tokens).items()},
    }


def _moto_put_tokens(pool: Any, tokens: JsonDict) -> None:
    # CognitoIdpUserPool.refresh_tokens / access_tokens / id_tokens (values are tuples in moto)
    pool.refresh_tokens.update({k: tuple(v) if v else None for k, v in tokens.get("refresh_tokens", {}).items()})
    pool.access_tokens.update({k: tuple(v) for k, v in tokens.get("access_tokens", {}).items()})
    pool.id_tokens.update({k: tuple(v) for k, v in tokens.get("id_tokens", {}).items()})


def _moto_set_secret_arn(account_id: str, region: str, name: str, arn: str) -> None:
    # moto.secretsmanager.models.secretsmanager_backends[account][region].secrets[name] -> FakeSecret(.arn);
    # SecretsStore is keyed by name and finds secrets by .name or .arn.
    from moto.secretsmanager.models import secretsmanager_backends

    secretsmanager_backends[account_id][region].secrets[name].arn = arn


# ---------------------------------------------------------------------------------------------------------------
# File helpers
# ---------------------------------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (snapshots never change files in place), copying if links fail."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=lambda s, t: _link_or_copy(Path(s), Path(t)))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


# ---------------------------------------------------------------------------------------------------------------
# Per-service state
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    """What ``StateStore.restore`` put back."""

    snapshot: str | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    user_pool_ids: dict[str, str] = field(default_factory=dict)  # pool name -> its (restored) id
    rekeyed_user_pools: dict[str, str] = field(default_factory=dict)  # id from the fresh start -> restored id
    skipped: list[str] = field(default_factory=list)

    def add(self, service: str, what: str, count: int = 1) -> None:
        per_service = self.counts.setdefault(service, {})
        per_service[what] = per_service.get(what, 0) + count


class _ServiceState(Protocol):
    name: str

    def save(self, target: Path, previous: Path | None) -> None: ...

    def restore(self, source: Path, report: RestoreReport) -> None: ...


def _encode_dynamodb(value: Any) -> Any:
    """DynamoDB JSON (low-level client form) -> JSON-safe: binary values become base64 strings."""
    if isinstance(value, dict):
        encoded: JsonDict = {}
        for key, inner in value.items():
            if key == "B":
                encoded[key] = _b64(inner)
            elif key == "BS":
                encoded[key] = [_b64(item) for item in inner]
            elif key == "M":
                encoded[key] = {k: _encode_dynamodb(v) for k, v in inner.items()}
            elif key == "L":
                encoded[key] = [_encode_dynamodb(v) for v in inner]
            else:
                encoded[key] = inner
        return encoded
    return value


def _decode_dynamodb(value: Any) -> Any:
    if isinstance(value, dict):
        decoded: JsonDict = {}
        for key, inner in value.items():
            if key == "B":
                decoded[key] = _unb64(inner)
            elif key == "BS":
                decoded[key] = [_unb64(item) for item in inner]
            elif key == "M":
                decoded[key] = {k: _decode_dynamodb(v) for k, v in inner.items()}
            elif key == "L":
                decoded[key] = [_decode_dynamodb(v) for v in inner]
            else:
                decoded[key] = inner
        return decoded
    return value


class _DynamoDBState:
    name = "dynamodb"
    _BATCH = 25

    def __init__(self, client: Any) -> None:
        self.client = client

    def _table_names(self) -> list[str]:
        names: list[str] = []
        for page in self.client.get_paginator("list_tables").paginate():
            names.extend(page["TableNames"])
        return names

    def save(self, target: Path, previous: Path | None) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for table in self._table_names():
            with (target / f"{table}.jsonl").open("w", encoding="utf-8") as out:
                for page in self.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                    for item in page["Items"]:
                        out.write(json.dumps({k: _encode_dynamodb(v) for k, v in item.items()}) + "\n")

    def restore(self, source: Path, report: RestoreReport) -> None:
        existing = set(self._table_names())
        for path in sorted(source.glob("*.jsonl")):
            table = path.name.removesuffix(".jsonl")
            if table not in existing:
                report.skipped.append(f"dynamodb table {table}: not created by this start")
                continue
            count = self._put_items(table, self._read_items(path))
            report.add(self.name, "tables")
            report.add(self.name, "items", count)

    @staticmethod
    def _read_items(path: Path) -> Iterator[JsonDict]:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield {k: _decode_dynamodb(v) for k, v in json.loads(line).items()}

    def _put_items(self, table: str, items: Iterable[JsonDict]) -> int:
        count = 0
        batch: list[JsonDict] = []
        for item in items:
            batch.append({"PutRequest": {"Item": item}})
            count += 1
            if len(batch) == self._BATCH:
                self._write_batch(table, batch)
                batch = []
        if batch:
            self._write_batch(table, batch)
        return count

    def _write_batch(self, table: str, batch: list[JsonDict]) -> None:
        request: JsonDict = {table: batch}
        for attempt in range(10):
            unprocessed = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not unprocessed:
                return
            request = unprocessed
            time.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"dynamodb table {table}: items stayed unprocessed")


# Object headers that get_object returns and put_object accepts under the same name.
_S3_HEADERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl")


class _S3State:
    name = "s3"

    def __init__(self, client: Any) -> None:
        self.client = client

    def _bucket_names(self) -> list[str]:
        return [bucket["Name"] for bucket in self.client.list_buckets().get("Buckets", [])]

    def save(self, target: Path, previous: Path | None) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for bucket in self._bucket_names():
            self._save_bucket(bucket, target / bucket, previous / bucket if previous else None)

    def _save_bucket(self, bucket: str, target: Path, previous: Path | None) -> None:
        earlier: dict[str, JsonDict] = {}
        if previous is not None and (previous / "objects.json").is_file():
            earlier = {entry["key"]: entry for entry in _read_json(previous / "objects.json")}
        blobs = target / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        entries: list[JsonDict] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                blob = f"{len(entries):06d}"
                entry = self._reuse(earlier.get(listed["Key"]), listed, previous, blobs / blob)
                if entry is None:
                    entry = self._download(bucket, listed, blobs / blob)
                entry["blob"] = blob
                entries.append(entry)
        _write_json(target / "objects.json", entries)

    @staticmethod
    def _fingerprint(listed: JsonDict) -> JsonDict:
        return {"etag": listed["ETag"], "size": listed["Size"], "last_modified": listed["LastModified"].isoformat()}

    def _reuse(self, entry: JsonDict | None, listed: JsonDict, previous: Path | None, blob: Path) -> JsonDict | None:
        """The previous snapshot's entry and body, when the object has not changed since (same ETag, size, time)."""
        if entry is None or previous is None or entry.get("fingerprint") != self._fingerprint(listed):
            return None
        _link_or_copy(previous / "blobs" / entry["blob"], blob)
        return dict(entry)

    def _download(self, bucket: str, listed: JsonDict, blob: Path) -> JsonDict:
        key = listed["Key"]
        response = self.client.get_object(Bucket=bucket, Key=key)
        with blob.open("wb") as out:
            for chunk in response["Body"].iter_chunks(1024 * 1024):
                out.write(chunk)
        tags = self.client.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
        return {
            "key": key,
            "fingerprint": self._fingerprint(listed),
            "metadata": response.get("Metadata", {}),
            "headers": {name: response[name] for name in _S3_HEADERS if response.get(name)},
            "tags": tags,
        }

    def restore(self, source: Path, report: RestoreReport) -> None:
        existing = set(self._bucket_names())
        for directory in sorted(path for path in source.iterdir() if path.is_dir()):
            bucket = directory.name
            if bucket not in existing:
                report.skipped.append(f"s3 bucket {bucket}: not created by this start")
                continue
            for entry in _read_json(directory / "objects.json"):
                extra: JsonDict = dict(entry["headers"])
                if entry["tags"]:
                    extra["Tagging"] = urlencode([(tag["Key"], tag["Value"]) for tag in entry["tags"]])
                with (directory / "blobs" / entry["blob"]).open("rb") as body:
                    self.client.put_object(
                        Bucket=bucket, Key=entry["key"], Body=body, Metadata=entry["metadata"], **extra
                    )
                report.add(self.name, "objects")
            report.add(self.name, "buckets")


class _SecretsState:
    name = "secretsmanager"

    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self.client = client
        self.account_id = account_id
        self.region = region

    def save(self, target: Path, previous: Path | None) -> None:
        secrets = []
        for page in self.client.get_paginator("list_secrets").paginate():
            for listed in page["SecretList"]:
                if listed.get("DeletedDate"):
                    continue
                record: JsonDict = {
                    "name": listed["Name"],
                    "arn": listed["ARN"],
                    "description": listed.get("Description"),
                    "kms_key_id": listed.get("KmsKeyId"),
                    "tags": listed.get("Tags", []),
                }
                try:
                    value = self.client.get_secret_value(SecretId=listed["ARN"])
                except ClientError as error:
                    if error.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
                    value = {}  # a secret without any value yet
                if "SecretString" in value:
                    record["secret_string"] = value["SecretString"]
                if "SecretBinary" in value:
                    record["secret_binary"] = _b64(value["SecretBinary"])
                secrets.append(record)
        _write_json(target / "secrets.json", secrets)

    def restore(self, source: Path, report: RestoreReport) -> None:
        for record in _read_json(source / "secrets.json"):
            value: JsonDict = {}
            if "secret_string" in record:
                value["SecretString"] = record["secret_string"]
            if "secret_binary" in record:
                value["SecretBinary"] = _unb64(record["secret_binary"])
            if self._exists(record["name"]):
                if value and value != self._current_value(record["name"]):
                    self.client.put_secret_value(SecretId=record["name"], **value)
                if record["tags"]:
                    self.client.tag_resource(SecretId=record["name"], Tags=record["tags"])
            else:
                extra: JsonDict = {"Tags": record["tags"]} if record["tags"] else {}
                if record.get("description"):
                    extra["Description"] = record["description"]
                if record.get("kms_key_id"):
                    extra["KmsKeyId"] = record["kms_key_id"]
                self.client.create_secret(Name=record["name"], **value, **extra)
            _moto_set_secret_arn(self.account_id, self.region, record["name"], record["arn"])
            report.add(self.name, "secrets")

    def _exists(self, name: str) -> bool:
        try:
            self.client.describe_secret(SecretId=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise
        return True

    def _current_value(self, name: str) -> JsonDict:
        try:
            response = self.client.get_secret_value(SecretId=name)
        except ClientError:
            return {}
        return {k: response[k] for k in ("SecretString", "SecretBinary") if k in response}


class _CognitoState:
    name = "cognito-idp"
    # describe_user_pool_client output keys that are not client settings
    _CLIENT_IDENTITY = ("UserPoolId", "ClientId", "ClientSecret", "ClientName", "CreationDate", "LastModifiedDate")

    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self.client = client
        self.account_id = account_id
        self.region = region

    # -- save ----------------------------------------------------------------------------------------------------

    def _pools(self) -> list[JsonDict]:
        pools: list[JsonDict] = []
        for page in self.client.get_paginator("list_user_pools").paginate(MaxResults=60):
            pools.extend(page["UserPools"])
        return pools

    def _paged(self, method: str, key: str, **kwargs: Any) -> list[JsonDict]:
        """All items of a Cognito list call, following NextToken/PaginationToken."""
        items: list[JsonDict] = []
        token_names = ("NextToken", "PaginationToken")
        while True:
            page = getattr(self.client, method)(**kwargs)
            items.extend(page.get(key, []))
            token_name = next((name for name in token_names if page.get(name)), None)
            if token_name is None:
                return items
            kwargs[token_name] = page[token_name]

    def save(self, target: Path, previous: Path | None) -> None:
        _write_json(target / "user-pools.json", [self._save_pool(pool["Id"], pool["Name"]) for pool in self._pools()])

    def _save_pool(self, pool_id: str, name: str) -> JsonDict:
        described = self.client.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        clients = []
        for listed in self._paged("list_user_pool_clients", "UserPoolClients", UserPoolId=pool_id, MaxResults=60):
            full = self.client.describe_user_pool_client(UserPoolId=pool_id, ClientId=listed["ClientId"])
            full = full["UserPoolClient"]
            clients.append(
                {
                    "id": full["ClientId"],
                    "name": full.get("ClientName"),
                    "secret": full.get("ClientSecret"),
                    "settings": {k: v for k, v in full.items() if k not in self._CLIENT_IDENTITY},
                }
            )
        groups = []
        for group in self._paged("list_groups", "Groups", UserPoolId=pool_id, Limit=60):
            members = self._paged(
                "list_users_in_group", "Users", UserPoolId=pool_id, GroupName=group["GroupName"], Limit=60
            )
            groups.append(
                {
                    "name": group["GroupName"],
                    "description": group.get("Description"),
                    "precedence": group.get("Precedence"),
                    "role_arn": group.get("RoleArn"),
                    "members": [member["Username"] for member in members],
                }
            )
        resource_servers = [
            {"identifier": server["Identifier"], "name": server["Name"], "scopes": server.get("Scopes", [])}
            for server in self._paged("list_resource_servers", "ResourceServers", UserPoolId=pool_id, MaxResults=50)
        ]
        pool = _moto_user_pool(self.account_id, self.region, pool_id)
        return {
            "id": pool_id,
            "name": name,
            "domain": described.get("Domain"),
            "clients": clients,
            "groups": groups,
            "resource_servers": resource_servers,
            "users": _moto_read_users(pool),
            "tokens": _moto_read_tokens(pool),
        }

    # -- restore -------------------------------------------------------------------------------------------------

    def restore(self, source: Path, report: RestoreReport) -> None:
        current: dict[str, list[str]] = {}
        for pool in self._pools():
            current.setdefault(pool["Name"], []).append(pool["Id"])
        for record in _read_json(source / "user-pools.json"):
            candidates = current.get(record["name"], [])
            if not candidates:
                report.skipped.append(f"cognito user pool {record['name']}: not created by this start")
                continue
            # Prefer a pool that already has the saved id (stable id strategies), else the first one of that name.
            pool_id = record["id"] if record["id"] in candidates else candidates[0]
            candidates.remove(pool_id)
            if pool_id != record["id"]:
                _moto_rekey_user_pool(self.account_id, self.region, pool_id, record["id"])
                report.rekeyed_user_pools[pool_id] = record["id"]
            report.user_pool_ids[record["name"]] = record["id"]
            self._restore_pool(record, report)
            report.add(self.name, "user_pools")

    def _restore_pool(self, record: JsonDict, report: RestoreReport) -> None:
        pool_id = record["id"]
        existing_servers = {
            server["Identifier"]
            for server in self._paged("list_resource_servers", "ResourceServers", UserPoolId=pool_id, MaxResults=50)
        }
        for server in record["resource_servers"]:
            if server["identifier"] not in existing_servers:
                self.client.create_resource_server(
                    UserPoolId=pool_id, Identifier=server["identifier"], Name=server["name"], Scopes=server["scopes"]
                )
        if record["domain"] and not self.client.describe_user_pool_domain(Domain=record["domain"]).get(
            "DomainDescription", {}
        ).get("UserPoolId"):
            self.client.create_user_pool_domain(UserPoolId=pool_id, Domain=record["domain"])

        existing_groups = {g["GroupName"] for g in self._paged("list_groups", "Groups", UserPoolId=pool_id, Limit=60)}
        for group in record["groups"]:
            if group["name"] not in existing_groups:
                fields = (("Description", "description"), ("Precedence", "precedence"), ("RoleArn", "role_arn"))
                extra = {key: group[name] for key, name in fields if group.get(name) is not None}
                self.client.create_group(UserPoolId=pool_id, GroupName=group["name"], **extra)
            report.add(self.name, "groups")

        self._restore_clients(pool_id, record["clients"], report)

        pool = _moto_user_pool(self.account_id, self.region, pool_id)
        for user in record["users"]:
            _moto_put_user(pool, user)
            report.add(self.name, "users")
        for group in record["groups"]:
            for username in group["members"]:
                self.client.admin_add_user_to_group(UserPoolId=pool_id, GroupName=group["name"], Username=username)
        _moto_put_tokens(pool, record["tokens"])

    def _accepted(self, operation: str, settings: JsonDict) -> JsonDict:
        """The settings that ``operation`` accepts as input (per botocore's service model)."""
        members = self.client.meta.service_model.operation_model(operation).input_shape.members
        return {k: v for k, v in settings.items() if k in members and k not in ("UserPoolId", "ClientId")}

    def _restore_clients(self, pool_id: str, clients: list[JsonDict], report: RestoreReport) -> None:
        saved_ids = {client["id"] for client in clients}
        current = {
            listed["ClientId"]: listed.get("ClientName")
            for listed in self._paged("list_user_pool_clients", "UserPoolClients", UserPoolId=pool_id, MaxResults=60)
        }
        pool = _moto_user_pool(self.account_id, self.region, pool_id)
        for client in clients:
            if client["id"] in current:  # same id already (stable id strategy): bring settings and secret back
                settings = self._accepted("UpdateUserPoolClient", client["settings"])
                self.client.update_user_pool_client(
                    UserPoolId=pool_id, ClientId=client["id"], ClientName=client["name"], **settings
                )
                _moto_rekey_client(pool, client["id"], client["id"], client["secret"])
            else:
                # A client of the same name created by this start (from the template) is replaced by the saved one.
                for client_id, name in list(current.items()):
                    if name == client["name"] and client_id not in saved_ids:
                        self.client.delete_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
                        del current[client_id]
                settings = self._accepted("CreateUserPoolClient", client["settings"])
                created = self.client.create_user_pool_client(
                    UserPoolId=pool_id,
                    ClientName=client["name"],
                    GenerateSecret=client["secret"] is not None,
                    **settings,
                )["UserPoolClient"]
                _moto_rekey_client(pool, created["ClientId"], client["id"], client["secret"])
                current[client["id"]] = client["name"]
            report.add(self.name, "clients")


# ---------------------------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------------------------


class StateStore:
    """Saves moto's state into ``folder`` and restores it at the next start (same process as moto)."""

    def __init__(
        self,
        folder: Path,
        endpoint_url: str,
        region: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        tracker: DirtyTracker | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.tracker = tracker
        self._lock = threading.Lock()
        self._restore_failed = False
        session = boto3.session.Session(
            aws_access_key_id="offline",
            aws_secret_access_key="offline",  # noqa: S106 - moto accepts any credentials
            region_name=region,
        )
        config = Config(retries={"max_attempts": 2, "mode": "standard"})

        def client(service: str) -> Any:
            return session.client(service, endpoint_url=endpoint_url, config=config)  # type: ignore[call-overload]

        self.services: dict[str, _ServiceState] = {
            "dynamodb": _DynamoDBState(client("dynamodb")),
            "s3": _S3State(client("s3")),
            "secretsmanager": _SecretsState(client("secretsmanager"), account_id, region),
            "cognito-idp": _CognitoState(client("cognito-idp"), account_id, region),
        }

    # -- snapshots on disk ---------------------------------------------------------------------------------------

    def current_snapshot(self) -> Path | None:
        """The directory of the current snapshot, or None before the first save."""
        try:
            name = (self.folder / _CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.folder / name
        return path if name and path.is_dir() else None

    def _switch_current(self, snapshot: Path) -> None:
        """Point CURRENT at ``snapshot`` atomically (write a temp file, fsync, os.replace)."""
        pointer = self.folder / f"{_CURRENT_FILE}.tmp"
        with pointer.open("w", encoding="utf-8") as out:
            out.write(snapshot.name + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(pointer, self.folder / _CURRENT_FILE)

    def _remove_stale(self, keep: Path) -> None:
        for path in self.folder.iterdir():
            if path != keep and path.is_dir() and path.name.startswith((_SNAPSHOT_PREFIX, _TMP_PREFIX)):
                shutil.rmtree(path, ignore_errors=True)

    # -- save ----------------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Write a complete new snapshot of every persisted service."""
        with self._lock:
            self._save(set(PERSISTED_SERVICES))

    def save_if_dirty(self) -> bool:
        """Save the services the tracker marked since the last save (others are carried over). True if it saved.

        Without a tracker, or before the first snapshot, this is a full ``save``.
        """
        with self._lock:
            if self.tracker is None or self.current_snapshot() is None:
                if self.tracker is not None:
                    self.tracker.clear()
                self._save(set(PERSISTED_SERVICES))
                return True
            dirty = self.tracker.take()
            services = set(PERSISTED_SERVICES) if ALL_SERVICES in dirty else set(dirty) & set(PERSISTED_SERVICES)
            if not services:
                return False
            try:
                self._save(services)
            except BaseException:
                self.tracker.mark(*dirty)  # try again next time
                raise
            return True

    def _save(self, services: set[str]) -> None:
        if self._restore_failed:
            raise RuntimeError("restore failed: refusing to overwrite the snapshot with partial state")
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        previous = self.current_snapshot()
        tmp = self.folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _write_json(
                tmp / "snapshot.json",
                {
                    "format": FORMAT_VERSION,
                    "saved_at": datetime.now(UTC).isoformat(),
                    "region": self.region,
                    "account_id": self.account_id,
                    "services": list(PERSISTED_SERVICES),
                },
            )
            for name, service in self.services.items():
                carried = previous / name if previous is not None else None
                if name not in services and carried is not None and carried.is_dir():
                    _link_tree(carried, tmp / name)
                else:
                    (tmp / name).mkdir()
                    service.save(tmp / name, carried if carried is not None and carried.is_dir() else None)
            final = self.folder / f"{_SNAPSHOT_PREFIX}{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
            while final.exists():  # two saves within the same microsecond
                final = final.with_name(final.name + "x")
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._switch_current(final)
        self._remove_stale(keep=final)
        logger.info("Saved %s to %s in %.2f s", sorted(services), final, time.monotonic() - started)

    # -- restore -------------------------------------------------------------------------------------------------

    def restore(self) -> RestoreReport:
        """Put the current snapshot back into moto. Call after the template's resources exist, before serving.

        If a service fails to restore, the error propagates and this store refuses to save afterwards, so the
        partial state never replaces the snapshot.
        """
        with self._lock:
            snapshot = self.current_snapshot()
            report = RestoreReport(snapshot=snapshot.name if snapshot else None)
            if snapshot is None:
                return report
            meta = _read_json(snapshot / "snapshot.json")
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"{snapshot}: unsupported snapshot format {meta.get('format')}")
            try:
                for name, service in self.services.items():
                    if (snapshot / name).is_dir():
                        service.restore(snapshot / name, report)
            except BaseException:
                self._restore_failed = True
                raise
            if self.tracker is not None:
                self.tracker.clear()  # moto now holds what the snapshot holds
            logger.info("Restored %s: %s", snapshot.name, report.counts)
            return report


__all__ = [
    "ALL_SERVICES",
    "DEFAULT_ACCOUNT_ID",
    "PERSISTED_SERVICES",
    "DirtyTracker",
    "MotoServer",
    "RestoreReport",
    "StateStore",
    "start_moto",
]
