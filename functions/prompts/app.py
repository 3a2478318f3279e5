"""Prompt management routes (DESIGN §3 Prompts): versions, labels, rendering. Scopes genai/prompts.read|write."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.api import create_app, current_caller, handle
from genai_core.identity import Caller
from genai_core.observability import logger, metrics
from genai_core.pagination import parse_limit
from genai_core.prompts import views
from genai_core.prompts.models import CreatePromptRequest, RenderRequest, SetLabelRequest
from genai_core.prompts.service import get_prompt_service

READ, WRITE = "genai/prompts.read", "genai/prompts.write"
app = create_app()


def _caller(scope: str) -> Caller:
    caller = current_caller(app)
    caller.require_any_scope(scope)
    return caller


@app.post("/v1/prompts")
def create_prompt(body: CreatePromptRequest) -> Response[dict[str, Any]]:
    resolved = get_prompt_service().create_version(_caller(WRITE).app_id, body)
    metrics.add_metric(name="PromptVersionsSaved", unit=MetricUnit.Count, value=1)
    return Response(201, content_types.APPLICATION_JSON, views.version_json(resolved.version, resolved.labels))


@app.get("/v1/prompts")
def list_prompts(
    prefix: Annotated[str, Query(max_length=128)] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    listing = get_prompt_service().list_prompts(
        _caller(READ).app_id, prefix=prefix, limit=parse_limit(limit), next_token=next_token
    )
    return views.listing_json(listing)


@app.get("/v1/prompts/<name>")
def get_prompt(
    name: str,
    version: Annotated[int | None, Query(ge=1)] = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    resolved = get_prompt_service().get(_caller(READ).app_id, name, version=version, label=label)
    return views.resolved_json(resolved)


@app.get("/v1/prompts/<name>/versions")
def list_versions(
    name: str,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    listing = get_prompt_service().list_versions(
        _caller(READ).app_id, name, limit=parse_limit(limit), next_token=next_token
    )
    return views.versions_json(listing)


@app.put("/v1/prompts/<name>/labels/<label>")
def set_label(name: str, label: str, body: SetLabelRequest) -> dict[str, Any]:
    labels = get_prompt_service().set_label(_caller(WRITE).app_id, name, label, body.version)
    return {"name": name, "labels": labels}


@app.delete("/v1/prompts/<name>/labels/<label>")
def delete_label(name: str, label: str) -> dict[str, Any]:
    labels = get_prompt_service().delete_label(_caller(WRITE).app_id, name, label)
    return {"name": name, "labels": labels}


@app.delete("/v1/prompts/<name>")
def delete_prompt(name: str) -> Response[str]:
    get_prompt_service().delete_prompt(_caller(WRITE).app_id, name)
    return Response(204, None, "")


@app.post("/v1/prompts/<name>/render")
def render_prompt(name: str, body: RenderRequest) -> dict[str, Any]:
    rendered = get_prompt_service().render(
        _caller(READ).app_id, name, body.variables, version=body.version, label=body.label
    )
    metrics.add_metric(name="PromptsRendered", unit=MetricUnit.Count, value=1)
    return views.rendered_json(rendered)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
