"""The embedded vector store (sqlite-vec + FTS5): search latency and upsert throughput.

    .venv/bin/python bench/vectorstore.py [--chunks 10000] [--dims 384] [--queries 200]

Random unit vectors and generated text (a Zipf-like vocabulary), seed fixed, in a fresh file under a temporary
directory. Upserts go in batches of 100, one transaction each. Searches ask for k=10: vector alone; vector with a
selective filter (one of 20 tenants, 5%: scanned exactly) and a broad one (one of 2 languages, 50%: vec0 kNN over
the allowed rowids); BM25 on 3 words; hybrid (both with 40 candidates, fused by RRF). Latencies are p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

from genai_core.knowledge.vectorstores.base import Filter, IndexedChunk, hybrid_search
from genai_core.knowledge.vectorstores.sqlite import SqliteVectorStore

SEED = 20261123
BATCH = 100
K = 10


def vocabulary(rng: np.random.Generator, size: int = 5000) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=int(rng.integers(3, 10)))) for _ in range(size)]


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):7.2f} ms   p99 {np.percentile(ms, 99):7.2f} ms"


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    fn(0)  # warm the page cache and statement cache
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print("$ .venv/bin/python " + shlex.join(["bench/vectorstore.py", *sys.argv[1:]]))

    rng = np.random.default_rng(SEED)
    vectors = rng.standard_normal((args.chunks, args.dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = vocabulary(rng)
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    texts = [" ".join(rng.choice(words, size=120, p=weights)) for _ in range(args.chunks)]
    chunks = [
        IndexedChunk(
            id=f"chunk-{i:06}",
            document_id=f"doc-{i // 20:05}",
            text=texts[i],
            vector=vectors[i].tolist(),
            pages=(i % 40 + 1,),
            heading_path=("Report", f"Section {i % 12}"),
            metadata={"tenant": f"t{i % 20:02}", "lang": "en" if i % 2 else "fr", "year": 2000 + i % 25},
        )
        for i in range(args.chunks)
    ]
    queries = rng.standard_normal((args.queries, args.dims)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    query_vectors = [q.tolist() for q in queries]
    query_texts = [" ".join(rng.choice(words[20:2000], size=3)) for _ in range(args.queries)]

    with tempfile.TemporaryDirectory() as directory:
        store = SqliteVectorStore(Path(directory) / "bench.db")
        store.create_index("bench", args.dims, "cosine")
        start = time.perf_counter()
        for offset in range(0, len(chunks), BATCH):
            store.upsert("bench", chunks[offset : offset + BATCH])
        elapsed = time.perf_counter() - start
        size_mb = (Path(directory) / "bench.db").stat().st_size / 1e6
        print(f"chunks {store.count('bench')} x {args.dims} dims, cosine, k={K}, {args.queries} queries each")
        print(f"upsert             {len(chunks) / elapsed:9.0f} chunks/s  ({elapsed:.2f} s, batches of {BATCH})")
        print(f"file               {size_mb:9.1f} MB (before checkpoint)")
        store.upsert("bench", chunks[:BATCH])
        print(f"re-upsert {BATCH} existing ids: count {store.count('bench')}")

        tenant = Filter.parse({"tenant": "t07"})
        lang = Filter.parse({"lang": "en"})
        n = args.queries
        cases: list[tuple[str, Callable[[int], object]]] = [
            ("vector", lambda i: store.search_vector("bench", query_vectors[i], K)),
            ("vector tenant=5%", lambda i: store.search_vector("bench", query_vectors[i], K, tenant)),
            ("vector lang=50%", lambda i: store.search_vector("bench", query_vectors[i], K, lang)),
            ("lexical", lambda i: store.search_lexical("bench", query_texts[i], K)),
            ("lexical tenant=5%", lambda i: store.search_lexical("bench", query_texts[i], K, tenant)),
            ("hybrid", lambda i: hybrid_search(store, "bench", query_texts[i], query_vectors[i], K)),
            ("hybrid tenant=5%", lambda i: hybrid_search(store, "bench", query_texts[i], query_vectors[i], K, tenant)),
        ]
        for name, fn in cases:
            print(f"{name:18} {percentiles(timed(fn, n))}")
        store.close()


if __name__ == "__main__":
    main()
