"""Admin API, apps half (DESIGN §3 Admin): onboard, list, change, disable/enable, rotate, delete apps, and the audit.

Only people of the admin pool in the `admins` group (`security=ADMIN`); app tokens get 403 on every route.
"""

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.admin import views
from genai_core.admin.models import CreateAppRequest, UpdateAppRequest
from genai_core.admin.service import AdminService, Onboarded, get_admin_service
from genai_core.api import create_app, current_actor, handle
from genai_core.observability import logger, metrics
from genai_core.pagination import parse_limit
from genai_core.scopes import ADMIN

TAGS = ["Admin"]
app = create_app()


def _view(service: AdminService, onboarded: Onboarded) -> views.AppWithSecret:
    return views.AppWithSecret(
        app=views.app_view(onboarded.app, service.default_limits), client_secret=onboarded.client_secret
    )


@app.post("/admin/apps", security=ADMIN, tags=TAGS, status_code=201, summary="Onboard an app (secret shown once)")
def create_app_route(body: CreateAppRequest) -> Response[views.AppWithSecret]:
    service = get_admin_service()
    onboarded = service.create(current_actor(app), body)
    metrics.add_metric(name="AppsOnboarded", unit=MetricUnit.Count, value=1)
    return Response(201, content_types.APPLICATION_JSON, _view(service, onboarded))


@app.get("/admin/apps", security=ADMIN, tags=TAGS, summary="List apps, newest first")
def list_apps(
    status: Annotated[Literal["active", "disabled", "deleted"] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> views.AppListingView:
    service = get_admin_service()
    listing = service.list_apps(status, parse_limit(limit), next_token)
    data = [views.app_view(record, service.default_limits) for record in listing.apps]
    return views.AppListingView(data=data, next_token=listing.next_token)


@app.get("/admin/apps/<app_id>", security=ADMIN, tags=TAGS, summary="One app")
def get_app(app_id: str) -> views.AppView:
    service = get_admin_service()
    return views.app_view(service.get(app_id), service.default_limits)


@app.patch("/admin/apps/<app_id>", security=ADMIN, tags=TAGS, summary="Change description, scopes, limits, models")
def update_app(app_id: str, body: UpdateAppRequest) -> views.AppView:
    service = get_admin_service()
    return views.app_view(service.update(current_actor(app), app_id, body), service.default_limits)


@app.post("/admin/apps/<app_id>/disable", security=ADMIN, tags=TAGS, summary="Refuse the app's requests")
def disable_app(app_id: str) -> views.AppView:
    service = get_admin_service()
    return views.app_view(service.set_status(current_actor(app), app_id, "disabled"), service.default_limits)


@app.post("/admin/apps/<app_id>/enable", security=ADMIN, tags=TAGS, summary="Accept the app's requests again")
def enable_app(app_id: str) -> views.AppView:
    service = get_admin_service()
    return views.app_view(service.set_status(current_actor(app), app_id, "active"), service.default_limits)


@app.post("/admin/apps/<app_id>/rotate-secret", security=ADMIN, tags=TAGS, summary="A new secret, same client id")
def rotate_secret(app_id: str) -> views.AppWithSecret:
    service = get_admin_service()
    return _view(service, service.rotate_secret(current_actor(app), app_id))


@app.delete("/admin/apps/<app_id>", security=ADMIN, tags=TAGS, status_code=204, summary="Delete the app's client")
def delete_app(app_id: str) -> Response[str]:
    get_admin_service().delete(current_actor(app), app_id)
    return Response(204, None, "")


@app.get("/admin/audit", security=ADMIN, tags=TAGS, summary="Every admin change, newest first")
def list_audit(
    app_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> views.AuditListingView:
    entries, token = get_admin_service().audit_entries(app_id, parse_limit(limit), next_token)
    return views.AuditListingView(data=[views.audit_view(e) for e in entries], next_token=token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
