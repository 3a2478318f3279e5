"""The baseline of bench/gateway.py: a Powertools hello-world Lambda function.

What any function of this platform pays anyway: boto3 imported, a Logger, a REST resolver with validation, and one
route taking a pydantic model. The gateway's import time and per-request overhead are read as ratios to this.
"""

from typing import Any

import boto3  # noqa: F401  (imported as every function of the platform does: part of the baseline's cost)
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

logger = Logger()
app = APIGatewayRestResolver(enable_validation=True)


class Message(BaseModel):
    role: str
    content: str


class ChatIn(BaseModel):
    model: str
    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None


@app.post("/v1/chat/completions")
def chat(body: ChatIn) -> dict[str, Any]:
    return {"object": "chat.completion", "model": body.model, "content": body.messages[-1].content}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
