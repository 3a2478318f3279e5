"""Create the template's resources in moto (tables, buckets, queues, topics, keys, user pools, state machines).

There is no second list of resources: whatever template.yaml declares is created here, in dependency order,
and each resource's Ref/GetAtt values are recorded on the `Stack` so later intrinsics (function environment
variables, DefinitionSubstitutions) resolve to the local physical ids. Types without a local meaning (alarms,
log groups, IAM, policies, OpenSearch Serverless) are skipped and reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from offline.cfn import Stack, TemplateError

log = logging.getLogger("offline.provision")

# Types that have no local behaviour worth emulating; their Refs resolve to "".
SKIPPED_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::Logs::LogGroup",
    "AWS::Logs::SubscriptionFilter",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::Lambda::Permission",
    "AWS::OpenSearchServerless::Collection",
    "AWS::OpenSearchServerless::SecurityPolicy",
    "AWS::OpenSearchServerless::AccessPolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    # The admin portal's CloudFront side and the custom resource writing its config.json: offline the runtime
    # serves the portal and generates config.json itself (offline/portal.py).
    "AWS::CloudFront::Function",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::Lambda::Function",
    "Custom::PortalConfig",
    "AWS::ApiGateway::Account",
}
# Types the runtime itself serves (functions, layers, APIs): nothing to create in moto.
SERVED_TYPES = {"AWS::Serverless::Function", "AWS::Serverless::LayerVersion", "AWS::Serverless::Api"}


class Provisioner:
    def __init__(self, stack: Stack, client: Callable[[str], Any]) -> None:
        self.stack = stack
        self.client = client
        self.skipped: list[str] = []
        self._handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::DynamoDB::Table": self._table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::IAM::Role": self._role,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolDomain": self._user_pool_domain,
            "AWS::Cognito::UserPoolResourceServer": self._resource_server,
            "AWS::Cognito::UserPoolClient": self._user_pool_client,
            "AWS::Cognito::UserPoolGroup": self._user_pool_group,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::Serverless::Api": self._api,
        }
        self._deferred: list[Callable[[], None]] = []

    # -- naming ------------------------------------------------------------------------------------------------
    def _name(self, logical_id: str, given: Any, *, lower: bool = False, limit: int = 80) -> str:
        name = str(given) if given else f"{self.stack.stack_name}-{logical_id}"
        return (name.lower() if lower else name)[:limit]

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.stack.region}:{self.stack.account_id}:{resource}"

    def _set(self, logical_id: str, ref: str, **attrs: str) -> None:
        self.stack.refs[logical_id] = ref
        for attr, value in attrs.items():
            self.stack.attrs[(logical_id, attr)] = value

    # -- the run -----------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.stack.unemulated_types = frozenset(SKIPPED_TYPES)
        for logical_id in self.stack.creation_order():
            self.create(logical_id)
        for step in self._deferred:
            step()

    def create(self, logical_id: str) -> bool:
        """Create one resource (its dependencies must exist already); False when its type is not emulated."""
        spec = self.stack.resources[logical_id]
        rtype = spec.get("Type", "")
        handler = self._handlers.get(rtype)
        if handler is None:
            if rtype not in SKIPPED_TYPES:
                self.stack.warnings.append(f"{logical_id}: {rtype} is not emulated offline")
            self.skipped.append(logical_id)
            return False
        handler(logical_id, self.stack.resolve(spec.get("Properties") or {}))
        return True

    # -- handlers ----------------------------------------------------------------------------------------------
    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        kms = self.client("kms")
        key = kms.create_key(Description=props.get("Description", logical_id))["KeyMetadata"]
        self._set(logical_id, key["KeyId"], Arn=key["Arn"], KeyId=key["KeyId"])

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        kms = self.client("kms")
        kms.create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        self._set(logical_id, props["AliasName"])

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        ddb = self.client("dynamodb")
        name = self._name(logical_id, props.get("TableName"), limit=255)
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = props.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            )
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
            if props.get(key):
                args[key] = props[key]
        if "StreamSpecification" in args:
            args["StreamSpecification"] = {"StreamEnabled": True, **args["StreamSpecification"]}
        table = ddb.create_table(**args)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        attrs = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attrs["StreamArn"] = table["LatestStreamArn"]
        self._set(logical_id, name, **attrs)

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        s3 = self.client("s3")
        default = f"{self.stack.stack_name}-{logical_id}-{self.stack.account_id}"
        name = self._name(logical_id, props.get("BucketName") or default, lower=True, limit=63)
        if self.stack.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.stack.region})
        cors_rules = (props.get("CorsConfiguration") or {}).get("CorsRules")
        if cors_rules:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r) for r in cors_rules]})
        encryption = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
        if encryption:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
                }
                for rule in encryption
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        notification = props.get("NotificationConfiguration")
        if notification:
            # Queues may be created after the bucket (the queue policy names the bucket), so wire it last.
            self._deferred.append(lambda: self._bucket_notifications(name, notification))
        self._set(
            logical_id,
            name,
            Arn=f"arn:aws:s3:::{name}",
            DomainName=f"{name}.s3.amazonaws.com",
            RegionalDomainName=f"{name}.s3.{self.stack.region}.amazonaws.com",
        )

    def _bucket_notifications(self, bucket: str, notification: dict[str, Any]) -> None:
        config: dict[str, Any] = {}
        for src, dst, arn_key in (
            ("QueueConfigurations", "QueueConfigurations", "Queue"),
            ("TopicConfigurations", "TopicConfigurations", "Topic"),
        ):
            items = []
            for item in notification.get(src) or []:
                entry: dict[str, Any] = {f"{arn_key}Arn": item[arn_key], "Events": [item["Event"]]}
                rules = (item.get("Filter") or {}).get("S3Key", {}).get("Rules")
                if rules:
                    entry["Filter"] = {"Key": {"FilterRules": rules}}
                items.append(entry)
            if items:
                config[dst] = items
        if config:
            self.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        sqs = self.client("sqs")
        fifo = bool(props.get("FifoQueue"))
        name = self._name(logical_id, props.get("QueueName"))
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes: dict[str, str] = {}
        for key in (
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in props:
                value = props[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if props.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._arn("sqs", name)
        self._set(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        sns = self.client("sns")
        name = self._name(logical_id, props.get("TopicName"), limit=256)
        arn = sns.create_topic(Name=name)["TopicArn"]
        self._set(logical_id, arn, TopicName=name, TopicArn=arn)

    def _subscription(self, logical_id: str, props: dict[str, Any]) -> None:
        """SNS -> SQS subscriptions are delivered by moto; other protocols (email, https) have no local reader."""
        if str(props.get("Protocol")) != "sqs":
            self.skipped.append(logical_id)
            return
        attributes = {}
        if props.get("RawMessageDelivery") is not None:
            attributes["RawMessageDelivery"] = str(props["RawMessageDelivery"]).lower()
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol="sqs", Endpoint=props["Endpoint"], Attributes=attributes
        )["SubscriptionArn"]
        self._set(logical_id, arn)

    def _role(self, logical_id: str, props: dict[str, Any]) -> None:
        """Roles are not enforced offline, but their ARNs are passed around (e.g. Textract's publishing role)."""
        name = self._name(logical_id, props.get("RoleName"), limit=64)
        self._set(logical_id, name, Arn=f"arn:aws:iam::{self.stack.account_id}:role/{name}", RoleId=name)

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        sm = self.client("secretsmanager")
        name = self._name(logical_id, props.get("Name"), limit=512)
        value = props.get("SecretString") or json.dumps({"generated": True})
        arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
        self._set(logical_id, arn, Id=arn)

    def _user_pool(self, logical_id: str, props: dict[str, Any]) -> None:
        idp = self.client("cognito-idp")
        args: dict[str, Any] = {"PoolName": self._name(logical_id, props.get("UserPoolName"), limit=128)}
        for key in (
            "Policies",
            "AdminCreateUserConfig",
            "UsernameAttributes",
            "AutoVerifiedAttributes",
            "MfaConfiguration",
            "Schema",
        ):
            if props.get(key):
                args[key] = props[key]
        pool = idp.create_user_pool(**args)["UserPool"]
        provider = f"cognito-idp.{self.stack.region}.amazonaws.com/{pool['Id']}"
        self._set(
            logical_id,
            pool["Id"],
            Arn=pool["Arn"],
            ProviderName=provider,
            ProviderURL=f"https://{provider}",
            UserPoolId=pool["Id"],
        )

    def _user_pool_domain(self, logical_id: str, props: dict[str, Any]) -> None:
        idp = self.client("cognito-idp")
        idp.create_user_pool_domain(Domain=props["Domain"].lower(), UserPoolId=props["UserPoolId"])
        self._set(logical_id, props["Domain"].lower())

    def _resource_server(self, logical_id: str, props: dict[str, Any]) -> None:
        idp = self.client("cognito-idp")
        idp.create_resource_server(
            UserPoolId=props["UserPoolId"],
            Identifier=props["Identifier"],
            Name=props["Name"],
            Scopes=props.get("Scopes") or [],
        )
        self._set(logical_id, props["Identifier"])

    def _user_pool_client(self, logical_id: str, props: dict[str, Any]) -> None:
        idp = self.client("cognito-idp")
        args = {k: v for k, v in props.items() if k not in {"UserPoolId"}}
        args.setdefault("ClientName", logical_id)
        created = idp.create_user_pool_client(UserPoolId=props["UserPoolId"], **args)["UserPoolClient"]
        self._set(logical_id, created["ClientId"], ClientSecret=created.get("ClientSecret", ""))

    def _user_pool_group(self, logical_id: str, props: dict[str, Any]) -> None:
        idp = self.client("cognito-idp")
        args = {k: v for k, v in props.items() if k in {"GroupName", "Description", "Precedence", "UserPoolId"}}
        args.setdefault("GroupName", logical_id)
        idp.create_group(**args)
        self._set(logical_id, args["GroupName"])

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        sfn = self.client("stepfunctions")
        name = self._name(logical_id, props.get("Name"), limit=80)
        if "DefinitionUri" in props:
            path = self.stack.root / str(props["DefinitionUri"])
            text = path.read_text(encoding="utf-8")
        elif "Definition" in props:
            text = json.dumps(props["Definition"])
        elif "DefinitionString" in props:
            text = str(props["DefinitionString"])
        else:
            raise TemplateError(f"{logical_id}: no DefinitionUri, Definition or DefinitionString")
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        json.loads(text)  # a broken definition fails here, naming the state machine, not deep inside moto
        arn = sfn.create_state_machine(
            name=name,
            definition=text,
            roleArn=self._arn("iam", f"role/{name}-role").replace(f":{self.stack.region}:", "::"),
            type=props.get("Type", "STANDARD"),
        )["stateMachineArn"]
        self._set(logical_id, arn, Name=name, Arn=arn)

    def _function(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self._name(logical_id, props.get("FunctionName"), limit=64)
        arn = self._arn("lambda", f"function:{name}")
        self._set(logical_id, name, Arn=arn)

    def _layer(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self._name(logical_id, props.get("LayerName"), limit=64)
        self._set(logical_id, self._arn("lambda", f"layer:{name}:1"))

    def _api(self, logical_id: str, props: dict[str, Any]) -> None:
        self._set(logical_id, "local", RootResourceId="root")


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's CorsRule property names -> the S3 API's."""
    renamed = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
    return {renamed.get(k, k): v for k, v in rule.items()}


def provision(stack: Stack, client: Callable[[str], Any]) -> list[str]:
    """Create every active resource of `stack`; return the logical ids that were skipped."""
    provisioner = Provisioner(stack, client)
    provisioner.run()
    return provisioner.skipped
