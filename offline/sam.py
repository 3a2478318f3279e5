"""What the offline runtime needs from the SAM resources: functions, their API routes and their SQS sources."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.cfn import Stack, TemplateError

FUNCTION_TYPE = "AWS::Serverless::Function"
API_TYPE = "AWS::Serverless::Api"
LAYER_TYPE = "AWS::Serverless::LayerVersion"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]


@dataclass(frozen=True)
class Route:
    """One `Api` event: METHOD path -> function, with the authorizer checks API Gateway would make."""

    method: str
    path: str
    function_id: str
    api_id: str
    authorizer: str | None  # name of the Api's authorizer, None for `Authorizer: NONE`
    user_pool_id: str | None  # logical id of the pool behind that authorizer
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class SqsSource:
    function_id: str
    queue_id: str  # logical id of the queue
    batch_size: int
    batching_window_s: int
    report_item_failures: bool
    enabled: bool


@dataclass
class Application:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    sqs_sources: list[SqsSource] = field(default_factory=list)
    gateway_responses: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # api id -> responses


def _merge_globals(stack: Stack, props: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy((stack.template.get("Globals") or {}).get("Function") or {})
    for key, value in props.items():
        if key == "Environment":
            variables = merged.setdefault("Environment", {}).setdefault("Variables", {})
            variables.update((value or {}).get("Variables") or {})
        elif key == "Layers":
            merged["Layers"] = list(merged.get("Layers") or []) + list(value or [])
        else:
            merged[key] = value
    return merged


def _layer_dirs(stack: Stack, layers: list[Any]) -> tuple[Path, ...]:
    dirs = []
    for layer in layers:
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in stack.resources:
            spec = stack.resources[layer["Ref"]]
            if spec.get("Type") == LAYER_TYPE:
                dirs.append((stack.root / spec["Properties"]["ContentUri"]).resolve())
                continue
        stack.warnings.append(f"layer {layer!r} is not a layer of this template; its code is not loaded")
    return tuple(dirs)


def function_name(stack: Stack, logical_id: str) -> str:
    props = stack.resources[logical_id].get("Properties") or {}
    return str(stack.resolve(props.get("FunctionName") or f"{stack.stack_name}-{logical_id}"))


def _function(stack: Stack, logical_id: str, props: dict[str, Any]) -> FunctionSpec:
    merged = _merge_globals(stack, props)
    name = function_name(stack, logical_id)
    if "CodeUri" not in merged or "Handler" not in merged:
        raise TemplateError(f"{logical_id}: the offline runtime needs CodeUri and Handler")
    env = stack.resolve((merged.get("Environment") or {}).get("Variables") or {})
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=f"arn:aws:lambda:{stack.region}:{stack.account_id}:function:{name}",
        code_dir=(stack.root / merged["CodeUri"]).resolve(),
        handler=merged["Handler"],
        timeout=int(merged.get("Timeout", 3)),
        memory_mb=int(merged.get("MemorySize", 128)),
        environment={k: "" if v is None else str(v) for k, v in env.items()},
        layer_dirs=_layer_dirs(stack, merged.get("Layers") or []),
    )


def _api_auth(stack: Stack, api_id: str) -> dict[str, Any]:
    return ((stack.resources.get(api_id) or {}).get("Properties") or {}).get("Auth") or {}


def _route(stack: Stack, function_id: str, props: dict[str, Any]) -> Route:
    api_ref = props.get("RestApiId")
    api_id = api_ref["Ref"] if isinstance(api_ref, dict) and "Ref" in api_ref else "ServerlessRestApi"
    api_auth = _api_auth(stack, api_id)
    auth = props.get("Auth") or {}
    authorizer = auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
    if authorizer in (None, "NONE", "AWS_IAM"):
        if authorizer == "AWS_IAM":
            stack.warnings.append(f"{function_id}: AWS_IAM auth is not emulated; route left open")
        return Route(props["Method"].upper(), props["Path"], function_id, api_id, None, None, ())
    spec = (api_auth.get("Authorizers") or {}).get(authorizer)
    if spec is None:
        raise TemplateError(f"{function_id}: authorizer {authorizer} is not defined on {api_id}")
    pool_arn = spec.get("UserPoolArn")
    if not (isinstance(pool_arn, dict) and "Fn::GetAtt" in pool_arn):
        raise TemplateError(f"{api_id}.{authorizer}: only Cognito authorizers on a pool of this template are emulated")
    scopes = auth.get("AuthorizationScopes", spec.get("AuthorizationScopes") or [])
    return Route(
        method=props["Method"].upper(),
        path=props["Path"],
        function_id=function_id,
        api_id=api_id,
        authorizer=authorizer,
        user_pool_id=pool_arn["Fn::GetAtt"][0],
        scopes=tuple(scopes),
    )


def _sqs_source(stack: Stack, function_id: str, props: dict[str, Any]) -> SqsSource:
    queue = props.get("Queue")
    if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
        raise TemplateError(f"{function_id}: an SQS event must name a queue of this template with !GetAtt Q.Arn")
    return SqsSource(
        function_id=function_id,
        queue_id=queue["Fn::GetAtt"][0],
        batch_size=int(props.get("BatchSize", 10)),
        batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        enabled=bool(stack.resolve(props.get("Enabled", True))),
    )


def read_application(stack: Stack) -> Application:
    """Functions, routes and event sources of the (already provisioned) stack."""
    app = Application()
    for logical_id, spec in stack.of_type(FUNCTION_TYPE):
        props = spec.get("Properties") or {}
        app.functions[logical_id] = _function(stack, logical_id, props)
        for event_name, event in (props.get("Events") or {}).items():
            kind, event_props = event.get("Type"), event.get("Properties") or {}
            if kind == "Api":
                app.routes.append(_route(stack, logical_id, event_props))
            elif kind == "SQS":
                app.sqs_sources.append(_sqs_source(stack, logical_id, event_props))
            else:
                stack.warnings.append(f"{logical_id}.{event_name}: {kind} events are not emulated offline")
    for api_id, spec in stack.of_type(API_TYPE):
        responses = stack.resolve((spec.get("Properties") or {}).get("GatewayResponses") or {})
        app.gateway_responses[api_id] = responses
    return app
