"""Platform meta routes: `GET /v1/health` (no auth) and `GET /v1/whoami` (any app token)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core import __version__
from genai_core.api import create_app, current_caller, handle
from genai_core.config import get_settings
from genai_core.observability import logger

app = create_app()


@app.get("/v1/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "stage": get_settings().stage}


@app.get("/v1/whoami")
def whoami() -> dict[str, Any]:
    caller = current_caller(app)
    return {
        "app_id": caller.app_id,
        "scopes": sorted(caller.scopes),
        "username": caller.username,
        "admin": caller.is_admin,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
