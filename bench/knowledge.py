"""Knowledge pipeline benchmarks: embedding fan-out of the index step, and upload -> READY end to end offline.

    .venv/bin/python bench/knowledge.py [--chunks 1000] [--latency 0.1] [--pages 50] [--skip-e2e]

1. Fan-out. The state machine's Map runs the index step on batches of CHUNK_BATCH chunks, MaxConcurrency at a
   time. Here the real `Pipeline.index_batch` runs on every batch of `--chunks` chunks with that concurrency (a
   thread pool stands in for the Map), embedding through the real gateway service (in-memory store and catalogue)
   whose provider sleeps `--latency` seconds per call, and writing into the embedded vector store. The ideal is
   ceil(batches / concurrency) x latency; the baseline of the same run is the pool doing nothing but the sleeps.
2. End to end. `python -m offline run` in a fresh state folder; a generated `--pages`-page text PDF is registered,
   uploaded through its presigned URL, and polled until READY. Printed: wall time from the upload to READY, and the
   per-step timings the document record keeps; the baseline is a one-paragraph Markdown file through the same path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core"), str(ROOT / "bench")]
os.environ.setdefault("STAGE", "bench")
os.environ.setdefault("AWS_REGION", "us-east-1")
for name in ("DOCUMENTS_TABLE", "DOCUMENTS_BUCKET", "CATALOGUE_TABLE", "GATEWAY_TABLE", "USAGE_TABLE"):
    os.environ.setdefault(name, "bench")
os.environ.setdefault("DEFAULT_EMBEDDING_MODEL", "bench-embed")

from gateway_fakes import MemoryStore  # noqa: E402

from genai_core.config import load_area_settings  # noqa: E402
from genai_core.gateway.catalogue import Catalogue, ModelEntry, Target  # noqa: E402
from genai_core.gateway.providers.base import register  # noqa: E402
from genai_core.gateway.service import GatewayService, GatewaySettings  # noqa: E402
from genai_core.gateway.types import EmbeddingResult  # noqa: E402
from genai_core.knowledge.models import Collection, Document  # noqa: E402
from genai_core.knowledge.pipeline import Pipeline, PipelineSettings  # noqa: E402
from genai_core.knowledge.service import CHUNK_BATCH, GatewayEmbedder  # noqa: E402
from genai_core.knowledge.vectorstores.sqlite import SqliteVectorStore  # noqa: E402
from genai_core.observability import metrics  # noqa: E402

MAP_CONCURRENCY = json.loads((ROOT / "statemachines" / "ingest.asl.json").read_text())["States"]["IndexBatches"][
    "MaxConcurrency"
]
APP, COLLECTION, DOCUMENT, MODEL, DIMENSIONS = "bench-app", "col_bench", "doc_bench", "bench-embed", 384
LATENCY = 0.1  # set from --latency before the provider is used


class SlowProvider:
    """An embeddings provider that takes LATENCY seconds per call, like a remote model would."""

    name = "openai"

    def unsupported(self, target: Target, request: Any) -> list[str]:
        return []

    def embed(self, target: Target, texts: list[str], *, dimensions: int | None, timeout: float) -> EmbeddingResult:
        time.sleep(LATENCY)
        return EmbeddingResult([[1.0] + [0.0] * (DIMENSIONS - 1) for _ in texts], prompt_tokens=len(texts))


class MemoryCatalogue:
    def load(self) -> dict[str, ModelEntry]:
        target = Target(provider="openai", base_url="http://bench.invalid/v1", model="embed")
        return {MODEL: ModelEntry(alias=MODEL, targets=[target], capabilities=["embeddings"], context_window=8192)}

    def seed(self, entries: list[ModelEntry], *, overwrite: bool = False) -> None:
        pass


class MemoryFiles:
    bucket = "bench"

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def read_json(self, key: str) -> Any:
        return self.objects[key]

    def write_json(self, key: str, value: Any) -> None:
        self.objects[key] = value


class MemoryVectorStore:
    """Writes that cost nothing and never wait for one another (an OpenSearch bulk per Lambda, minus the network)."""

    def __init__(self) -> None:
        self.chunks: dict[str, Any] = {}

    def create_index(self, collection_id: str, dimensions: int, space: str) -> None:
        pass

    def upsert(self, collection_id: str, chunks: list[Any]) -> None:
        self.chunks.update((chunk.id, chunk) for chunk in chunks)

    def count(self, collection_id: str) -> int:
        return len(self.chunks)


class MemoryRepository:
    def __init__(self) -> None:
        now = "2026-11-23T00:00:00Z"
        self.document = Document(APP, DOCUMENT, COLLECTION, "bench.pdf", "application/pdf", 1, "INDEXING", now, now)

    def get_collection(self, app_id: str, collection_id: str) -> Collection | None:
        return Collection(APP, COLLECTION, "bench", MODEL, None, "auto", "")  # type: ignore[arg-type]

    def get_document(self, app_id: str, document_id: str) -> Document:
        return self.document


def fan_out(chunks: int) -> None:
    from genai_core.knowledge import files as keys

    metrics.add_metric = lambda *args, **kwargs: None  # type: ignore[method-assign]  # EMF lines would flood stdout

    register("openai", f"{__name__}:SlowProvider")
    settings = load_area_settings(GatewaySettings)
    gateway = GatewayService(Catalogue(MemoryCatalogue(), defaults=None, max_age=60), MemoryStore(), settings)
    files = MemoryFiles()
    batches = math.ceil(chunks / CHUNK_BATCH)
    for batch in range(batches):
        rows = [
            {"id": f"c{i}", "index": i, "text": f"chunk {i} text", "pages": [1], "heading_path": ["Bench"]}
            for i in range(batch * CHUNK_BATCH, min(chunks, (batch + 1) * CHUNK_BATCH))
        ]
        files.write_json(keys.batch_key(APP, COLLECTION, DOCUMENT, batch), rows)
    base = {"app_id": APP, "collection_id": COLLECTION, "document_id": DOCUMENT, "embedding_model": MODEL}

    def run_in_map(work: Any) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(MAP_CONCURRENCY) as pool:
            list(pool.map(work, range(batches)))
        return time.perf_counter() - started

    def index_all(store: Any) -> float:
        pipeline = Pipeline(
            MemoryRepository(),  # type: ignore[arg-type]
            files,  # type: ignore[arg-type]
            load_area_settings(PipelineSettings),
            vector_store=lambda: store,
            embedder=GatewayEmbedder(lambda: gateway),
        )
        run_in_map(lambda b: pipeline.index_batch({**base, "batch": b}))  # warm: index made, connections open
        elapsed = statistics.median(run_in_map(lambda b: pipeline.index_batch({**base, "batch": b})) for _ in range(3))
        assert store.count(COLLECTION) == chunks
        return elapsed

    baseline = statistics.median(run_in_map(lambda _: time.sleep(LATENCY)) for _ in range(3))
    parallel_writes = index_all(MemoryVectorStore())
    with tempfile.TemporaryDirectory() as tmp:
        embedded = index_all(SqliteVectorStore(str(Path(tmp) / "vectors.sqlite")))
    ideal = math.ceil(batches / MAP_CONCURRENCY) * LATENCY
    print(
        f"\nEmbedding fan-out: {chunks} chunks = {batches} batches of {CHUNK_BATCH}, Map MaxConcurrency "
        f"{MAP_CONCURRENCY}, provider latency {LATENCY * 1000:.0f} ms per call (median of 3)"
    )
    rows = [
        ("ideal: ceil(batches / concurrency) x latency", ideal),
        ("baseline: the same pool, only the sleeps", baseline),
        ("index_batch, writes in parallel (as OpenSearch)", parallel_writes),
        ("index_batch, embedded SQLite store (one writer)", embedded),
    ]
    for label, seconds in rows:
        print(f"  {label:<50} {seconds:6.3f} s   {seconds / ideal:5.2f} x ideal")
    print("  target: within 1.25 x ideal. index_batch = read the batch, embed through the gateway service (limits,")
    print("  usage record; in-memory store), write; the embedded store serializes its writers (~17 ms per batch).")


# -- end to end ------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    import requests

    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    response = requests.request(method, url, json=body, data=raw, headers=all_headers, timeout=60)
    response.raise_for_status()
    return response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None


def _ingest(api: str, token: str, collection: str, name: str, content_type: str, data: bytes) -> tuple[float, dict]:
    registered = _http(
        "POST",
        f"{api}/v1/collections/{collection}/documents",
        token,
        {"filename": name, "content_type": content_type, "size_bytes": len(data)},
    )
    upload = registered["upload"]
    started = time.perf_counter()
    _http(upload["method"], upload["url"], raw=data, headers=upload["headers"])
    while True:
        document = _http("GET", f"{api}/v1/documents/{registered['id']}", token)
        if document["status"] in {"READY", "FAILED"}:
            return time.perf_counter() - started, document
        time.sleep(0.05)


def end_to_end(pages: int) -> None:
    import requests

    from tests.fixtures.documents import prose_pages, text_pdf

    port = _free_port()
    with tempfile.TemporaryDirectory() as state:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "offline", "run", "--port", str(port), "--state-dir", state],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            api = f"http://127.0.0.1:{port}"
            credentials = Path(state) / "credentials.json"
            deadline = time.monotonic() + 120
            while not credentials.exists() or requests.get(f"{api}/v1/health", timeout=5).status_code != 200:
                if time.monotonic() > deadline or runtime.poll() is not None:
                    raise SystemExit("the offline runtime did not start")
                time.sleep(0.5)
            creds = json.loads(credentials.read_text())
            token = requests.post(
                f"{api}/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(creds["client_id"], creds["client_secret"]),
                timeout=10,
            ).json()["access_token"]
            collection = _http("POST", f"{api}/v1/collections", token, {"name": "bench"})["id"]
            _ingest(api, token, collection, "warm.md", "text/markdown", b"# Warm\n\nWarms every function.\n")
            small, _ = _ingest(api, token, collection, "note.md", "text/markdown", b"# Note\n\nOne paragraph.\n")
            pdf = text_pdf(prose_pages(pages), header="Bench manual", footer="Page {page} of {pages}")
            wall, document = _ingest(api, token, collection, "manual.pdf", "application/pdf", pdf)
        finally:
            runtime.terminate()
            runtime.wait(timeout=30)
    assert document["status"] == "READY", document["failure"]
    timings = document["timings"]
    print(
        f"\nEnd to end offline (make run): upload -> READY, {pages}-page text PDF ({len(pdf) / 1024:.0f} KB, "
        f"{document['chunks']} chunks)"
    )
    print(f"  baseline: one-paragraph Markdown file        {small:6.2f} s")
    print(f"  {pages}-page PDF, upload -> READY             {wall:6.2f} s   ({pages / wall:.1f} pages/s)")
    for step in ("extract", "chunk", "index"):
        print(f"    {step:<8} {timings[f'{step}_ms'] / 1000:6.2f} s")
    print(f"    trigger, queue and polling overhead: {wall - timings['total_ms'] / 1000:6.2f} s")


def main() -> None:
    global LATENCY
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    LATENCY = args.latency
    fan_out(args.chunks)
    if not args.skip_e2e:
        end_to_end(args.pages)


if __name__ == "__main__":
    main()
