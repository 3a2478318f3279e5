"""template.yaml keeps security finding 12 fixed, for every function, key statement and route added later:

- every function writes to a log group the template declares (retention, the platform key), in JSON;
- every function reserves concurrency from FunctionReservedConcurrency, and 0 means no reservation at all;
- the key policy's service-principal statements are confined to this account and to their source;
- the documents bucket logs to the access-log bucket, which lets only that bucket deliver;
- every per-method throttle names a route that exists, and the prompt writes have the write throttle.

Each rule is a function returning the problems it finds in a parsed template, tested on the repository's
template (no problems) and on a copy with one defect (that defect reported), so none of them passes vacuously.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from offline.cfn import NO_VALUE, Stack, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTION_TYPE = "AWS::Serverless::Function"

PLATFORM_KEY_ARN = {"Fn::GetAtt": ["PlatformKey", "Arn"]}
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}
DOCUMENTS_BUCKET_ARN = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-docs-${AWS::AccountId}-${AWS::Region}"}
ALARMS_OF_THIS_ACCOUNT = {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}
RESERVED_CONCURRENCY = {
    "Fn::If": ["ReserveFunctionConcurrency", {"Ref": "FunctionReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
}
WRITE_THROTTLE = {
    "ThrottlingRateLimit": {"Ref": "ApiWriteThrottlingRateLimit"},
    "ThrottlingBurstLimit": {"Ref": "ApiWriteThrottlingBurstLimit"},
}
PROMPT_WRITES = {
    ("POST", "/v1/prompts"),
    ("DELETE", "/v1/prompts/{name}"),
    ("PUT", "/v1/prompts/{name}/labels/{label}"),
    ("DELETE", "/v1/prompts/{name}/labels/{label}"),
}


# -- reading the template the way SAM does -------------------------------------------------------------------------
def _is_intrinsic(value: Any) -> bool:
    if not (isinstance(value, dict) and len(value) == 1):
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _sam_merge(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge key by key, lists concatenate, anything else (intrinsics too) is replaced."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _sam_merge(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with Globals.Function merged in."""
    merged = copy.deepcopy((template.get("Globals") or {}).get("Function") or {})
    for key, value in (template["Resources"][logical_id].get("Properties") or {}).items():
        merged[key] = _sam_merge(merged[key], value) if key in merged else value
    return merged


def functions(template: dict[str, Any]) -> list[str]:
    return [name for name, spec in template["Resources"].items() if spec.get("Type") == FUNCTION_TYPE]


