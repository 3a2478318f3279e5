"""Chunking of extracted markdown: every chunk fits the token budget, and says where it came from."""

from __future__ import annotations

import bisect
import itertools
import random
import re
import subprocess
import sys
from collections.abc import Callable, Sequence

import pytest
from pydantic import ValidationError

from genai_core.knowledge.chunking import Chunk, ChunkingConfig, chunk_document, default_tokenizer

STRATEGIES = ["recursive", "fixed", "layout", "page"]
MARKER_LINE = re.compile(r"^[ \t]*<!--[ \t]*page[ \t]+\d+[ \t]*-->[ \t]*\n?", re.MULTILINE)
LINUX_SENTENCE = "On Linux, unpack the archive into /opt/acme and run the installer as root."

MANUAL = f"""<!-- page 1 -->
# Acme Gateway Guide

Acme Gateway routes requests between your services. This guide covers installation, configuration and daily
operation. Read the whole chapter on installation before you start: the order of the steps matters.

The gateway runs on Linux, macOS and Windows. Every platform needs a license key, which you receive by email
after purchase. Keep the key at hand; the installer asks for it.

<!-- page 2 -->
## Install

Installation takes about ten minutes. You need administrator rights on the machine and a network connection
to download the runtime packages.

- Check that port 8443 is free.
- Check that the machine has at least 2 GB of memory.
- Have the license key ready.

<!-- page 3 -->
### Linux

{LINUX_SENTENCE} The installer creates a system user called acme and a service unit.

```bash
sudo tar -xzf acme-gateway.tar.gz -C /opt/acme
sudo /opt/acme/install.sh --license "$ACME_KEY"
systemctl status acme-gateway
```

If the service does not start, read the journal with journalctl -u acme-gateway and look for the first error.

### Windows

Run the MSI package and follow the wizard. The service starts automatically after the wizard closes.

<!-- page 4 -->
## Configure

The configuration file lives in /etc/acme/gateway.yaml. The table below lists the settings most people change.

| Setting | Default | Meaning |
|---------|---------|---------|
| port | 8443 | The port the gateway listens on |
| workers | 4 | Worker processes; one per CPU core is a good start |
| log_level | info | One of debug, info, warning, error |
| timeout | 30s | How long a request may take before it is cancelled |

After a change, restart the service so that the new settings take effect.
"""


def config(strategy: str = "layout", size: int = 64, overlap: int = 8) -> ChunkingConfig:
    return ChunkingConfig.model_validate({"strategy": strategy, "size_tokens": size, "overlap_tokens": overlap})


def count(text: str) -> int:
    return default_tokenizer().count(text)


def without_markers(text: str) -> str:
    return MARKER_LINE.sub("", text)


def assert_fits(chunks: Sequence[Chunk], size: int) -> None:
    assert chunks
    for chunk in chunks:
        assert chunk.token_count == count(chunk.text), chunk
        assert chunk.token_count <= size, chunk
        assert chunk.text == chunk.text.strip()
        assert "<!-- page" not in chunk.text


