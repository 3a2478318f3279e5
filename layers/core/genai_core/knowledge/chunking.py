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

Chunks are ordered by ``start``. The ``fixed`` strategy's windows overlap by design; a chunk of any strategy that
re-tokenizes over the size (summed piece counts can undercount the joined text) is cut again by tokens, and its
parts can interleave with an overlapping neighbour.

Speed: the text is cut into units where a cl100k-style pre-tokenizer always cuts (a line start whose first character
is not whitespace; a sentence end before " Word"), and each unit is tokenized once. Token counts add up across such
cuts, so a chunk's exact count is a sum of unit counts plus a re-count of the few tokens that stripping a chunk's
edges changes (its first word, its final punctuation and newlines), remembered across chunks. A tokenizer declares
that property with ``additive_at_boundaries = True`` (`TiktokenTokenizer` does: cl100k and o200k split that way);
any other `Tokenizer` gets every chunk counted in full.
"""

from __future__ import annotations

import functools
import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice, pairwise, repeat
from operator import itemgetter
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genai_core.tokenizer import cl100k

Strategy = Literal["recursive", "fixed", "layout", "page"]


class ChunkingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "layout"
    size_tokens: int = Field(default=512, ge=32, le=8192, strict=True)
    overlap_tokens: int = Field(default=64, ge=0, strict=True)

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
        # the Rust core's method directly: tiktoken's wrapper adds a frame per call, and chunking makes many calls
        core = getattr(encoding, "_core_bpe", None)
        self._encode = core.encode_ordinary if core is not None else encoding.encode_ordinary
        self._decode = encoding.decode

    def encode(self, text: str) -> list[int]:
        return list(self._encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._decode(list(ids)))

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def count_many(self, texts: Iterable[str]) -> list[int]:
        return list(map(len, map(self._encode, texts)))


@functools.cache
def default_tokenizer() -> TiktokenTokenizer:
    return TiktokenTokenizer(cl100k())


# Searched from its literal start (fast), then checked to stand alone on its line.
_MARKER = re.compile(r"<!--[ \t]*page[ \t]+(\d+)[ \t]*-->[ \t]*(?:\r?\n|\Z)")
# Where the cl100k pre-tokenizer always cuts, so that token counts add up across the cut: at a line start whose
# first character is not whitespace, and before " word" after a non-space character (here: a sentence's end).
_SENTENCE_CUTS = [re.compile(rf"\{mark}(?= [^\W\d_])") for mark in ".!?"]
_LINE_START = re.compile(r"\n(?=\S)")
# a line start (not the text's) whose first characters may open a fence, a heading or a table row
_SPECIAL_FIRST = "`~#|"
_SPECIAL_LINE = re.compile(r"\n(?=```|~~~|#|\|)")
# a blank line and the whitespace after it, up to the next line that starts with a non-space character
_BLANK_LINE = re.compile(r"\n[ \t]*\n[ \t\n]*(?=\S)")
_WORD_CUT = re.compile(r"(?<=\S)(?= [^\W\d_])")
# CJK full stop, exclamation, question mark and semicolon end a sentence without a space after them
_SENTENCE_END = re.compile("(?<=[.!?;:])(?=\\s)|(?<=[\u3002\uff01\uff1f\uff1b])")
_WORD_START = re.compile(r"(?<=\S)(?=\s)")
_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t]*(?:#+[ \t]*)?$", re.MULTILINE)
_TABLE_DELIMITER = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$", re.MULTILINE)
_SPACE = re.compile(r"\s")
_SPACES = re.compile(r"\s+")
_EDGE = 96  # characters searched for a cut near a chunk's end

Atom = tuple[int, int, int]  # start, end, tokens
Piece = tuple[int, int, str, int]  # start, end, prefix (a repeated table header), start without the overlap or -1
Unit = tuple[int, int, int, str, bool]  # start, end, tokens, kind, ends a paragraph


class _Document:
    """The markdown without its marker lines ("clean" text), with what maps it back: offsets, pages, headings.

    The clean text is cut into units (lines, and sentences inside lines) where token counts add up; each unit is
    tokenized once, and every later count is a sum of unit counts plus short re-counts at the edges.
    """

    def __init__(self, markdown: str, tokenizer: Tokenizer, count_units: bool) -> None:
        parts: list[str] = []
        self.marker_at: list[int] = []  # clean offset where a marker line was removed
        self.removed_through: list[int] = []  # characters removed up to and including that marker
        self.page_at: list[int] = []
        self.page_no: list[int] = []
        last = removed = 0
        for match in _MARKER.finditer(markdown):
            line_start = markdown.rfind("\n", 0, match.start()) + 1
            if markdown[line_start : match.start()].strip(" \t"):
                continue  # a marker inside a line is text
            parts.append(markdown[last:line_start])
            clean_at = line_start - removed
            removed += match.end() - line_start
            self.marker_at.append(clean_at)
            self.removed_through.append(removed)
            self.page_at.append(clean_at)
            self.page_no.append(int(match.group(1)))
            last = match.end()
        parts.append(markdown[last:])
        self.text = text = "".join(parts)
        self.tokenizer = tokenizer
        self.additive = bool(getattr(tokenizer, "additive_at_boundaries", False))

        line_starts = [0]
        line_starts += [m.end() for m in _LINE_START.finditer(text)]
        # one search per punctuation mark: each has a literal first character, which `re` finds fast
        bounds = line_starts + [m.end() for cut in _SENTENCE_CUTS for m in cut.finditer(text)]
        bounds.sort()
        if bounds[-1] != len(text):
            bounds.append(len(text))
        self.bounds = bounds
        self.heading_at: list[int] = []
        self.heading_end: list[int] = []
        self.heading_paths: list[tuple[str, ...]] = []
        # only line starts need a look (the other units are sentences inside a line), and of those only the ones
        # whose first character can open a fence, a heading or a table row: the rest are text, or code in a fence
        kind_at = dict.fromkeys(line_starts, "text")
        special = [0] if text and text[0] in _SPECIAL_FIRST else []
        special += [m.end() for m in _SPECIAL_LINE.finditer(text)]
        stack: list[tuple[int, str]] = []
        code_through = -1  # the line start of the open fence's closing line, once found
        for start in special:
            if start <= code_through or start not in kind_at:
                continue  # inside a fence (marked with it), or not a line start
            first = text[start : start + 3]
            if first in ("```", "~~~"):
                kind_at[start] = "fence_open"
                i = bisect_right(line_starts, start)
                while i < len(line_starts) and text[line_starts[i] : line_starts[i] + 3] != first:
                    kind_at[line_starts[i]] = "code"
                    i += 1
                if i < len(line_starts):
                    kind_at[line_starts[i]] = "fence_close"
                    code_through = line_starts[i]
                else:
                    code_through = len(text)
            elif first[:1] == "#":
                line_end = text.find("\n", start)
                heading = _HEADING.match(text, start, line_end if line_end >= 0 else len(text))
                if heading:
                    kind_at[start] = "heading"
                    level = len(heading.group(1))
                    while stack and stack[-1][0] >= level:
                        stack.pop()
                    stack.append((level, heading.group(2).strip()))
                    self.heading_at.append(start)
                    self.heading_end.append(heading.end())
                    self.heading_paths.append(tuple(title for _, title in stack))
            elif first[:1] == "|":
                kind_at[start] = "table"
        self.kinds = list(map(kind_at.get, bounds[:-1], repeat("cont")))
        paragraph_ends = {m.end() for m in _BLANK_LINE.finditer(text)}
        self.ends_paragraph = list(map(paragraph_ends.__contains__, islice(bounds, 1, None)))
        # the units that end a paragraph, for walking a span paragraph by paragraph
        self.paragraph_last = [i for i, ends in enumerate(self.ends_paragraph) if ends]
        self.counts: list[int] = []
        self.prefix: list[int] = [0]
        self._small: dict[str, int] = {}
        if count_units:
            texts = map(text.__getitem__, map(slice, bounds, islice(bounds, 1, None)))
            many = getattr(tokenizer, "count_many", None)
            self.counts = counts = many(texts) if many else list(map(tokenizer.count, texts))
            self.prefix = list(accumulate(counts, initial=0))

    # -- offsets, pages, headings

    def original(self, clean: int, *, is_start: bool) -> int:
        # a span starting where a marker was removed starts after the marker; one ending there ends before it
        i = (bisect_right if is_start else bisect_left)(self.marker_at, clean)
        return clean + (self.removed_through[i - 1] if i else 0)

    def pages(self, start: int, end: int) -> tuple[int, ...]:
        first = bisect_right(self.page_at, start)
        last = bisect_left(self.page_at, end)
        if first == last:  # no page starts inside the span
            return (self.page_no[first - 1] if first else 1,)
        pages = {self.page_no[first - 1] if first else 1}
        for i in range(first, last):
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
        """The exact token count of text[start:end]: unit counts in the middle, short re-counts at the edges."""
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
            unit_start, unit_end = bounds[a - 1], bounds[a]
            word_end = start
            if text[start - 1] == " " and (start - 1 == unit_start or not text[start - 2].isspace()):
                # " word" after a non-space character: the pre-tokenizer cuts before the space
                while word_end < unit_end and word_end - start < 64 and text[word_end].isalpha():
                    word_end += 1
            if word_end > start and (word_end == unit_end or not (text[word_end].isalpha() or text[word_end] == "'")):
                # the unit from that cut on, less its first word's space: only that word's tokens change (" Word"
                # to "Word"); counted as the unit's count minus what is before the cut, or directly if shorter
                space_at = start - 1
                if space_at != unit_start and unit_end - space_at <= space_at - unit_start:
                    total += count(text[start:unit_end])  # the shorter side: counted as it is
                else:
                    first_word = text[start:word_end]
                    after = self.counts[a - 1] - (count(text[unit_start:space_at]) if space_at != unit_start else 0)
                    total += after - self.small(" " + first_word) + self.small(first_word)
            else:
                # the unit's count minus its words before the first cut after `start`, or the rest of it if shorter
                cut = _word_cut_after(text, start, bounds[a])
                if cut is None or bounds[a] - start <= cut - bounds[a - 1]:
                    total += count(text[start : bounds[a]])
                else:
                    total += count(text[start:cut]) + self.counts[a - 1] - count(text[bounds[a - 1] : cut])
        if end > bounds[b]:
            rest = text[end : bounds[b + 1]]
            last = text[end - 1]
            if not rest.strip() and last.isalnum():
                # only trailing whitespace cut off, after a word: it was tokens of its own
                total += self.counts[b] - self.small(rest)
            elif not rest.strip() and not last.isspace() and (punctuation := _punctuation_start(text, bounds[b], end)):
                # after punctuation, which takes the newlines after it into its token: re-count that token alone
                total += (
                    self.counts[b] - self.small(text[punctuation : bounds[b + 1]]) + self.small(text[punctuation:end])
                )
            elif (cut := _word_cut_before(text, bounds[b], end)) is None:
                total += count(text[bounds[b] : end])
            else:  # the unit's count minus what lies past the last cut before `end`, plus the rest
                total += self.counts[b] - count(text[cut : bounds[b + 1]]) + count(text[cut:end])
        return total

    def small(self, text: str) -> int:
        """Counts of short strings that recur at chunk edges (a first word, ".\\n\\n"), remembered."""
        tokens = self._small.get(text)
        if tokens is None:
            tokens = self._small[text] = self.tokenizer.count(text)
        return tokens

    def units(self, start: int, end: int) -> list[Unit]:
        """The units of text[start:end] (a unit cut by the span's edge is re-counted)."""
        bounds, text, counts, kinds, ends = self.bounds, self.text, self.counts, self.kinds, self.ends_paragraph
        first = max(bisect_right(bounds, start) - 1, 0)
        last = bisect_left(bounds, end)
        out = [
            (bounds[i], bounds[i + 1], counts[i], kinds[i], ends[i]) for i in range(first, min(last, len(bounds) - 1))
        ]
        if out and out[0][0] < start:
            a, b, _, kind, ends_paragraph = out[0]
            out[0] = (start, b, self.tokenizer.count(text[start:b]), "cont", ends_paragraph)
        if out and out[-1][1] > end:
            a, b, _, kind, _ = out[-1]
            out[-1] = (a, end, self.tokenizer.count(text[a:end]), kind, True)
        return [u for u in out if u[0] < u[1]]


class _Chunker:
    def __init__(self, doc: _Document, size: int, overlap: int) -> None:
        self.doc, self.text, self.size, self.overlap = doc, doc.text, size, overlap
        self.count = doc.tokenizer.count

    # -- splitting into atoms of at most `limit` tokens

    def recursive_atoms(self, start: int, end: int, limit: int) -> list[Atom]:
        """Paragraphs of at most `limit` tokens whole; bigger ones by lines, sentences, words, then tokens."""
        atoms: list[Atom] = []
        doc = self.doc
        bounds, prefix, paragraph_last = doc.bounds, doc.prefix, doc.paragraph_last
        counts, kinds = doc.counts, doc.kinds
        first = max(bisect_right(bounds, start) - 1, 0)
        last = min(bisect_left(bounds, end), len(bounds) - 1)  # the span's units are first .. last - 1
        k = bisect_left(paragraph_last, first)
        while first < last:
            # a paragraph is the units up to one that ends it, or up to the span's last unit
            final = paragraph_last[k] if k < len(paragraph_last) and paragraph_last[k] < last else last - 1
            k += 1
            a, b = max(bounds[first], start), min(bounds[final + 1], end)
            if a == bounds[first] and b == bounds[final + 1]:  # whole units: counted already
                total = prefix[final + 1] - prefix[first]
                if total <= limit:
                    atoms.append((a, b, total))
                elif (
                    kinds[first + 1 : final + 1].count("cont") == final - first
                    and max(counts[first : final + 1]) <= limit
                ):
                    # one line of sentences that each fit: the sentences are the atoms, as _lines would make them
                    atoms.extend(
                        zip(
                            bounds[first : final + 1],
                            bounds[first + 1 : final + 2],
                            counts[first : final + 1],
                            strict=True,
                        )
                    )
                else:
                    self._lines(doc.units(a, b), limit, atoms)
            elif units := doc.units(a, b):  # cut by the span's edge: re-counted
                total = sum(u[2] for u in units)
                if total <= limit:
                    atoms.append((units[0][0], units[-1][1], total))
                else:
                    self._lines(units, limit, atoms)
            first = final + 1
        return atoms

    def _lines(self, units: list[Unit], limit: int, atoms: list[Atom]) -> None:
        line: list[Unit] = []
        for i, unit in enumerate(units):
            line.append(unit)
            if i + 1 < len(units) and units[i + 1][3] == "cont":
                continue
            total = sum(u[2] for u in line)
            if total <= limit:
                atoms.append((line[0][0], line[-1][1], total))
            else:
                for a, b, tokens, _, _ in line:
                    if tokens <= limit:
                        atoms.append((a, b, tokens))
                    else:
                        self.split(a, b, limit, 0, atoms)
            line = []

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
        for a, b in pairwise(cuts):
            tokens = self.count(self.text[a:b])
            if tokens <= limit:
                atoms.append((a, b, tokens))
            else:
                self.split(a, b, limit, level + 1, atoms)

    def token_windows(
        self, start: int, end: int, limit: int, step: int | None = None, verify: bool = True
    ) -> list[Atom]:
        """Windows of at most `limit` tokens of text[start:end], each next one starting `step` tokens later.

        A token can end inside a multi-byte character (emoji, CJK): a window only starts and ends where the decoded
        tokens match the text, moving its end back (and the next start forward) to such a place.
        """
        tokenizer, text = self.doc.tokenizer, self.text
        ids = tokenizer.encode(text[start:end])
        n = len(ids)
        step = step or limit

        def clean(i: int, at: int, j: int) -> int:
            """The length of decoded ids[i:j] if it is text[at:...] exactly, else -1."""
            piece = tokenizer.decode(ids[i:j])
            return len(piece) if text.startswith(piece, at) else -1

        windows: list[tuple[int, int]] = []
        i, at = 0, start
        while i < n:
            j = min(i + limit, n)
            length = clean(i, at, j) if j < n else end - at
            while length < 0 and j > i + 1:
                j -= 1
                length = clean(i, at, j)
            if length <= 0:  # no token boundary on a character boundary: cut by characters instead
                j, length = min(i + limit, n), min(max(1, (end - at) * limit // max(n - i, 1)), end - at)
            windows.append((at, at + length))
            if j >= n:
                break
            # the next window starts `step` tokens after this one, or later if that is inside a character
            k = max(min(i + step, j), i + 1)
            length = clean(i, at, k)
            while length < 0 and k < j:
                k += 1
                length = clean(i, at, k)
            i, at = k, at + max(length, 0)
        if not verify:
            return [(a, b, -1) for a, b in windows]
        atoms: list[Atom] = []
        for a, b in windows:
            tokens = self.count(text[a:b])
            if tokens <= limit:
                atoms.append((a, b, tokens))
            elif b - a > 1:  # re-tokenized, the window came out longer: cut it again, tighter
                atoms.extend(self.token_windows(a, b, max(limit - (tokens - limit) - 1, 1)))
            else:
                atoms.append((a, b, tokens))
        return atoms

    # -- packing atoms into chunks

    def pack(self, atoms: list[Atom], overlap: int) -> list[Piece]:
        size = self.size
        pieces: list[Piece] = []
        i, n = 0, len(atoms)
        # a chunk from atom i holds atoms up to j - 1: the last j whose running total still fits
        running = list(accumulate([atom[2] for atom in atoms], initial=0))
        carry_start, carry_tokens = -1, 0
        while i < n:
            start = carry_start if carry_start >= 0 else atoms[i][0]
            j = bisect_right(running, running[i] + size - carry_tokens, i, n + 1) - 1
            total = carry_tokens + running[j] - running[i]
            if j == i:
                if carry_start < 0:  # cannot happen: atoms are at most the size
                    j, total = i + 1, atoms[i][2]
                else:
                    carry_start, carry_tokens = -1, 0
                    continue
            end = atoms[j - 1][1]
            pieces.append((start, end, "", atoms[i][0] if carry_start >= 0 else -1))
            i = j
            carry_start, carry_tokens = -1, 0
            if overlap and i < n:
                carry_start, carry_tokens = self.tail(start, end, total, min(overlap, size - atoms[i][2]))
        return pieces

    def tail(self, start: int, end: int, tokens: int, overlap: int) -> tuple[int, int]:
        """The start of about `overlap` final tokens of text[start:end] and their count, at a unit or word start."""
        if overlap <= 0 or tokens <= 0:
            return -1, 0
        doc, text = self.doc, self.text
        if doc.counts:  # whole units (sentences) from the end, when they fit: counted already
            k = bisect_left(doc.bounds, end)
            if k < len(doc.bounds) and doc.bounds[k] == end:
                total = 0
                while k > 0 and doc.bounds[k - 1] > start and total + doc.counts[k - 1] <= overlap:
                    k -= 1
                    total += doc.counts[k]
                if total * 2 >= overlap:
                    return doc.bounds[k], total
        # Otherwise estimated from the characters per token, not counted: the chunk's exact count comes later, and
        # a chunk the estimate pushed over the size drops its overlap then.
        per_token = max((end - start) / tokens, 0.25)
        at = max(end - int(overlap * 0.9 * per_token), start + 1)
        word = _next_word(text, at, end)
        if word is not None:
            at = word
        if at >= end:
            return -1, 0
        return at, min(overlap, int((end - at) / per_token) + 1)

    # -- strategies

    def recursive(self, start: int, end: int) -> list[Piece]:
        return self.pack(self.recursive_atoms(start, end, self.size - self.overlap), self.overlap)

    def fixed(self, start: int, end: int) -> list[Piece]:
        # counted once, after stripping, by the caller
        windows = self.token_windows(start, end, self.size, self.size - self.overlap, verify=False)
        return [(a, b, "", -1) for a, b, _ in windows]

    def layout(self, start: int, end: int) -> list[Piece]:
        pieces: list[Piece] = []
        for section in self._sections(start, end):
            pending: list[Atom] = []
            total = 0
            for block_start, block_end, tokens, kind, block in _blocks(section):
                if tokens <= self.size:
                    if total + tokens > self.size:
                        pieces.append((pending[0][0], pending[-1][1], "", -1))
                        pending, total = [], 0
                    pending.append((block_start, block_end, tokens))
                    total += tokens
                    continue
                if kind == "table":
                    if pending:
                        pieces.append((pending[0][0], pending[-1][1], "", -1))
                        pending, total = [], 0
                    pieces.extend(self._table(block))
                    continue
                # too big for one chunk: split it, the section's pending blocks leading the first part
                limit = self.size - self.overlap
                atoms = [a for a in pending if a[2] <= limit]
                if len(atoms) < len(pending):
                    pieces.append((pending[0][0], pending[-1][1], "", -1))
                    atoms = []
                atoms.extend(self.recursive_atoms(block_start, block_end, limit))
                pieces.extend(self.pack(atoms, self.overlap))
                pending, total = [], 0
            if pending:
                pieces.append((pending[0][0], pending[-1][1], "", -1))
        return pieces

    def _sections(self, start: int, end: int) -> list[list[Unit]]:
        sections: list[list[Unit]] = [[]]
        text = self.text
        for unit in self.doc.units(start, end):
            current = sections[-1]
            # a heading with nothing under it yet (a chapter title above its first subsection) stays with what follows
            if unit[3] == "heading" and any(
                u[3] not in ("heading", "cont") and text[u[0] : u[1]].strip() for u in current
            ):
                sections.append([])
            sections[-1].append(unit)
        return [s for s in sections if s]

    def _table(self, units: list[Unit]) -> list[Piece]:
        text = self.text
        lines: list[tuple[int, int, int]] = []  # a row can hold several units (sentences)
        for a, b, tokens, kind, _ in units:
            if kind == "cont" and lines:
                lines[-1] = (lines[-1][0], b, lines[-1][2] + tokens)
            else:
                lines.append((a, b, tokens))
        header_n = 2 if len(lines) > 1 and _TABLE_DELIMITER.match(text, lines[1][0], lines[1][1]) else 1
        header = text[lines[0][0] : lines[header_n - 1][1]]
        header_tokens = sum(line[2] for line in lines[:header_n])
        repeat = header_tokens <= self.size // 2
        budget = self.size - header_tokens if repeat else self.size
        rows: list[Atom] = []
        for a, b, tokens in lines[header_n:]:
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
                    pieces.append((lines[0][0], header_end, "", -1))
                    first = False
                    continue
                j = i + 1
            if first:
                pieces.append((lines[0][0], rows[j - 1][1], "", -1))
                first = False
            else:
                pieces.append((rows[i][0], rows[j - 1][1], header if repeat else "", -1))
            i = j
        if first:
            pieces.append((lines[0][0], header_end, "", -1))
        return pieces

    def pages(self, start: int, end: int) -> list[Piece]:
        doc = self.doc
        cuts = sorted({start, *(p for p in doc.page_at if start < p < end), end})
        pieces: list[Piece] = []
        for a, b in pairwise(cuts):
            if self.text[a:b].strip():
                pieces.extend(self.recursive(a, b))
        return pieces


def _next_word(text: str, at: int, end: int) -> int | None:
    """The first word start at or after `at` (after whitespace), if any before `end`."""
    if at > 0 and text[at - 1].isspace() and not text[at].isspace():
        return at
    # the first whitespace within _EDGE characters, then the end of its run (\s is what str.isspace calls space)
    space = _SPACE.search(text, at, min(end, at + _EDGE))
    if space is None:
        return None
    word = _SPACES.match(text, space.start(), end)
    return word.end() if word and word.end() < end else None


def _blocks(units: list[Unit]) -> list[tuple[int, int, int, str, list[Unit]]]:
    """Headings, code fences, tables and paragraphs (lists included) of one section, in order."""
    blocks: list[tuple[int, int, int, str, list[Unit]]] = []
    current: list[Unit] = []
    current_kind = ""

    def close() -> None:
        nonlocal current, current_kind
        if current:
            blocks.append((current[0][0], current[-1][1], sum(x[2] for x in current), current_kind, current))
        current, current_kind = [], ""

    for unit in units:
        kind = unit[3]
        if kind == "cont" and current:
            current.append(unit)
        elif current_kind == "code":
            current.append(unit)
            if kind == "fence_close":
                close()
            continue
        elif kind == "fence_open":
            close()
            current, current_kind = [unit], "code"
            continue
        elif kind in ("heading", "table"):
            if current_kind != kind or kind == "heading":
                close()
            current_kind = kind
            current.append(unit)
        else:
            if current_kind not in ("text", "", -1):
                close()
            current_kind = "text"
            current.append(unit)
        if unit[4]:
            close()
    close()
    return blocks


def _punctuation_start(text: str, start: int, end: int) -> int:
    """Where the run of punctuation that ends text[:end] starts, if a letter or digit is before it; else 0."""
    at = end - 1
    while at > start and at > end - 8 and not text[at - 1].isalnum() and not text[at - 1].isspace():
        at -= 1
    return at if at > start and text[at - 1].isalnum() else 0


def _word_cut_after(text: str, start: int, end: int) -> int | None:
    """The first place after `start` where the pre-tokenizer must cut (before " word"), if one is near."""
    at = start
    for _ in range(8):
        at = text.find(" ", at + 1, min(end - 1, start + _EDGE))
        if at < 0:
            return None
        if not text[at - 1].isspace() and text[at + 1].isalpha():
            return at
    return None


def _word_cut_before(text: str, start: int, end: int) -> int | None:
    """The last place before `end` (after `start`) where the pre-tokenizer must cut (before " word"), if near."""
    at = end - 1
    for _ in range(8):
        at = text.rfind(" ", max(start + 1, end - _EDGE), at)
        if at < 0:
            return None
        if not text[at - 1].isspace() and text[at + 1].isalpha():
            return at
    return None


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
    if not markdown or markdown.isspace():
        return []
    tokenizer = tokenizer or default_tokenizer()
    doc = _Document(markdown, tokenizer, count_units=config.strategy != "fixed")
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
    for a, b, prefix, plain_start in pieces:
        span = text[a:b]
        stripped = span.strip()  # str.strip removes what str.isspace calls whitespace, as _strip does
        if not stripped:
            continue
        if len(stripped) < len(span):
            a += span.find(stripped[0])  # the first non-whitespace character's first occurrence
            b = a + len(stripped)
        tokens = tokenizer.count(prefix + stripped) if prefix else doc.count(a, b)
        if tokens > size and plain_start > a:  # the estimated overlap made it too long: without it, it fits
            a, _ = _strip(text, plain_start, b)
            tokens = doc.count(a, b)
        if tokens <= size:
            counted.append((a, b, prefix, tokens))
            continue
        # summed piece counts can undercount the joined text by a few tokens: cut it again by tokens
        for x, y, _ in chunker.token_windows(a, b, size):
            x, y = _strip(text, x, y)
            if x < y:
                counted.append((x, y, "", tokenizer.count(text[x:y])))

    counted.sort(key=itemgetter(0, 1))  # a re-cut chunk's parts can interleave with overlaps
    base = hashlib.sha256(
        f"{document_id}\x1f{config.strategy}\x1f{config.size_tokens}\x1f{config.overlap_tokens}\x1f".encode()
    )
    meta = dict(metadata or {})
    chunks = []
    for index, (a, b, prefix, tokens) in enumerate(counted):
        digest = base.copy()
        digest.update(str(index).encode())
        chunks.append(
            _chunk(
                id=digest.hexdigest()[:32],
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


def _chunk(**fields: Any) -> Chunk:
    """A `Chunk` without its generated __init__, which (the class being frozen) sets each field through
    object.__setattr__: five times slower, and a document makes thousands. The fields are the same."""
    chunk = object.__new__(Chunk)
    chunk.__dict__.update(fields)
    return chunk
