"""Prompt management routes (DESIGN §3 Prompts): versions, labels, rendering. Scopes genai/prompts.read|write."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.api import create_app, current_caller, handle
from genai_core.observability import logger, metrics
from genai_core.pagination import parse_limit
from genai_core.prompts import views
from genai_core.prompts.models import MAX_VERSION, CreatePromptRequest, RenderRequest, SetLabelRequest
from genai_core.prompts.service import get_prompt_service
from genai_core.scopes import PROMPTS_READ, PROMPTS_WRITE, needs

READ, WRITE = needs(PROMPTS_READ), needs(PROMPTS_WRITE)
TAGS = ["Prompts"]
app = create_app()


def _app_id() -> str:
    return current_caller(app).app_id


@app.post("/v1/prompts", security=WRITE, tags=TAGS, status_code=201, summary="Create a prompt or its next version")
def create_prompt(body: CreatePromptRequest) -> Response[views.PromptVersionView]:
    resolved = get_prompt_service().create_version(_app_id(), body)
    metrics.add_metric(name="PromptVersionsSaved", unit=MetricUnit.Count, value=1)
    return Response(201, content_types.APPLICATION_JSON, views.version_view(resolved.version, resolved.labels))


@app.get("/v1/prompts", security=READ, tags=TAGS, summary="List the app's prompts")
def list_prompts(
    prefix: Annotated[str, Query(max_length=128)] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> views.PromptListing:
    listing = get_prompt_service().list_prompts(
        _app_id(), prefix=prefix, limit=parse_limit(limit), next_token=next_token
    )
    return views.listing_view(listing)


@app.get("/v1/prompts/<name>", security=READ, tags=TAGS, summary="Get a version (by ?version=, ?label=, or default)")
def get_prompt(
    name: str,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
) -> views.ResolvedPromptView:
    resolved = get_prompt_service().get(_app_id(), name, version=version, label=label)
    return views.resolved_view(resolved)


@app.get("/v1/prompts/<name>/versions", security=READ, tags=TAGS, summary="List a prompt's versions, newest first")
def list_versions(
    name: str,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> views.VersionListingView:
    listing = get_prompt_service().list_versions(_app_id(), name, limit=parse_limit(limit), next_token=next_token)
    return views.versions_view(listing)


@app.put("/v1/prompts/<name>/labels/<label>", security=WRITE, tags=TAGS, summary="Point a label at a version")
def set_label(name: str, label: str, body: SetLabelRequest) -> views.LabelsView:
    labels = get_prompt_service().set_label(_app_id(), name, label, body.version)
    return views.LabelsView(name=name, labels=labels)


@app.delete("/v1/prompts/<name>/labels/<label>", security=WRITE, tags=TAGS, summary="Remove a label")
def delete_label(name: str, label: str) -> views.LabelsView:
    labels = get_prompt_service().delete_label(_app_id(), name, label)
    return views.LabelsView(name=name, labels=labels)


@app.delete("/v1/prompts/<name>", security=WRITE, tags=TAGS, status_code=204, summary="Delete every version")
def delete_prompt(name: str) -> Response[str]:
    get_prompt_service().delete_prompt(_app_id(), name)
    return Response(204, None, "")


@app.post("/v1/prompts/<name>/render", security=READ, tags=TAGS, summary="Render a version with variables")
def render_prompt(name: str, body: RenderRequest) -> views.RenderedView:
    rendered = get_prompt_service().render(_app_id(), name, body.variables, version=body.version, label=body.label)
    metrics.add_metric(name="PromptsRendered", unit=MetricUnit.Count, value=1)
    return views.rendered_view(rendered)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
