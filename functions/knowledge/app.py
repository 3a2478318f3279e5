"""Knowledge routes (DESIGN §3 Knowledge): collections, document uploads and status, content, chunks, search.

Scopes genai/documents.read and genai/documents.write. Registering a document returns a presigned PUT; the upload
itself starts the pipeline (S3 -> SQS -> IngestTriggerFunction -> the ingest state machine).
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from genai_core.api import create_app, current_caller, handle
from genai_core.knowledge import views
from genai_core.knowledge.models import CreateCollectionRequest, CreateDocumentRequest, SearchRequest
from genai_core.knowledge.service import get_knowledge_service
from genai_core.observability import logger, metrics
from genai_core.pagination import parse_limit
from genai_core.scopes import DOCUMENTS_READ, DOCUMENTS_WRITE, needs

READ, WRITE = needs(DOCUMENTS_READ), needs(DOCUMENTS_WRITE)
TAGS = ["Knowledge"]
Limit = Annotated[int | None, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query(max_length=2048)]
NO_COLLECTION: dict[int, Any] = {404: {"description": "No such collection for this app (collection_not_found)"}}
NO_DOCUMENT: dict[int, Any] = {404: {"description": "No such document for this app (document_not_found)"}}
NOT_READY: dict[int, Any] = {404: {"description": "No such document, or not READY yet (document_not_ready)"}}
DELETED: dict[int, Any] = {204: {"description": "Deleted"}}


def returns(schema: str, description: str, status: int = 200) -> dict[int, Any]:
    """The success response of a route that also declares errors (Powertools then leaves the success out)."""
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {status: {"description": description, "content": content}}


app = create_app()


def _app_id() -> str:
    return current_caller(app).app_id


@app.post("/v1/collections", security=WRITE, tags=TAGS, status_code=201, summary="Create a collection")
def create_collection(body: CreateCollectionRequest) -> Response[views.CollectionView]:
    collection = get_knowledge_service().create_collection(_app_id(), body)
    return Response(201, content_types.APPLICATION_JSON, views.collection_view(collection))


@app.get("/v1/collections", security=READ, tags=TAGS, summary="List the app's collections")
def list_collections(limit: Limit = None, next_token: NextToken = None) -> views.CollectionListing:
    listing = get_knowledge_service().list_collections(_app_id(), parse_limit(limit), next_token)
    return views.collections_view(listing)


@app.get(
    "/v1/collections/<collection_id>",
    security=READ,
    tags=TAGS,
    summary="Get a collection",
    responses={**returns("CollectionView", "The collection"), **NO_COLLECTION},
)
def get_collection(collection_id: str) -> views.CollectionView:
    return views.collection_view(get_knowledge_service().get_collection(_app_id(), collection_id))


@app.delete(
    "/v1/collections/<collection_id>",
    security=WRITE,
    tags=TAGS,
    status_code=204,
    summary="Delete a collection with its index, documents and files",
    responses={**DELETED, **NO_COLLECTION},
)
def delete_collection(collection_id: str) -> Response[str]:
    get_knowledge_service().delete_collection(_app_id(), collection_id)
    return Response(204, None, "")


@app.post(
    "/v1/collections/<collection_id>/documents",
    security=WRITE,
    tags=TAGS,
    status_code=201,
    summary="Register a document and get its presigned upload URL",
    responses={**returns("RegisteredDocument", "The PENDING_UPLOAD document and its upload URL", 201), **NO_COLLECTION},
)
def create_document(collection_id: str, body: CreateDocumentRequest) -> Response[views.RegisteredDocument]:
    document, upload = get_knowledge_service().register_document(_app_id(), collection_id, body)
    metrics.add_metric(name="DocumentsRegistered", unit=MetricUnit.Count, value=1)
    return Response(201, content_types.APPLICATION_JSON, views.registered_view(document, upload))


@app.get(
    "/v1/collections/<collection_id>/documents",
    security=READ,
    tags=TAGS,
    summary="List a collection's documents, newest first",
    responses={**returns("DocumentListing", "The documents"), **NO_COLLECTION},
)
def list_documents(collection_id: str, limit: Limit = None, next_token: NextToken = None) -> views.DocumentListing:
    listing = get_knowledge_service().list_documents(_app_id(), collection_id, parse_limit(limit), next_token)
    return views.documents_view(listing)


@app.post(
    "/v1/collections/<collection_id>/search",
    security=READ,
    tags=TAGS,
    summary="Search a collection (vector, lexical or hybrid)",
    responses={**returns("SearchResults", "The best chunks, best first"), **NO_COLLECTION},
)
def search(collection_id: str, body: SearchRequest) -> views.SearchResults:
    found = get_knowledge_service().search(_app_id(), [collection_id], body.query, body.k, body.mode, body.filter)
    return views.SearchResults(mode=body.mode, data=[views.hit_view(hit) for hit in found])


@app.get(
    "/v1/documents/<document_id>",
    security=READ,
    tags=TAGS,
    summary="Get a document's status, failure, pages, chunks and timings",
    responses={**returns("DocumentView", "The document"), **NO_DOCUMENT},
)
def get_document(document_id: str) -> views.DocumentView:
    return views.document_view(get_knowledge_service().get_document(_app_id(), document_id))


@app.delete(
    "/v1/documents/<document_id>",
    security=WRITE,
    tags=TAGS,
    status_code=204,
    summary="Delete a document with its chunks and files",
    responses={**DELETED, **NO_DOCUMENT},
)
def delete_document(document_id: str) -> Response[str]:
    get_knowledge_service().delete_document(_app_id(), document_id)
    return Response(204, None, "")


@app.get(
    "/v1/documents/<document_id>/content",
    security=READ,
    tags=TAGS,
    summary="The extracted markdown, with <!-- page N --> markers",
    responses={
        200: {"description": "The markdown", "content": {"text/markdown": {"schema": {"type": "string"}}}},
        303: {"description": "Too large to return inline: Location is a short-lived download URL"},
        **NOT_READY,
    },
)
def get_content(document_id: str) -> Response[str]:
    _, content = get_knowledge_service().content(_app_id(), document_id)
    if content.markdown is None:
        return Response(303, None, "", headers={"Location": content.download_url or ""})
    return Response(200, "text/markdown; charset=utf-8", content.markdown)


@app.get(
    "/v1/documents/<document_id>/chunks",
    security=READ,
    tags=TAGS,
    summary="List a document's chunks in order",
    responses={**returns("ChunkListing", "The chunks, in document order"), **NOT_READY},
)
def list_chunks(document_id: str, limit: Limit = None, next_token: NextToken = None) -> views.ChunkListing:
    document, listing = get_knowledge_service().chunks(_app_id(), document_id, parse_limit(limit), next_token)
    return views.chunks_view(document, listing)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