def api_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every Api event of every function."""
    routes = set()
    for name in functions(template):
        for event in (template["Resources"][name].get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                routes.add((str(event["Properties"]["Method"]).upper(), event["Properties"]["Path"]))
    return routes


# -- the rules -----------------------------------------------------------------------------------------------------
def log_group_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template["Resources"]
    for name in functions(template):
        group = f"{name}LogGroup"
        logging_config = function_properties(template, name).get("LoggingConfig") or {}
        if logging_config.get("LogGroup") != {"Ref": group}:
            problems.append(f"{name}: LoggingConfig.LogGroup is not !Ref {group}")
        if logging_config.get("LogFormat") != "JSON":
            problems.append(f"{name}: LoggingConfig.LogFormat is not JSON")
        spec = resources.get(group)
        if spec is None or spec.get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{name}: no AWS::Logs::LogGroup {group}")
            continue
        props = spec.get("Properties") or {}
        if props.get("RetentionInDays") != {"Ref": "LogRetentionInDays"}:
            problems.append(f"{group}: RetentionInDays is not !Ref LogRetentionInDays")
        if props.get("KmsKeyId") != PLATFORM_KEY_ARN:
            problems.append(f"{group}: KmsKeyId is not !GetAtt PlatformKey.Arn")
    return problems


def log_level_problems(template: dict[str, Any]) -> list[str]:
    """With JSON logs Lambda's ApplicationLogLevel overrides POWERTOOLS_LOG_LEVEL in AWS; offline only the latter
    counts. They must agree, or a function logs differently offline and deployed."""
    problems = []
    for name in functions(template):
        props = function_properties(template, name)
        alc = (props.get("LoggingConfig") or {}).get("ApplicationLogLevel", "INFO")
        powertools = ((props.get("Environment") or {}).get("Variables") or {}).get("POWERTOOLS_LOG_LEVEL", "INFO")
        if str(alc).upper() != str(powertools).upper().replace("WARNING", "WARN"):
            problems.append(f"{name}: ApplicationLogLevel {alc} != POWERTOOLS_LOG_LEVEL {powertools}")
    return problems


def concurrency_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for name in functions(template):
        if function_properties(template, name).get("ReservedConcurrentExecutions") != RESERVED_CONCURRENCY:
            problems.append(
                f"{name}: ReservedConcurrentExecutions is not "
                "!If [ReserveFunctionConcurrency, !Ref FunctionReservedConcurrency, !Ref AWS::NoValue]"
            )
    condition = (template.get("Conditions") or {}).get("ReserveFunctionConcurrency")
    if condition != {"Fn::Not": [{"Fn::Equals": [{"Ref": "FunctionReservedConcurrency"}, "0"]}]}:
        problems.append("condition ReserveFunctionConcurrency is not !Not [!Equals [FunctionReservedConcurrency, '0']]")
    return problems


def _service(statement: dict[str, Any]) -> Any:
    principal = statement.get("Principal")
    return principal.get("Service") if isinstance(principal, dict) else None


def _conditions(statement: dict[str, Any]) -> dict[str, Any]:
    """condition key -> value, whatever the operator."""
    return {key: value for block in (statement.get("Condition") or {}).values() for key, value in block.items()}


def key_policy_problems(template: dict[str, Any]) -> list[str]:
    """Service principals act for any account unless bound to this one and to the resource they act for.
    CloudWatch Logs is bound instead by the log group ARN in its encryption context."""
    problems = []
    statements = template["Resources"]["PlatformKey"]["Properties"]["KeyPolicy"]["Statement"]
    for statement in statements:
        service = _service(statement)
        if service is None:
            continue
        sid, conditions = statement.get("Sid", "?"), _conditions(statement)
        if "kms:EncryptionContext:aws:logs:arn" in conditions:
            continue
        if conditions.get("aws:SourceAccount") != THIS_ACCOUNT:
            problems.append(f"{sid} ({service}): no aws:SourceAccount = this account")
        if "aws:SourceArn" not in conditions:
            problems.append(f"{sid} ({service}): no aws:SourceArn")
    return problems


def access_log_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template["Resources"]
    documents = resources["DocumentsBucket"]
    logging_config = documents["Properties"].get("LoggingConfiguration") or {}
    if logging_config.get("DestinationBucketName") != {"Ref": "AccessLogsBucket"}:
        problems.append("DocumentsBucket: LoggingConfiguration does not deliver to AccessLogsBucket")
    prefix = str(logging_config.get("LogFilePrefix", ""))
    if not prefix.endswith("/"):
        problems.append("DocumentsBucket: LogFilePrefix is not a folder (ending in /)")
    depends = documents.get("DependsOn") or []
    if "AccessLogsBucketPolicy" not in ([depends] if isinstance(depends, str) else depends):
        problems.append(
            "DocumentsBucket: does not depend on AccessLogsBucketPolicy (would log before delivery is allowed)"
        )

    logs = resources.get("AccessLogsBucket", {}).get("Properties") or {}
    sse = [
        r["ServerSideEncryptionByDefault"]
        for r in logs.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    ]
    if sse != [{"SSEAlgorithm": "AES256"}]:
        problems.append("AccessLogsBucket: not SSE-S3 (AES256), the only encryption S3 log delivery writes to")
    block = logs.get("PublicAccessBlockConfiguration") or {}
    if not all(
        block.get(k) is True
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    ):
        problems.append("AccessLogsBucket: public access is not fully blocked")
    if (logs.get("OwnershipControls") or {}).get("Rules") != [{"ObjectOwnership": "BucketOwnerEnforced"}]:
        problems.append("AccessLogsBucket: ownership is not BucketOwnerEnforced")
    rules = (logs.get("LifecycleConfiguration") or {}).get("Rules") or []
    if not any(r.get("Status") == "Enabled" and "ExpirationInDays" in r and "Prefix" not in r for r in rules):
        problems.append("AccessLogsBucket: no enabled lifecycle rule expiring every log")

    policy = resources.get("AccessLogsBucketPolicy", {}).get("Properties") or {}
    if policy.get("Bucket") != {"Ref": "AccessLogsBucket"}:
        problems.append("AccessLogsBucketPolicy: not on AccessLogsBucket")
    statements = (policy.get("PolicyDocument") or {}).get("Statement") or []
    delivery = [s for s in statements if _service(s) == "logging.s3.amazonaws.com"]
    if len(delivery) != 1:
        problems.append("AccessLogsBucketPolicy: no single statement for logging.s3.amazonaws.com")
    else:
        (statement,) = delivery
        conditions = _conditions(statement)
        if statement.get("Effect") != "Allow" or statement.get("Action") != "s3:PutObject":
            problems.append("AccessLogsBucketPolicy: log delivery is not an Allow of s3:PutObject")
        if statement.get("Resource") != {"Fn::Sub": f"${{AccessLogsBucket.Arn}}/{prefix}*"}:
            problems.append(f"AccessLogsBucketPolicy: log delivery is not limited to {prefix}")
        if conditions.get("aws:SourceAccount") != THIS_ACCOUNT:
            problems.append("AccessLogsBucketPolicy: log delivery has no aws:SourceAccount = this account")
        if conditions.get("aws:SourceArn") != DOCUMENTS_BUCKET_ARN:
            problems.append("AccessLogsBucketPolicy: log delivery's aws:SourceArn is not the documents bucket")
    tls = [s for s in statements if s.get("Effect") == "Deny" and _conditions(s).get("aws:SecureTransport") == "false"]
    if not tls:
        problems.append("AccessLogsBucketPolicy: plain HTTP is not denied")
    return problems


def _decode(resource_path: str) -> str:
    """MethodSettings' ResourcePath: "/" then the route with each of its "/" as "~1" ("/~1v1~1health")."""
    return resource_path.removeprefix("/").replace("~1", "/")


