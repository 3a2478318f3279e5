"""Operators' admin routes (DESIGN §3 Admin): usage, recent invocations, platform totals, documents by status, any
app's prompts, and the model catalogue. Admins only (the admin pool's `admins` group); every route is read-only but
the catalogue's."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.api import create_app, current_actor, handle
from genai_core.gateway.catalogue import ModelEntry
from genai_core.knowledge.models import Status
from genai_core.observability import logger
from genai_core.operations.models import (
    DocumentListing,
    InvocationListing,
    ModelEntryBody,
    ModelListing,
    PlatformTotals,
    UsageReport,
)
from genai_core.operations.service import get_operations_service
from genai_core.pagination import parse_limit
from genai_core.prompts import views as prompt_views
from genai_core.prompts.models import MAX_VERSION
from genai_core.prompts.service import get_prompt_service
from genai_core.scopes import ADMIN

TAGS = ["Admin"]
app = create_app()


@app.get("/admin/usage", security=ADMIN, tags=TAGS, summary="Usage and cost per day, model or app over a date range")
def usage(
    from_: Annotated[
        str | None, Query(alias="from", max_length=10, description="YYYY-MM-DD (UTC); default 6 days before to")
    ] = None,
    to: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC), included; default today")] = None,
    app_id: Annotated[str | None, Query(max_length=128)] = None,
    model: Annotated[str | None, Query(max_length=128)] = None,
    group_by: Annotated[
        str | None, Query(max_length=32, description="day, model, app or a comma-separated mix")
    ] = None,
) -> UsageReport:
    return get_operations_service().usage(from_=from_, to=to, app_id=app_id, model=model, group_by=group_by)


@app.get("/admin/totals", security=ADMIN, tags=TAGS, summary="Platform totals today and this month (UTC)")
def totals() -> PlatformTotals:
    return get_operations_service().totals()


@app.get("/admin/apps/<app_id>/invocations", security=ADMIN, tags=TAGS, summary="An app's recent calls, newest first")
def invocations(
    app_id: str,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> InvocationListing:
    return get_operations_service().invocations(app_id, limit=parse_limit(limit), next_token=next_token)


@app.get("/admin/apps/<app_id>/prompts", security=ADMIN, tags=TAGS, summary="An app's prompts, by name")
def app_prompts(
    app_id: str,
    prefix: Annotated[str, Query(max_length=128)] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> prompt_views.PromptListing:
    listing = get_prompt_service().list_prompts(app_id, prefix=prefix, limit=parse_limit(limit), next_token=next_token)
    return prompt_views.listing_view(listing)


@app.get(
    "/admin/apps/<app_id>/prompts/<name>",
    security=ADMIN,
    tags=TAGS,
    summary="An app's prompt: the version resolved by default (or ?version=, ?label=) and its versions with labels",
)
def app_prompt(
    app_id: str,
    name: str,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100, description="Versions per page, newest first")] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> prompt_views.PromptDetailView:
    service = get_prompt_service()
    resolved = service.get(app_id, name, version=version, label=label)
    versions = service.list_versions(app_id, name, limit=parse_limit(limit), next_token=next_token)
    return prompt_views.detail_view(resolved, versions)


@app.get("/admin/documents", security=ADMIN, tags=TAGS, summary="Every app's documents with a status, newest first")
def documents(
    status: Annotated[Status, Query()] = "FAILED",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> DocumentListing:
    return get_operations_service().documents_by_status(status, limit=parse_limit(limit), next_token=next_token)


@app.get("/admin/models", security=ADMIN, tags=TAGS, summary="The model catalogue")
def list_models() -> ModelListing:
    return ModelListing(data=get_operations_service().list_models())


@app.get("/admin/models/<alias>", security=ADMIN, tags=TAGS, summary="One catalogue entry")
def get_model(alias: str) -> ModelEntry:
    return get_operations_service().get_model(alias)


@app.put(
    "/admin/models/<alias>",
    security=ADMIN,
    tags=TAGS,
    summary="Create or replace a catalogue entry (the gateway sees it within 30 s)",
)
def put_model(alias: str, body: ModelEntryBody) -> ModelEntry:
    # 200 for a creation too: one documented answer for a PUT that creates or replaces (the audit trail tells which).
    return get_operations_service().put_model(current_actor(app), alias, body)[0]


@app.delete("/admin/models/<alias>", security=ADMIN, tags=TAGS, status_code=204, summary="Remove a catalogue entry")
def delete_model(alias: str) -> Response[str]:
    get_operations_service().delete_model(current_actor(app), alias)
    return Response(204, None, "")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
