"""Knowledge pipeline steps (statemachines/ingest.asl.json), one handler per function of the template.

`trigger` and `textract_completed` consume SQS (partial batch failures: only the failed messages come back);
the others are Step Functions tasks that return a small dict or raise a named error the state machine matches.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.knowledge.pipeline import get_pipeline
from genai_core.observability import logger

_uploads = BatchProcessor(event_type=EventType.SQS)
_completions = BatchProcessor(event_type=EventType.SQS)


def _on_upload(record: SQSRecord) -> None:
    for outcome in get_pipeline().on_s3_event(record.body):
        logger.info(
            f"document {outcome.document_id}: upload {outcome.action}",
            extra={"key": outcome.key, "execution_arn": outcome.execution_arn},
        )


def _on_completion(record: SQSRecord) -> None:
    from genai_core.knowledge.extraction.textract import parse_completion

    completion = parse_completion(record.body)
    outcome = get_pipeline().on_textract_completion(completion.job_id)
    logger.info(f"textract job {completion.job_id} ({completion.status}): execution {outcome}")


@logger.inject_lambda_context
def trigger(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_on_upload, processor=_uploads, context=context)


@logger.inject_lambda_context
def textract_completed(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_on_completion, processor=_completions, context=context)


@logger.inject_lambda_context
def extract(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The Textract state invokes this function with the execution's task token.
    pipeline = get_pipeline()
    result = pipeline.start_textract(event) if "task_token" in event else pipeline.extract(event)
    logger.info(f"document {event.get('document_id')}: extract {result}")
    return result


@logger.inject_lambda_context
def chunk(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = get_pipeline().chunk(event)
    logger.info(f"document {event.get('document_id')}: {result['count']} chunks in {len(result['batches'])} batches")
    return result


@logger.inject_lambda_context
def index(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # ClearOldChunks sends {"clear": true}; the Map sends one batch at a time.
    pipeline = get_pipeline()
    result = pipeline.clear(event) if event.get("clear") else pipeline.index_batch(event)
    logger.info(f"document {event.get('document_id')}: index {result}")
    return result


@logger.inject_lambda_context
def record_failure(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = get_pipeline().record_failure(event)
    logger.warning(f"document {event.get('document_id')}: FAILED {result['error']}: {result['message']}")
    return result