def throttle_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    settings = template["Resources"]["GenAIApi"]["Properties"]["MethodSettings"]
    defaults = [s for s in settings if s.get("ResourcePath") == "/*" and s.get("HttpMethod") == "*"]
    if len(defaults) != 1:
        return ['GenAIApi: no single "/*" "*" MethodSettings entry (the per-method default)']
    (default,) = defaults
    if default.get("ThrottlingRateLimit") != {"Ref": "ApiThrottlingRateLimit"}:
        problems.append("default method throttle: rate is not !Ref ApiThrottlingRateLimit")
    if default.get("ThrottlingBurstLimit") != {"Ref": "ApiThrottlingBurstLimit"}:
        problems.append("default method throttle: burst is not !Ref ApiThrottlingBurstLimit")
    routes = api_routes(template)
    overrides: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in settings:
        if entry is default:
            continue
        key = (str(entry.get("HttpMethod")).upper(), _decode(str(entry.get("ResourcePath"))))
        where = f"{key[0]} {key[1]}"
        if key in overrides:
            problems.append(f"{where}: more than one MethodSettings entry")
        overrides[key] = entry
        if key not in routes:
            problems.append(f"{where}: MethodSettings names no route of the template")
        if "ThrottlingRateLimit" not in entry or "ThrottlingBurstLimit" not in entry:
            problems.append(f"{where}: override without both throttling limits")
        for setting in ("MetricsEnabled", "LoggingLevel", "DataTraceEnabled"):
            if entry.get(setting) != default.get(setting):
                problems.append(f"{where}: {setting} differs from the default entry")
    for method, path in sorted(PROMPT_WRITES):
        entry = overrides.get((method, path)) or {}
        if {k: entry.get(k) for k in WRITE_THROTTLE} != WRITE_THROTTLE:
            problems.append(f"{method} {path}: not throttled with ApiWriteThrottlingRateLimit/BurstLimit")
    return problems