# -- sizes


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("size", [32, 64, 512])
def test_every_chunk_of_the_manual_fits_and_says_its_true_token_count(strategy: str, size: int) -> None:
    # GIVEN the manual WHEN it is chunked with any strategy and size
    chunks = chunk_document("manual", MANUAL, config(strategy, size, min(8, size // 4)))
    # THEN each chunk fits, its count is the tokenizer's count of its text, and the chunks are in order
    assert_fits(chunks, size)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


ADVERSARIAL = {
    "one 50,000-character word": "x" + "abcdefghij" * 5000,
    "a 5,000-row table": "| id | name |\n|----|------|\n"
    + "".join(f"| {i} | item number {i} |\n" for i in range(5000)),
    "no whitespace at all": "".join(f"{i:05d}/{i * 7919 % 100003}," for i in range(8000)),
    "CJK prose": "知识库把文档切成小块，以便检索。每一块都必须放进模型的上下文窗口。" * 400,  # noqa: RUF001 -- full-width punctuation is the point
    "emoji": "🚀🔥👩‍💻🇫🇷" * 3000 + " done 🎉" * 500,
    "one giant line of words": " ".join(f"word{i}" for i in range(30000)),
}


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", list(ADVERSARIAL))
def test_adversarial_text_is_still_cut_into_chunks_that_fit(strategy: str, case: str) -> None:
    # GIVEN text with no good place to cut
    markdown = ADVERSARIAL[case]
    # WHEN it is chunked
    chunks = chunk_document("odd", markdown, config(strategy, 64, 8))
    # THEN every chunk fits, and together the chunks cover the text
    assert_fits(chunks, 64)
    assert chunks[0].start <= len(markdown) - len(markdown.lstrip())
    assert chunks[-1].end >= len(markdown.rstrip())
    covered = chunks[0].end
    for chunk in chunks[1:]:
        assert not markdown[covered : chunk.start].strip()  # no text falls between two chunks
        covered = max(covered, chunk.end)


def test_no_chunks_for_an_empty_or_blank_document() -> None:
    for markdown in ["", "   \n\n\t", "<!-- page 1 -->\n\n<!-- page 2 -->\n"]:
        for strategy in STRATEGIES:
            assert chunk_document("empty", markdown, config(strategy)) == []


def test_a_2000_page_document_is_chunked_whole() -> None:
    # GIVEN a 2,000-page document, a few sentences per page
    pages = [
        f"<!-- page {n} -->\n## Page {n}\n\nThis page talks about topic {n}. It has two sentences about it.\n"
        for n in range(1, 2001)
    ]
    # WHEN it is chunked page by page
    chunks = chunk_document("big", "".join(pages), config("page", 64, 8))
    # THEN there is no cap: every page is a chunk
    assert len(chunks) == 2000 > 500
    assert chunks[-1].pages == (2000,)


# -- overlap


@pytest.mark.parametrize("strategy", ["recursive", "fixed"])
def test_consecutive_chunks_overlap(strategy: str) -> None:
    # GIVEN long prose WHEN it is chunked with an overlap of 16 tokens
    prose = " ".join(f"Sentence number {i} says something about the gateway." for i in range(300))
    chunks = chunk_document("prose", prose, config(strategy, 64, 16))
    assert len(chunks) > 5
    for a, b in itertools.pairwise(chunks):
        # THEN the next chunk starts with the previous chunk's last words
        shared = prose[b.start : a.end].strip()
        assert b.start < a.end and shared
        assert a.text.endswith(shared) and b.text.startswith(shared)
        assert count(shared) <= 16 + 1


def test_without_overlap_chunks_do_not_overlap() -> None:
    prose = " ".join(f"Sentence number {i} says something about the gateway." for i in range(300))
    for strategy in ("recursive", "fixed"):
        chunks = chunk_document("prose", prose, config(strategy, 64, 0))
        assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))


# -- where a chunk came from


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_sentence_on_page_3_under_install_linux_says_so(strategy: str) -> None:
    # GIVEN the manual, whose Linux installation sentence is on page 3 under "Install > Linux"
    chunks = chunk_document("manual", MANUAL, config(strategy, 32, 8))
    # WHEN we look at the chunks holding part of that sentence
    holding = [c for c in chunks if "unpack the archive" in c.text or "run the installer as root" in c.text]
    # THEN all touch page 3, and those that start inside the Linux section carry the heading path in force there
    # (a chunk starting earlier, e.g. with an overlap from the section before, carries that section's path)
    assert holding and all(3 in c.pages for c in holding)
    linux_at, windows_at = MANUAL.index("### Linux"), MANUAL.index("### Windows")
    inside = [c for c in holding if linux_at <= c.start < windows_at]
    assert inside
    assert all(c.heading_path == ("Acme Gateway Guide", "Install", "Linux") for c in inside)


def test_layout_chunks_follow_the_sections() -> None:
    chunks = chunk_document("manual", MANUAL, config("layout", 256, 16))
    by_heading = {c.heading_path: c for c in chunks}
    linux = by_heading[("Acme Gateway Guide", "Install", "Linux")]
    assert linux.text.startswith("### Linux")
    assert LINUX_SENTENCE in linux.text
    assert linux.pages == (3,)
    # the fenced code stays whole, in its section
    assert "```bash\nsudo tar" in linux.text and "systemctl status acme-gateway\n```" in linux.text
    assert by_heading[("Acme Gateway Guide", "Install", "Windows")].pages == (3,)
    assert by_heading[("Acme Gateway Guide", "Configure")].pages == (4,)
    # every chunk stays in one section
    assert all(c.text.count("\n#") == 0 for c in chunks)


def test_a_chunk_spanning_a_page_break_lists_both_pages() -> None:
    markdown = "<!-- page 1 -->\nThe first half of a sentence\n<!-- page 2 -->\ncontinues on the next page.\n"
    (chunk,) = chunk_document("two", markdown, config("recursive", 64, 8))
    assert chunk.pages == (1, 2)
    assert chunk.text == "The first half of a sentence\ncontinues on the next page."


def test_text_before_the_first_marker_and_a_document_without_markers_are_page_1() -> None:
    assert chunk_document("d", "No markers here.", config())[0].pages == (1,)
    chunks = chunk_document("d", "Preface.\n\n<!-- page 2 -->\nBody.\n", config("page"))
    assert [c.pages for c in chunks] == [(1,), (2,)]


def test_a_heading_path_is_computed_for_every_strategy() -> None:
    for strategy in STRATEGIES:
        chunks = chunk_document("manual", MANUAL, config(strategy, 48, 8))
        configure = [c for c in chunks if "The configuration file lives" in c.text]
        assert configure[0].heading_path[:1] == ("Acme Gateway Guide",)
        assert chunks[0].heading_path == ("Acme Gateway Guide",)


def test_headings_inside_code_fences_are_not_headings() -> None:
    markdown = "# Real\n\n```python\n# a comment, not a heading\nx = 1\n```\n\nAfter the code.\n"
    chunks = chunk_document("code", markdown, config("recursive", 32, 0))
    assert all(c.heading_path == ("Real",) for c in chunks)


# -- offsets


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_offsets_point_at_the_chunk_in_the_markdown(strategy: str) -> None:
    chunks = chunk_document("manual", MANUAL, config(strategy, 48, 8))
    for chunk in chunks:
        # THEN the span, marker lines removed, is the chunk's text (a split table's part repeats the header in front)
        span = without_markers(MANUAL[chunk.start : chunk.end])
        if span != chunk.text:
            assert strategy == "layout" and chunk.text.startswith("| Setting | Default | Meaning |\n|---")
            assert chunk.text.endswith("\n" + span)
        assert set(chunk.pages) <= {1, 2, 3, 4}


# -- tables


def test_a_table_that_fits_stays_whole() -> None:
    chunks = chunk_document("manual", MANUAL, config("layout", 256, 16))
    tables = [c for c in chunks if "| Setting |" in c.text]
    assert len(tables) == 1
    assert "| timeout | 30s |" in tables[0].text
    assert "| port | 8443 |" in tables[0].text


def test_a_big_table_is_split_by_rows_with_its_header_repeated() -> None:
    # GIVEN a table of 200 rows, far more than one chunk
    header = "| Code | Description |\n|------|-------------|\n"
    rows = [f"| E{i:03d} | Error number {i} means the request failed |\n" for i in range(200)]
    markdown = "# Errors\n\n" + header + "".join(rows)
    # WHEN it is chunked by layout
    chunks = chunk_document("errors", markdown, config("layout", 128, 16))
    assert_fits(chunks, 128)
    parts = [c for c in chunks if "| E" in c.text]
    assert len(parts) > 5
    for part in parts:
        # THEN each part starts with the header and holds whole rows
        body = part.text.split("\n")
        assert part.text.startswith(header.strip()) or part.text.startswith("# Errors\n\n" + header.strip())
        assert all(line.startswith("| E") and line.endswith(" |") for line in body if "| E" in line)
        # and its span covers its rows (the repeated header is a copy)
        assert part.text.endswith(markdown[part.start : part.end].strip())
    # no row is lost or repeated
    seen = [line for part in parts for line in part.text.split("\n") if line.startswith("| E")]
    assert seen == [r.strip() for r in rows]


# -- identity and metadata


def test_ids_are_stable_for_the_same_document_and_config() -> None:
    first = chunk_document("doc-1", MANUAL, config("recursive", 64, 8))
    again = chunk_document("doc-1", MANUAL, config("recursive", 64, 8))
    other_doc = chunk_document("doc-2", MANUAL, config("recursive", 64, 8))
    other_size = chunk_document("doc-1", MANUAL, config("recursive", 96, 8))
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert not {c.id for c in first} & {c.id for c in other_doc}
    assert not {c.id for c in first} & {c.id for c in other_size}
    assert all(re.fullmatch(r"[0-9a-f]{32}", c.id) for c in first)
    assert all(c.document_id == "doc-1" for c in first)


def test_metadata_is_copied_into_every_chunk() -> None:
    metadata = {"source": "s3://bucket/guide.pdf", "tags": ["manual"]}
    chunks = chunk_document("doc", MANUAL, config(), metadata=metadata)
    assert all(c.metadata == metadata for c in chunks)
    metadata["source"] = "changed"
    chunks[0].metadata["source"] = "edited"
    assert chunks[1].metadata["source"] == "s3://bucket/guide.pdf"
    assert chunk_document("doc", MANUAL, config())[0].metadata == {}


# -- config


def test_overlap_must_be_less_than_the_size() -> None:
    with pytest.raises(ValidationError, match=r"overlap_tokens \(64\) must be less than size_tokens \(64\)"):
        ChunkingConfig(size_tokens=64, overlap_tokens=64)
    with pytest.raises(ValidationError):
        ChunkingConfig(size_tokens=16)
    with pytest.raises(ValidationError):
        ChunkingConfig.model_validate({"strategy": "sentences"})
    default = ChunkingConfig()
    assert (default.strategy, default.size_tokens, default.overlap_tokens) == ("layout", 512, 64)


# -- tokenizers


class ByteTokenizer:
    """One token per UTF-8 byte: a tokenizer the chunker knows nothing about."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode())

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(ids).decode(errors="replace")

    def count(self, text: str) -> int:
        return len(text.encode())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_any_tokenizer_can_be_given(strategy: str) -> None:
    tokenizer = ByteTokenizer()
    markdown = MANUAL + ADVERSARIAL["emoji"][:2000]
    chunks = chunk_document("manual", markdown, config(strategy, 200, 20), tokenizer=tokenizer)
    assert chunks
    assert all(c.token_count == tokenizer.count(c.text) <= 200 for c in chunks)


def test_importing_the_module_does_not_load_the_tokenizer() -> None:
    code = "import sys, genai_core.knowledge.chunking; print('tiktoken' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="layers/core")
    assert out.stdout.strip() == "False"


def test_token_counts_are_exact_on_varied_prose() -> None:
    # GIVEN prose whose sentences end in every way punctuation, digits, accents and quotes allow
    rng = random.Random(3)
    words = [
        "naïve",
        "café",
        "it's",
        "e.g.",
        "3.5%",
        "(see",
        "below)",
        "“quoted”",
        "x86_64",
        "Δelta",
        "über",
        "a",
        "the",
    ]
    endings = [".", "?", "!", ".)", "...", ":", ";", '."', "", " 42.", " —"]
    paragraphs = []
    for _ in range(300):
        sentences = [
            " ".join(rng.choices(words, k=rng.randint(3, 30))).capitalize() + rng.choice(endings)
            for _ in range(rng.randint(1, 6))
        ]
        paragraphs.append(" ".join(sentences) + rng.choice(["\n\n", "\n", "\n\n\n", "  \n\n"]))
    markdown = "".join(paragraphs)
    for strategy in STRATEGIES:
        for size, overlap in [(32, 8), (100, 30), (256, 0)]:
            # WHEN it is chunked THEN each chunk's count is what the tokenizer says for its text
            assert_fits(chunk_document("prose", markdown, config(strategy, size, overlap)), size)


# -- the contract on generated documents


def generated_document(seed: int) -> str:
    """Markdown of every kind the chunker reads: pages (and markers inside lines), headings, fences, tables, lists and
    prose whose sentences end in varied ways, with accents, CJK, emoji and uneven whitespace."""
    rng = random.Random(seed)
    words = [
        "naïve",
        "café",
        "it's",
        "e.g.",
        "3.5%",
        "(see",
        "below)",
        "x86_64",
        "Δelta",
        "über",
        "a",
        "the",
        "gateway",
    ]
    words += ["Install", "知识库", "🚀", "word", "Hello", "2024", "U.S.A.", "--", "«non»", "  ", "\t"]
    endings = [".", "?", "!", ".)", "...", ":", ";", '."', "", " 42.", " —", "。"]
    parts, page = [], 1
    for _ in range(rng.randint(1, 50)):
        roll = rng.random()
        if roll < 0.1:
            parts.append(f"<!-- page {page} -->\n")
            page += 1
        elif roll < 0.2:
            parts.append("#" * rng.randint(1, 6) + " " + " ".join(rng.choices(words, k=rng.randint(1, 5))) + "\n\n")
        elif roll < 0.25:
            fence = rng.choice(["```", "~~~"])
            lines = "".join("# " + " ".join(rng.choices(words, k=rng.randint(0, 12))) + "\n" for _ in range(9))
            parts.append(f"{fence}py\n{lines}{rng.choice([fence, ''])}\n\n")
        elif roll < 0.32:
            rows = "".join(f"| {' '.join(rng.choices(words, k=rng.randint(1, 9)))} | {i} |\n" for i in range(40))
            parts.append("| a | b |\n|---|---|\n" + rows + "\n")
        elif roll < 0.38:
            parts.append("".join(f"- {' '.join(rng.choices(words, k=rng.randint(1, 15)))}.\n" for _ in range(5)) + "\n")
        else:
            sentences = [
                " ".join(rng.choices(words, k=rng.randint(1, 40))).capitalize() + rng.choice(endings)
                for _ in range(rng.randint(1, 12))
            ]
            parts.append(rng.choice([" ", "  ", "\n"]).join(sentences) + rng.choice(["\n\n", "\n", "  \n\n", "\n \n"]))
    return "".join(parts)


def page_of(markdown: str) -> Callable[[int], int]:
    """The page of a character: that of the last marker line before it, page 1 before the first."""
    markers = [(m.start(), int(m.group(1))) for m in re.finditer(r"^<!-- page (\d+) -->\n", markdown, re.MULTILINE)]
    starts = [at for at, _ in markers]
    return lambda offset: markers[bisect.bisect_right(starts, offset) - 1][1] if starts and starts[0] <= offset else 1


@pytest.mark.parametrize("seed", range(8))
def test_the_contract_holds_on_generated_documents(seed: int) -> None:
    # GIVEN generated markdown of every kind the chunker reads
    markdown = generated_document(seed)
    page = page_of(markdown)
    for strategy in STRATEGIES:
        for size, overlap in [(32, 8), (200, 50), (256, 0)]:
            # WHEN it is chunked
            chunks = chunk_document("generated", markdown, config(strategy, size, overlap))
            # THEN each chunk's count is a fresh count of its text and fits, its span without markers is its text
            # (or ends it, after a split table's repeated header), and its pages run from its first character's to
            # its last's
            assert_fits(chunks, size)
            assert [c.index for c in chunks] == list(range(len(chunks)))
            for chunk in chunks:
                span = without_markers(markdown[chunk.start : chunk.end])
                assert span == chunk.text or (strategy == "layout" and chunk.text.endswith("\n" + span)), chunk
                first, last = page(chunk.start), page(chunk.end - 1)
                assert chunk.pages[0] == first and chunk.pages[-1] == last, chunk
                assert set(chunk.pages) <= set(range(first, last + 1)), chunk  # the generator numbers pages up
