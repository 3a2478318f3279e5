"""Chunking throughput against one plain tokenizer pass over the same text, and against LangChain's splitter.

    .venv/bin/python bench/chunking.py [--mb 2] [--size 256] [--overlap 32] [--runs 5]

The text is generated prose markdown (deterministic: seeded), with headings and pages. Each figure is the best of
`--runs`; ratios are to the plain `encode_ordinary` pass over the whole text measured in the same run. The largest
chunk's token count is re-counted on each chunk's text. LangChain's `RecursiveCharacterTextSplitter` gets the same
tokenizer as its length function (langchain-text-splitters comes from requirements/bench.txt, which
`make bench` installs).
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))

from genai_core.knowledge.chunking import ChunkingConfig, chunk_document, default_tokenizer

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "on", "el", "ar", "is", "ut", "ve", "do", "pe", "qua", "str"]


def generate(target_chars: int, seed: int = 7) -> str:
    """Pages of sections with paragraphs of sentences of made-up and common words, about `target_chars` long."""
    rng = random.Random(seed)
    common = [
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "that",
        "for",
        "it",
        "as",
        "with",
        "on",
        "by",
        "this",
        "be",
        "are",
        "from",
        "at",
        "or",
        "an",
        "which",
    ]
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


def best(runs: int, call: Callable[[], object]) -> tuple[float, object]:
    seconds, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        seconds = min(seconds, time.perf_counter() - started)
    return seconds, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    text = generate(int(args.mb * 1_000_000))
    mb = len(text.encode()) / 1_000_000
    tokenizer = default_tokenizer()
    tokenizer.count("warm up")
    configs = {
        strategy: ChunkingConfig(strategy=strategy, size_tokens=args.size, overlap_tokens=args.overlap)
        for strategy in ("recursive", "fixed", "layout", "page")
    }
    # rounds interleave the baseline and each strategy, so that a slow moment of a noisy machine hits them alike
    timings: dict[str, float] = {}
    results: dict[str, list[str]] = {}
    for _ in range(args.runs):
        seconds, tokens = best(1, lambda: tokenizer.count(text))
        timings["plain"] = min(timings.get("plain", seconds), seconds)
        for strategy, config in configs.items():
            seconds, chunks = best(1, functools.partial(chunk_document, "bench", text, config))
            assert isinstance(chunks, list)
            timings[strategy] = min(timings.get(strategy, seconds), seconds)
            results[strategy] = [c.text for c in chunks]
    base = timings["plain"]
    print(f"{mb:.2f} MB, {tokens:,} tokens; chunks of {args.size} tokens, overlap {args.overlap}; best of {args.runs}")
    print(f"{'':34} {'seconds':>8} {'MB/s':>7} {'x plain':>8} {'chunks':>7} {'max tokens':>10}")
    print(f"{'plain tiktoken pass (baseline)':34} {base:8.3f} {mb / base:7.2f} {1:8.2f}")

    def report(name: str, seconds: float, texts: list[str]) -> None:
        largest = max(tokenizer.count(t) for t in texts)
        flag = "" if largest <= args.size else "  OVER SIZE"
        print(f"{name:34} {seconds:8.3f} {mb / seconds:7.2f} {seconds / base:8.2f} {len(texts):7} {largest:10}{flag}")

    for strategy in configs:
        report(f"ours: {strategy}", timings[strategy], results[strategy])

    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=args.size, chunk_overlap=args.overlap, length_function=tokenizer.count
    )
    seconds, pieces = best(1, lambda: splitter.split_text(text))
    assert isinstance(pieces, list)
    report("langchain RecursiveCharacterText", seconds, pieces)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