RULES = {
    "log groups": log_group_problems,
    "log levels": log_level_problems,
    "reserved concurrency": concurrency_problems,
    "key policy": key_policy_problems,
    "access logs": access_log_problems,
    "method throttles": throttle_problems,
}


# -- the repository's template ---------------------------------------------------------------------------------------
def test_the_template_has_functions_to_check() -> None:
    # GIVEN the repository's template
    # WHEN its functions are listed
    # THEN there are some (so the per-function rules below are not vacuously satisfied)
    assert {"SystemFunction", "PromptsFunction"} <= set(functions(TEMPLATE))


@pytest.mark.parametrize("rule", RULES)
def test_the_repository_template_follows_the_rule(rule: str) -> None:
    # GIVEN the repository's template
    # WHEN the rule is checked
    # THEN nothing is reported
    assert RULES[rule](TEMPLATE) == []


@pytest.mark.parametrize(("value", "expected"), [("20", "20"), ("5", "5"), ("0", NO_VALUE)])
def test_reserved_concurrency_follows_the_parameter_and_zero_reserves_nothing(value: str, expected: Any) -> None:
    # GIVEN the template deployed with FunctionReservedConcurrency=<value>
    stack = Stack(TEMPLATE, ROOT, "genai-test", "us-east-1", "123456789012", {"FunctionReservedConcurrency": value})

    # WHEN each function's ReservedConcurrentExecutions is resolved
    resolved = {
        name: stack.resolve(function_properties(TEMPLATE, name)["ReservedConcurrentExecutions"])
        for name in functions(TEMPLATE)
    }

    # THEN every function reserves that many, and 0 drops the property (no reservation, deployable at quota 10)
    assert set(resolved.values()) == {expected}
    assert TEMPLATE["Parameters"]["FunctionReservedConcurrency"]["MinValue"] == 0


def test_the_key_policy_binds_s3_to_the_documents_bucket_and_cloudwatch_to_this_accounts_alarms() -> None:
    # GIVEN the platform key's policy
    statements = {s["Sid"]: s for s in TEMPLATE["Resources"]["PlatformKey"]["Properties"]["KeyPolicy"]["Statement"]}

    # WHEN the S3 and CloudWatch statements are read
    s3 = statements["S3SendsToEncryptedQueue"]
    cloudwatch = statements["CloudWatchAlarmsPublishToEncryptedTopic"]

    # THEN S3 may act only for the documents bucket (the name the bucket is given), CloudWatch only for alarms of
    # this account and region, and both only for this account
    assert s3["Condition"]["ArnLike"] == {"aws:SourceArn": DOCUMENTS_BUCKET_ARN}
    assert TEMPLATE["Resources"]["DocumentsBucket"]["Properties"]["BucketName"]["Fn::Sub"] == (
        DOCUMENTS_BUCKET_ARN["Fn::Sub"].removeprefix("arn:${AWS::Partition}:s3:::")
    )
    assert cloudwatch["Condition"]["ArnLike"] == {"aws:SourceArn": ALARMS_OF_THIS_ACCOUNT}
    for statement in (s3, cloudwatch):
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": THIS_ACCOUNT}


def test_the_key_policy_refers_to_no_resource_of_the_stack() -> None:
    # GIVEN the platform key, which the buckets, queues, topics and log groups are encrypted with
    stack = Stack(TEMPLATE, ROOT, "genai-test", "us-east-1", "123456789012")

    # WHEN its dependencies are collected
    # THEN there are none (a !Ref/!GetAtt to anything it encrypts would be a dependency cycle), and the whole
    # template still has a creation order
    assert stack.dependencies("PlatformKey") == set()
    assert stack.creation_order()


