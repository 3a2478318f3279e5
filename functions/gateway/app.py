"""Model gateway routes (DESIGN §3 Gateway): OpenAI-compatible chat completions, embeddings and models.

Scope genai/invoke. `openai.OpenAI(base_url="<api>/v1", api_key=<access token>)` works against these routes.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.api import create_app, current_caller, handle
from genai_core.gateway import views
from genai_core.gateway.models import ChatCompletionRequest, EmbeddingsRequest
from genai_core.gateway.service import CallContext, get_gateway_service
from genai_core.observability import logger, metrics
from genai_core.scopes import INVOKE, needs

INVOKE_SCOPE = needs(INVOKE)
TAGS = ["Gateway"]
# Beyond what every route may answer (tools/openapi.py adds those): the model, and the providers behind it.
MODEL_ERRORS: dict[int, Any] = {
    403: {"description": "The token lacks genai/invoke, or this app may not use the model"},
    404: {"description": "No model with this alias (model_not_found), or no such managed prompt for this app"},
    502: {"description": "Every target of the model failed (model_unavailable)"},
    503: {"description": "Every target of the model is cooling down after repeated failures; see Retry-After"},
}
app = create_app()


def _context() -> CallContext:
    return CallContext(current_caller(app).app_id, app.current_event.request_context.request_id)


def _headers(context: CallContext) -> dict[str, str]:
    return {
        "x-gateway-cache": context.cache,
        "x-gateway-overhead-ms": f"{context.overhead_ms:.1f}",
        # Attempts that failed or skipped a cooling-down target before this answer (the usage record names them).
        "x-gateway-failed-attempts": str(len(context.attempts)),
    }


@app.post(
    "/v1/chat/completions",
    security=INVOKE_SCOPE,
    tags=TAGS,
    summary="Create a chat completion",
    responses={
        200: {
            "description": "The completion; with stream: true, a text/event-stream of chat.completion.chunk events "
            "ending with data: [DONE]",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        **MODEL_ERRORS,
    },
)
def chat_completions(body: ChatCompletionRequest) -> Response[views.ChatCompletion | str]:
    outcome = get_gateway_service().chat(_context(), body)
    if outcome.events is not None:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        sse = views.event_stream(outcome, outcome.events, include_usage=include_usage)
        return Response(200, "text/event-stream", sse, headers=_headers(outcome.context))
    completion = views.chat_completion(outcome)
    return Response(200, content_types.APPLICATION_JSON, completion, headers=_headers(outcome.context))


@app.post(
    "/v1/embeddings",
    security=INVOKE_SCOPE,
    tags=TAGS,
    summary="Create embeddings",
    responses={
        200: {
            "description": "One embedding per input, in input order",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingList"}}},
        },
        **MODEL_ERRORS,
    },
)
def embeddings(body: EmbeddingsRequest) -> Response[views.EmbeddingList]:
    outcome = get_gateway_service().embed(_context(), body)
    listing = views.embedding_list(outcome, body.encoding_format)
    return Response(200, content_types.APPLICATION_JSON, listing, headers=_headers(outcome.context))


@app.get("/v1/models", security=INVOKE_SCOPE, tags=TAGS, summary="List the models this app may call")
def list_models() -> views.ModelList:
    return views.model_list(get_gateway_service().models(current_caller(app).app_id))


@app.get(
    "/v1/models/<model>",
    security=INVOKE_SCOPE,
    tags=TAGS,
    summary="Get one model this app may call",
    responses={
        200: {
            "description": "The model",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelOut"}}},
        },
        404: {"description": "No model with this alias for this app (model_not_found)"},
    },
)
def get_model(model: str) -> views.ModelOut:
    return views.model_out(get_gateway_service().model(current_caller(app).app_id, model))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
