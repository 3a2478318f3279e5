"""Chunking throughput against one plain tokenizer pass over the same text, and against LangChain's splitter.

    .venv/bin/python bench/chunking.py [--mb 2] [--size 256] [--overlap 32] [--runs 7]

The text is generated prose markdown (deterministic: seeded), with headings and pages. Everything is measured in one
run, in rounds: each round times the plain tokenizer pass, each of our strategies and LangChain once, so that a slow
moment of a noisy machine hits them alike; each figure is the median over the rounds, and ratios are to the plain
pass's median. The plain pass is `Tokenizer.count` over the whole text: one `encode_ordinary` call, the least any
token-exact chunker must spend.

LangChain's `RecursiveCharacterTextSplitter` gets the same size and overlap in tokens and the same tokenizer as its
length function: `Tokenizer.count`, which calls tiktoken's Rust core directly (cheaper per call than the
`from_tiktoken_encoder` form, whose length function goes through `Encoding.encode` and its special-token checks), so
LangChain is not slowed by its tokenizer wrapper. langchain-text-splitters comes from requirements/bench.txt, which
`make bench` installs.

Every chunk of both is re-counted on its own text: the largest count is printed, and the bench fails if a chunk is
over the size, or if one of ours says a token count that is not its text's.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "layers" / "core"), str(Path(__file__).resolve().parents[1])]

from genai_core.knowledge.chunking import ChunkingConfig, chunk_document, default_tokenizer  # noqa: E402
from tests.fixtures.documents import WORDS  # noqa: E402

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "on", "el", "ar", "is", "ut", "ve", "do", "pe", "qua", "str"]


def generate(target_chars: int, seed: int = 7) -> str:
    """Pages of sections with paragraphs of sentences of made-up and common words, about `target_chars` long."""
    rng = random.Random(seed)
    common = WORDS[:21]  # the most frequent English words
    vocabulary = common * 3 + ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(5000)]
    parts: list[str] = []
    length, page = 0, 1
    while length < target_chars:
        block = [f"<!-- page {page} -->\n"]
        if page % 3 == 1:
            block.append(f"# Chapter {page // 3 + 1}\n\n")
        block.append(f"## Section {page}.{rng.randint(1, 9)}\n\n")
        for _ in range(rng.randint(3, 6)):
            sentences = []
            for _ in range(rng.randint(2, 8)):
                words = rng.choices(vocabulary, k=rng.randint(6, 24))
                sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"]))
            block.append(" ".join(sentences) + "\n\n")
        text = "".join(block)
        parts.append(text)
        length += len(text)
        page += 1
    return "".join(parts)


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from langchain_text_splitters import RecursiveCharacterTextSplitter

    text = generate(int(args.mb * 1_000_000))
    mb = len(text.encode()) / 1_000_000
    tokenizer = default_tokenizer()
    tokenizer.count("warm up")
    configs = {
        strategy: ChunkingConfig(strategy=strategy, size_tokens=args.size, overlap_tokens=args.overlap)
        for strategy in ("recursive", "fixed", "layout", "page")
    }
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=args.size, chunk_overlap=args.overlap, length_function=tokenizer.count
    )
    calls: dict[str, Callable[[], object]] = {"plain": lambda: tokenizer.count(text)}
    calls.update(
        {strategy: functools.partial(chunk_document, "bench", text, config) for strategy, config in configs.items()}
    )
    calls["langchain"] = lambda: splitter.split_text(text)
    timings: dict[str, list[float]] = {name: [] for name in calls}
    results: dict[str, object] = {}
    for _ in range(args.runs):
        for name, call in calls.items():
            seconds, results[name] = timed(call)
            timings[name].append(seconds)
    median = {name: statistics.median(seconds) for name, seconds in timings.items()}
    base = median["plain"]
    print(
        f"{mb:.2f} MB, {results['plain']:,} tokens; chunks of {args.size} tokens, overlap {args.overlap}; "
        f"median of {args.runs} rounds"
    )
    print(f"{'':34} {'seconds':>8} {'MB/s':>7} {'x plain':>8} {'chunks':>7} {'max tokens':>10}")
    print(f"{'plain tiktoken pass (baseline)':34} {base:8.3f} {mb / base:7.2f} {1:8.2f}")
    failed = False

    def report(name: str, seconds: float, texts: list[str], claimed: list[int] | None = None) -> None:
        nonlocal failed
        counts = [tokenizer.count(t) for t in texts]
        largest = max(counts)
        flag = "" if largest <= args.size else "  OVER SIZE"
        if claimed is not None and claimed != counts:
            flag += "  WRONG COUNT"
        failed = failed or bool(flag)
        print(f"{name:34} {seconds:8.3f} {mb / seconds:7.2f} {seconds / base:8.2f} {len(texts):7} {largest:10}{flag}")

    for strategy in configs:
        chunks = results[strategy]
        assert isinstance(chunks, list)
        report(f"ours: {strategy}", median[strategy], [c.text for c in chunks], [c.token_count for c in chunks])
    pieces = results["langchain"]
    assert isinstance(pieces, list)
    report("langchain RecursiveCharacterText", median["langchain"], pieces)
    print(f"ours: recursive is {median['langchain'] / median['recursive']:.2f}x as fast as langchain")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