# -- each rule reports its defect ------------------------------------------------------------------------------------
def _defect_missing_log_group(t: dict[str, Any]) -> None:
    del t["Resources"]["PromptsFunctionLogGroup"]


def _defect_unwired_log_group(t: dict[str, Any]) -> None:
    del t["Resources"]["PromptsFunction"]["Properties"]["LoggingConfig"]


def _defect_unencrypted_log_group(t: dict[str, Any]) -> None:
    del t["Resources"]["SystemFunctionLogGroup"]["Properties"]["KmsKeyId"]


def _defect_log_group_kept_forever(t: dict[str, Any]) -> None:
    del t["Resources"]["SystemFunctionLogGroup"]["Properties"]["RetentionInDays"]


def _defect_text_logs(t: dict[str, Any]) -> None:
    t["Globals"]["Function"]["LoggingConfig"]["LogFormat"] = "Text"


def _defect_new_function_without_log_group(t: dict[str, Any]) -> None:
    t["Resources"]["ReportsFunction"] = {
        "Type": FUNCTION_TYPE,
        "Properties": {"CodeUri": "functions/reports/", "Handler": "app.lambda_handler"},
    }


def _defect_debug_only_offline(t: dict[str, Any]) -> None:
    t["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] = "DEBUG"


def _defect_function_opts_out_of_reservation(t: dict[str, Any]) -> None:
    t["Resources"]["PromptsFunction"]["Properties"]["ReservedConcurrentExecutions"] = 100


def _defect_no_reservation_in_globals(t: dict[str, Any]) -> None:
    del t["Globals"]["Function"]["ReservedConcurrentExecutions"]


def _defect_zero_still_reserves(t: dict[str, Any]) -> None:
    t["Conditions"]["ReserveFunctionConcurrency"] = {"Fn::Equals": ["true", "true"]}


def _key_statement(t: dict[str, Any], sid: str) -> dict[str, Any]:
    statements = t["Resources"]["PlatformKey"]["Properties"]["KeyPolicy"]["Statement"]
    return next(s for s in statements if s.get("Sid") == sid)


def _defect_s3_without_source_arn(t: dict[str, Any]) -> None:
    del _key_statement(t, "S3SendsToEncryptedQueue")["Condition"]["ArnLike"]


def _defect_cloudwatch_unconditioned(t: dict[str, Any]) -> None:
    del _key_statement(t, "CloudWatchAlarmsPublishToEncryptedTopic")["Condition"]


def _defect_new_service_statement(t: dict[str, Any]) -> None:
    t["Resources"]["PlatformKey"]["Properties"]["KeyPolicy"]["Statement"].append(
        {"Sid": "EventsToQueue", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "kms:*"}
    )


def _defect_documents_bucket_not_logged(t: dict[str, Any]) -> None:
    del t["Resources"]["DocumentsBucket"]["Properties"]["LoggingConfiguration"]


def _defect_log_bucket_with_kms(t: dict[str, Any]) -> None:
    rule = t["Resources"]["AccessLogsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    rule["ServerSideEncryptionByDefault"] = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": PLATFORM_KEY_ARN}


def _defect_log_delivery_from_anywhere(t: dict[str, Any]) -> None:
    statement = t["Resources"]["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    del statement["Condition"]["ArnLike"]


def _defect_logs_kept_forever(t: dict[str, Any]) -> None:
    del t["Resources"]["AccessLogsBucket"]["Properties"]["LifecycleConfiguration"]


def _defect_throttle_for_a_route_that_is_gone(t: dict[str, Any]) -> None:
    t["Resources"]["GenAIApi"]["Properties"]["MethodSettings"].append(
        {
            **WRITE_THROTTLE,
            "ResourcePath": "/~1v1~1promtps",
            "HttpMethod": "POST",
            "MetricsEnabled": True,
            "LoggingLevel": "OFF",
            "DataTraceEnabled": False,
        }
    )


def _defect_write_without_write_throttle(t: dict[str, Any]) -> None:
    settings = t["Resources"]["GenAIApi"]["Properties"]["MethodSettings"]
    settings[:] = [s for s in settings if not (s["HttpMethod"] == "POST" and s["ResourcePath"] == "/~1v1~1prompts")]


def _defect_stage_default_hardcoded(t: dict[str, Any]) -> None:
    t["Resources"]["GenAIApi"]["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] = 1000


DEFECTS = [
    ("log groups", _defect_missing_log_group, "PromptsFunction: no AWS::Logs::LogGroup PromptsFunctionLogGroup"),
    (
        "log groups",
        _defect_unwired_log_group,
        "PromptsFunction: LoggingConfig.LogGroup is not !Ref PromptsFunctionLogGroup",
    ),
    ("log groups", _defect_unencrypted_log_group, "SystemFunctionLogGroup: KmsKeyId is not !GetAtt PlatformKey.Arn"),
    (
        "log groups",
        _defect_log_group_kept_forever,
        "SystemFunctionLogGroup: RetentionInDays is not !Ref LogRetentionInDays",
    ),
    ("log groups", _defect_text_logs, "SystemFunction: LoggingConfig.LogFormat is not JSON"),
    (
        "log groups",
        _defect_new_function_without_log_group,
        "ReportsFunction: no AWS::Logs::LogGroup ReportsFunctionLogGroup",
    ),
    (
        "log levels",
        _defect_debug_only_offline,
        "SystemFunction: ApplicationLogLevel INFO != POWERTOOLS_LOG_LEVEL DEBUG",
    ),
    ("reserved concurrency", _defect_function_opts_out_of_reservation, "PromptsFunction: ReservedConcurrentExecutions"),
    ("reserved concurrency", _defect_no_reservation_in_globals, "SystemFunction: ReservedConcurrentExecutions"),
    ("reserved concurrency", _defect_zero_still_reserves, "condition ReserveFunctionConcurrency"),
    ("key policy", _defect_s3_without_source_arn, "S3SendsToEncryptedQueue (s3.amazonaws.com): no aws:SourceArn"),
    (
        "key policy",
        _defect_cloudwatch_unconditioned,
        "CloudWatchAlarmsPublishToEncryptedTopic (cloudwatch.amazonaws.com): no aws:SourceAccount",
    ),
    ("key policy", _defect_new_service_statement, "EventsToQueue (events.amazonaws.com): no aws:SourceArn"),
    (
        "access logs",
        _defect_documents_bucket_not_logged,
        "DocumentsBucket: LoggingConfiguration does not deliver to AccessLogsBucket",
    ),
    ("access logs", _defect_log_bucket_with_kms, "AccessLogsBucket: not SSE-S3"),
    (
        "access logs",
        _defect_log_delivery_from_anywhere,
        "AccessLogsBucketPolicy: log delivery's aws:SourceArn is not the documents bucket",
    ),
    ("access logs", _defect_logs_kept_forever, "AccessLogsBucket: no enabled lifecycle rule expiring every log"),
    (
        "method throttles",
        _defect_throttle_for_a_route_that_is_gone,
        "POST /v1/promtps: MethodSettings names no route of the template",
    ),
    (
        "method throttles",
        _defect_write_without_write_throttle,
        "POST /v1/prompts: not throttled with ApiWriteThrottlingRateLimit/BurstLimit",
    ),
    (
        "method throttles",
        _defect_stage_default_hardcoded,
        "default method throttle: rate is not !Ref ApiThrottlingRateLimit",
    ),
]


@pytest.mark.parametrize(
    ("rule", "defect", "expected"), DEFECTS, ids=[d[1].__name__.removeprefix("_defect_") for d in DEFECTS]
)
def test_each_defect_is_reported(rule: str, defect: Any, expected: str) -> None:
    # GIVEN a copy of the template with one defect
    template = copy.deepcopy(TEMPLATE)
    defect(template)

    # WHEN the rule it breaks is checked
    problems = RULES[rule](template)

    # THEN the defect is reported, naming the resource
    assert any(p.startswith(expected) for p in problems), problems
