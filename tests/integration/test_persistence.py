"""moto's state survives a restart: saved into a folder, restored after the template's resources are re-created."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from offline.persistence import ALL_SERVICES, DirtyTracker, MotoServer, StateStore, start_moto

REGION = "us-east-1"
POOL_NAME = "genai-apps"
DOMAIN = "genai-apps-123456789012"
TABLE = "genai-items"
BUCKET = "genai-documents"
PDF_BYTES = bytes(range(256)) * 40  # binary, not valid UTF-8
PASSWORD = "Sup3r-secret!"


@dataclass
class Aws:
    url: str
    tracker: DirtyTracker
    dynamodb: Any
    s3: Any
    secrets: Any
    idp: Any

    def store(self, folder: Path) -> StateStore:
        return StateStore(folder, self.url, REGION, tracker=self.tracker)


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto = start_moto(port=0, tracker=DirtyTracker())
    yield moto
    moto.stop()


@pytest.fixture
def aws(server: MotoServer) -> Aws:
    requests.post(f"{server.url}/moto-api/reset", timeout=10).raise_for_status()
    assert server.tracker is not None
    server.tracker.clear()

    def client(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="offline",
            aws_secret_access_key="offline",
            config=Config(retries={"max_attempts": 1}),
        )

    return Aws(
        url=server.url,
        tracker=server.tracker,
        dynamodb=client("dynamodb"),
        s3=client("s3"),
        secrets=client("secretsmanager"),
        idp=client("cognito-idp"),
    )


def restart(aws: Aws) -> None:
    """What a stop + start does to moto: everything in memory is gone."""
    requests.post(f"{aws.url}/moto-api/reset", timeout=10).raise_for_status()


def provision_from_template(aws: Aws) -> str:
    """Create the resources the way the runtime does from template.yaml at every start; returns the new pool id."""
    aws.dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.s3.create_bucket(Bucket=BUCKET)
    created = aws.idp.create_user_pool(PoolName=POOL_NAME, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    pool_id: str = created["UserPool"]["Id"]
    aws.idp.create_user_pool_domain(UserPoolId=pool_id, Domain=DOMAIN)
    aws.idp.create_resource_server(
        UserPoolId=pool_id,
        Identifier="genai",
        Name="GenAI platform API",
        Scopes=[
            {"ScopeName": "invoke", "ScopeDescription": "Call models"},
            {"ScopeName": "prompts.read", "ScopeDescription": "Read prompts"},
        ],
    )
    aws.idp.create_group(UserPoolId=pool_id, GroupName="admins", Description="Platform administrators")
    return pool_id


@dataclass
class Saved:
    pool_id: str
    machine_client_id: str
    machine_client_secret: str
    web_client_id: str
    secret_arn: str


def add_runtime_state(aws: Aws, pool_id: str) -> Saved:
    """State the platform creates while it runs: items, documents, a secret, an onboarded app, a user."""
    aws.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "PROMPT#greeting"},
            "sk": {"S": "v1"},
            "template": {"S": "Hello {{name}}"},
            "version": {"N": "1"},
            "digest": {"B": b"\x00\xff\x10"},
            "labels": {"SS": ["prod", "latest"]},
            "meta": {"M": {"blob": {"B": b"\x01\x02"}, "tags": {"L": [{"S": "a"}, {"N": "2.5"}]}}},
        },
    )
    for n in range(40):  # more than one batch_write_item batch
        aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "USAGE"}, "sk": {"S": f"{n:03d}"}})

    aws.s3.put_object(Bucket=BUCKET, Key="raw/report.pdf", Body=PDF_BYTES, ContentType="application/pdf")
    aws.s3.put_object(
        Bucket=BUCKET,
        Key="text/notes é.txt",
        Body="Grüße\n".encode(),
        ContentType="text/plain; charset=utf-8",
        Metadata={"collection": "c-1"},
        Tagging="stage=parsed",
    )
    aws.s3.put_object(Bucket=BUCKET, Key="folder/", Body=b"")

    secret_arn: str = aws.secrets.create_secret(
        Name="genai/providers/openai",
        SecretString=json.dumps({"api_key": "sk-local"}),
        Tags=[{"Key": "owner", "Value": "platform"}],
    )["ARN"]

    machine = aws.idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="app-billing",
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["genai/invoke", "genai/prompts.read"],
        AllowedOAuthFlowsUserPoolClient=True,
        AccessTokenValidity=2,
        TokenValidityUnits={"AccessToken": "hours"},
    )["UserPoolClient"]
    web = aws.idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="admin-ui", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    aws.idp.admin_create_user(
        UserPoolId=pool_id,
        Username="alice",
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}],
        MessageAction="SUPPRESS",
    )
    aws.idp.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True)
    aws.idp.admin_add_user_to_group(UserPoolId=pool_id, Username="alice", GroupName="admins")
    return Saved(pool_id, machine["ClientId"], machine["ClientSecret"], web["ClientId"], secret_arn)


def sign_in(aws: Aws, pool_id: str, client_id: str) -> dict[str, Any]:
    result: dict[str, Any] = aws.idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return result


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_restore_brings_back_every_persisted_service_after_a_restart(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a started platform with state in every persisted service, saved to a folder
    saved = add_runtime_state(aws, provision_from_template(aws))
    sub_before = jwt_claims(sign_in(aws, saved.pool_id, saved.web_client_id)["IdToken"])["sub"]
    aws.store(tmp_path).save()

    # WHEN the platform restarts (moto empty, resources re-created from the template) and restores
    restart(aws)
    fresh_pool_id = provision_from_template(aws)
    assert fresh_pool_id != saved.pool_id
    report = aws.store(tmp_path).restore()

    # THEN the report says what came back, and the pool has its previous id again
    assert report.counts["dynamodb"] == {"tables": 1, "items": 41}
    assert report.counts["s3"] == {"buckets": 1, "objects": 3}
    assert report.counts["secretsmanager"] == {"secrets": 1}
    assert report.counts["cognito-idp"] == {"user_pools": 1, "clients": 2, "users": 1, "groups": 1}
    assert report.user_pool_ids == {POOL_NAME: saved.pool_id}
    assert report.rekeyed_user_pools == {fresh_pool_id: saved.pool_id}
    assert not report.skipped
    pools = aws.idp.list_user_pools(MaxResults=10)["UserPools"]
    assert [(p["Id"], p["Name"]) for p in pools] == [(saved.pool_id, POOL_NAME)]
    described = aws.idp.describe_user_pool(UserPoolId=saved.pool_id)["UserPool"]
    assert described["Arn"].endswith(f":userpool/{saved.pool_id}")
    assert described["Domain"] == DOMAIN
    domain = aws.idp.describe_user_pool_domain(Domain=DOMAIN)["DomainDescription"]
    assert domain["UserPoolId"] == saved.pool_id
    servers = aws.idp.list_resource_servers(UserPoolId=saved.pool_id, MaxResults=10)["ResourceServers"]
    assert [(s["Identifier"], s["UserPoolId"]) for s in servers] == [("genai", saved.pool_id)]

    # THEN DynamoDB items are back, binary and nested values included
    item = aws.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "PROMPT#greeting"}, "sk": {"S": "v1"}})["Item"]
    assert item["digest"] == {"B": b"\x00\xff\x10"}
    assert item["version"] == {"N": "1"}
    assert set(item["labels"]["SS"]) == {"prod", "latest"}
    assert item["meta"]["M"]["blob"] == {"B": b"\x01\x02"}
    assert item["meta"]["M"]["tags"] == {"L": [{"S": "a"}, {"N": "2.5"}]}
    assert aws.dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"] == 41

    # THEN S3 objects are back byte for byte, with content type, metadata and tags
    pdf = aws.s3.get_object(Bucket=BUCKET, Key="raw/report.pdf")
    assert pdf["Body"].read() == PDF_BYTES
    assert pdf["ContentType"] == "application/pdf"
    notes = aws.s3.get_object(Bucket=BUCKET, Key="text/notes é.txt")
    assert notes["Body"].read().decode() == "Grüße\n"
    assert notes["ContentType"] == "text/plain; charset=utf-8"
    assert notes["Metadata"] == {"collection": "c-1"}
    tags = aws.s3.get_object_tagging(Bucket=BUCKET, Key="text/notes é.txt")["TagSet"]
    assert tags == [{"Key": "stage", "Value": "parsed"}]
    assert aws.s3.get_object(Bucket=BUCKET, Key="folder/")["Body"].read() == b""

    # THEN the secret is back with its value, tags and ARN
    secret = aws.secrets.get_secret_value(SecretId="genai/providers/openai")
    assert json.loads(secret["SecretString"]) == {"api_key": "sk-local"}
    assert secret["ARN"] == saved.secret_arn
    described_secret = aws.secrets.describe_secret(SecretId=saved.secret_arn)
    assert described_secret["Tags"] == [{"Key": "owner", "Value": "platform"}]

    # THEN the app client keeps its id, secret and settings
    machine = aws.idp.describe_user_pool_client(UserPoolId=saved.pool_id, ClientId=saved.machine_client_id)[
        "UserPoolClient"
    ]
    assert machine["ClientSecret"] == saved.machine_client_secret
    assert machine["ClientName"] == "app-billing"
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    assert machine["AllowedOAuthScopes"] == ["genai/invoke", "genai/prompts.read"]
    assert machine["AllowedOAuthFlowsUserPoolClient"] is True
    assert machine["AccessTokenValidity"] == 2
    assert machine["TokenValidityUnits"] == {"AccessToken": "hours"}
    web = aws.idp.describe_user_pool_client(UserPoolId=saved.pool_id, ClientId=saved.web_client_id)["UserPoolClient"]
    assert "ClientSecret" not in web

    # THEN the user signs in with the same password, keeps its sub, and gets tokens of the restored pool
    tokens = sign_in(aws, saved.pool_id, saved.web_client_id)
    claims = jwt_claims(tokens["IdToken"])
    assert claims["sub"] == sub_before
    assert claims["iss"].endswith(f"/{saved.pool_id}")
    user = aws.idp.admin_get_user(UserPoolId=saved.pool_id, Username="alice")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes == {"email": "alice@example.com", "sub": sub_before}
    assert user["Enabled"] is True
    assert user["UserStatus"] == "CONFIRMED"
    groups = aws.idp.admin_list_groups_for_user(UserPoolId=saved.pool_id, Username="alice")["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]


def test_refresh_tokens_issued_before_the_restart_still_work(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a user who signed in before the state was saved
    saved = add_runtime_state(aws, provision_from_template(aws))
    refresh_token = sign_in(aws, saved.pool_id, saved.web_client_id)["RefreshToken"]
    aws.store(tmp_path).save()

    # WHEN the platform restarts and restores
    restart(aws)
    provision_from_template(aws)
    aws.store(tmp_path).restore()

    # THEN the refresh token still yields new tokens
    refreshed = aws.idp.admin_initiate_auth(
        UserPoolId=saved.pool_id,
        ClientId=saved.web_client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )["AuthenticationResult"]
    assert jwt_claims(refreshed["AccessToken"])["username"] == "alice"


def test_a_template_client_of_the_same_name_is_replaced_by_the_saved_one(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a client the template defines, saved with the id it got at the first start
    pool_id = provision_from_template(aws)
    first = aws.idp.create_user_pool_client(UserPoolId=pool_id, ClientName="from-template", GenerateSecret=True)
    aws.store(tmp_path).save()

    # WHEN the next start creates that client again (new random id) and restores
    restart(aws)
    fresh_pool_id = provision_from_template(aws)
    aws.idp.create_user_pool_client(UserPoolId=fresh_pool_id, ClientName="from-template", GenerateSecret=True)
    aws.store(tmp_path).restore()

    # THEN there is one such client, with the first start's id and secret
    clients = aws.idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)["UserPoolClients"]
    assert [c["ClientId"] for c in clients] == [first["UserPoolClient"]["ClientId"]]
    described = aws.idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=clients[0]["ClientId"])
    assert described["UserPoolClient"]["ClientSecret"] == first["UserPoolClient"]["ClientSecret"]


def test_users_of_a_pool_with_email_usernames_sign_in_after_restore(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a pool where people sign in with their email (moto keys such users by a generated id)
    def provision_admin_pool() -> str:
        pool_id: str = aws.idp.create_user_pool(
            PoolName="genai-admins", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"]
        )["UserPool"]["Id"]
        aws.idp.create_group(UserPoolId=pool_id, GroupName="admins")
        return pool_id

    pool_id = provision_admin_pool()
    client_id = aws.idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="admin-ui", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    username = aws.idp.admin_create_user(UserPoolId=pool_id, Username="root@example.com", MessageAction="SUPPRESS")[
        "User"
    ]["Username"]
    aws.idp.admin_set_user_password(UserPoolId=pool_id, Username="root@example.com", Password=PASSWORD, Permanent=True)
    aws.idp.admin_add_user_to_group(UserPoolId=pool_id, Username="root@example.com", GroupName="admins")
    aws.idp.admin_disable_user(UserPoolId=pool_id, Username="root@example.com")
    aws.store(tmp_path).save()

    # WHEN the platform restarts and restores
    restart(aws)
    provision_admin_pool()
    aws.store(tmp_path).restore()

    # THEN the user is found by email and by its generated username, keeps its disabled flag and group,
    # and signs in with its password once enabled again
    user = aws.idp.admin_get_user(UserPoolId=pool_id, Username="root@example.com")
    assert user["Username"] == username
    assert user["Enabled"] is False
    groups = aws.idp.admin_list_groups_for_user(UserPoolId=pool_id, Username=username)["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]
    aws.idp.admin_enable_user(UserPoolId=pool_id, Username="root@example.com")
    result = aws.idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "root@example.com", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert jwt_claims(result["IdToken"])["sub"] == username


def test_resources_the_template_no_longer_creates_are_skipped(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a snapshot with a table and a bucket created at runtime (not by the template)
    provision_from_template(aws)
    aws.dynamodb.create_table(
        TableName="scratch",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.dynamodb.put_item(TableName="scratch", Item={"id": {"S": "x"}})
    aws.s3.create_bucket(Bucket="scratch-bucket")
    aws.store(tmp_path).save()

    # WHEN the next start only creates the template's resources and restores
    restart(aws)
    provision_from_template(aws)
    report = aws.store(tmp_path).restore()

    # THEN the others are reported as skipped, and the restore still succeeds
    assert any("scratch" in line and "dynamodb" in line for line in report.skipped)
    assert any("scratch-bucket" in line for line in report.skipped)
    assert aws.dynamodb.list_tables()["TableNames"] == [TABLE]


def test_restore_without_a_snapshot_changes_nothing(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a first start: no snapshot yet
    pool_id = provision_from_template(aws)

    # WHEN restoring
    report = aws.store(tmp_path / "state").restore()

    # THEN nothing was restored and the fresh resources are untouched
    assert report.snapshot is None
    assert report.counts == {}
    assert aws.idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Name"] == POOL_NAME


def test_a_failing_save_keeps_the_previous_snapshot(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a saved snapshot with one item
    provision_from_template(aws)
    aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "kept"}, "sk": {"S": "1"}})
    store = aws.store(tmp_path)
    store.save()
    first = store.current_snapshot()

    # WHEN a later save fails half-way (after DynamoDB was written, while writing S3)
    aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "lost"}, "sk": {"S": "1"}})

    def broken_save(target: Path, previous: Path | None) -> None:
        (target / "partial").write_text("half written")
        raise OSError("disk full")

    monkeypatch.setattr(store.services["s3"], "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        store.save()

    # THEN the previous snapshot is still the current one, intact, and no temporary directory is left
    assert store.current_snapshot() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["CURRENT", first.name if first else ""])
    restart(aws)
    provision_from_template(aws)
    report = aws.store(tmp_path).restore()
    assert report.counts["dynamodb"]["items"] == 1
    assert aws.dynamodb.scan(TableName=TABLE)["Items"][0]["pk"] == {"S": "kept"}


def test_a_failed_restore_blocks_saving_over_the_snapshot(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a snapshot
    provision_from_template(aws)
    aws.store(tmp_path).save()
    restart(aws)
    provision_from_template(aws)

    # WHEN the restore fails
    store = aws.store(tmp_path)

    def broken_restore(source: Path, report: Any) -> None:
        raise RuntimeError("moto changed")

    monkeypatch.setattr(store.services["s3"], "restore", broken_restore)
    snapshot = store.current_snapshot()
    with pytest.raises(RuntimeError, match="moto changed"):
        store.restore()

    # THEN saving refuses, so the partial state never replaces the snapshot
    with pytest.raises(RuntimeError, match="restore failed"):
        store.save()
    assert store.current_snapshot() == snapshot


def test_the_tracker_marks_services_on_writes_but_not_on_reads(aws: Aws) -> None:
    # GIVEN resources and a clean tracker
    pool_id = provision_from_template(aws)
    aws.s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"a")
    aws.secrets.create_secret(Name="s", SecretString="v")
    aws.tracker.clear()

    # WHEN only reading from every service
    aws.dynamodb.scan(TableName=TABLE)
    aws.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    aws.dynamodb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "x"}})
    aws.dynamodb.describe_table(TableName=TABLE)
    aws.s3.list_objects_v2(Bucket=BUCKET)
    aws.s3.get_object(Bucket=BUCKET, Key="a.txt")
    aws.s3.head_object(Bucket=BUCKET, Key="a.txt")
    aws.secrets.get_secret_value(SecretId="s")
    aws.secrets.list_secrets()
    aws.idp.describe_user_pool(UserPoolId=pool_id)
    aws.idp.list_users(UserPoolId=pool_id)

    # THEN nothing is dirty
    assert aws.tracker.dirty() == frozenset()

    # WHEN writing to each service, THEN exactly that service is marked
    aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert aws.tracker.take() == {"dynamodb"}
    aws.s3.put_object(Bucket=BUCKET, Key="b.txt", Body=b"b")
    assert aws.tracker.take() == {"s3"}
    aws.s3.delete_object(Bucket=BUCKET, Key="b.txt")
    assert aws.tracker.take() == {"s3"}
    aws.secrets.put_secret_value(SecretId="s", SecretString="w")
    assert aws.tracker.take() == {"secretsmanager"}
    aws.idp.create_group(UserPoolId=pool_id, GroupName="readers")
    assert aws.tracker.take() == {"cognito-idp"}
    # presigned uploads carry their signature in the query string (SigV4 credential scope, or SigV2)
    s3v4 = boto3.client(
        "s3",
        endpoint_url=aws.url,
        region_name=REGION,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
        config=Config(signature_version="s3v4"),
    )
    for presigner in (s3v4, aws.s3):
        put_url = presigner.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "c.txt"})
        requests.put(put_url, data=b"c", timeout=10).raise_for_status()
        assert aws.tracker.take() == {"s3"}
        get_url = presigner.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "c.txt"})
        assert requests.get(get_url, timeout=10).content == b"c"
        assert aws.tracker.take() == frozenset()
    # a mutating request of no identifiable service marks everything
    requests.post(f"{aws.url}/moto-api/reset", timeout=10).raise_for_status()
    assert aws.tracker.take() == {ALL_SERVICES}


def test_save_if_dirty_saves_only_changed_services_and_carries_the_rest_over(aws: Aws, tmp_path: Path) -> None:
    # GIVEN a first snapshot with an item and a document
    provision_from_template(aws)
    aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "one"}, "sk": {"S": "1"}})
    aws.s3.put_object(Bucket=BUCKET, Key="doc.pdf", Body=PDF_BYTES, ContentType="application/pdf")
    store = aws.store(tmp_path)
    assert store.save_if_dirty() is True  # no snapshot yet: a full save
    first = store.current_snapshot()
    assert first is not None
    blob_inode = (first / "s3" / BUCKET / "blobs" / "000000").stat().st_ino

    # WHEN nothing changed (reads only), THEN nothing is saved
    aws.dynamodb.scan(TableName=TABLE)
    assert store.save_if_dirty() is False
    assert store.current_snapshot() == first

    # WHEN only DynamoDB changes
    aws.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "two"}, "sk": {"S": "2"}})
    assert store.save_if_dirty() is True

    # THEN the new snapshot has the new item, and S3's files were carried over (same file, not a new download)
    second = store.current_snapshot()
    assert second is not None and second != first
    assert not first.exists()
    lines = (second / "dynamodb" / f"{TABLE}.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert (second / "s3" / BUCKET / "blobs" / "000000").stat().st_ino == blob_inode
    assert aws.tracker.dirty() == frozenset()

    # WHEN S3 changes without the document changing, THEN the document's body is reused, not downloaded again
    aws.s3.put_object(Bucket=BUCKET, Key="other.txt", Body=b"x")
    assert store.save_if_dirty() is True
    third = store.current_snapshot()
    assert third is not None
    objects = json.loads((third / "s3" / BUCKET / "objects.json").read_text())
    doc = next(entry for entry in objects if entry["key"] == "doc.pdf")
    assert (third / "s3" / BUCKET / "blobs" / doc["blob"]).stat().st_ino == blob_inode


def test_the_tracker_classifies_requests_without_a_server() -> None:
    # GIVEN a tracker in front of an app that answers 200
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    tracker = DirtyTracker(app)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    auth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"

    def call(method: str, service: str | None = None, target: str | None = None) -> frozenset[str]:
        environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": "/", "QUERY_STRING": ""}
        if service:
            environ["HTTP_AUTHORIZATION"] = auth.format(service)
        if target:
            environ["HTTP_X_AMZ_TARGET"] = target
        tracker(environ, start_response)
        return tracker.take()

    # WHEN/THEN reads by action name or method are not marked, writes are
    assert call("POST", "dynamodb", "DynamoDB_20120810.BatchGetItem") == frozenset()
    assert call("POST", "dynamodb", "DynamoDB_20120810.TransactWriteItems") == {"dynamodb"}
    assert call("POST", "cognito-idp", "AWSCognitoIdentityProviderService.AdminListGroupsForUser") == frozenset()
    assert call("POST", "cognito-idp", "AWSCognitoIdentityProviderService.AdminInitiateAuth") == {"cognito-idp"}
    assert call("POST", None, "AWSCognitoIdentityProviderService.SignUp") == {"cognito-idp"}  # unsigned call
    assert call("GET", "s3") == frozenset()
    assert call("HEAD", "s3") == frozenset()
    assert call("POST", "s3") == {"s3"}  # e.g. DeleteObjects
    assert call("GET") == frozenset()
    assert call("POST") == {ALL_SERVICES}
