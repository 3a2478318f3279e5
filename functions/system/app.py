"""Platform meta routes: health, the OpenAPI document (no auth), and who the caller is (apps and admins)."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from genai_core import __version__
from genai_core.api import create_app, current_caller, handle
from genai_core.config import get_settings
from genai_core.identity import Caller
from genai_core.observability import logger
from genai_core.scopes import ADMIN, ANY_APP_SCOPE

# Generated from every function's routes by `make openapi` (tools/openapi.py); a contract test keeps it current.
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
TAGS = ["Platform"]
app = create_app()


class Health(BaseModel):
    status: str
    version: str
    stage: str


class Identity(BaseModel):
    app_id: str
    scopes: list[str]
    username: str | None
    admin: bool


def _identity(caller: Caller) -> Identity:
    return Identity(app_id=caller.app_id, scopes=sorted(caller.scopes), username=caller.username, admin=caller.is_admin)


@cache
def _openapi_document() -> dict[str, Any]:
    return dict(json.loads(OPENAPI_PATH.read_text(encoding="utf-8")))


@app.get("/v1/health", tags=TAGS, summary="Liveness; no token needed")
def health() -> Health:
    return Health(status="ok", version=__version__, stage=get_settings().stage)


@app.get("/v1/openapi.json", tags=TAGS, summary="This OpenAPI document; no token needed")
def openapi_document() -> Response[dict[str, Any]]:
    event = app.current_event
    host = event.headers.get("host") or event.request_context.domain_name
    proto = event.headers.get("x-forwarded-proto", "https")
    # The API's base URL as the caller reached it: a deployed stage prefixes the path with its name.
    stage_prefix = event.request_context.path.removesuffix(event.path)
    document = {**_openapi_document(), "servers": [{"url": f"{proto}://{host}{stage_prefix}"}]}
    return Response(200, content_types.APPLICATION_JSON, document)


@app.get("/v1/whoami", security=ANY_APP_SCOPE, tags=TAGS, summary="The calling app and its granted scopes")
def whoami() -> Identity:
    return _identity(current_caller(app))


@app.get("/admin/whoami", security=ADMIN, tags=["Admin"], summary="The signed-in administrator")
def admin_whoami() -> Identity:
    return _identity(current_caller(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
