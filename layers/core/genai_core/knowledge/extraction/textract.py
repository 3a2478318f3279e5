"""Amazon Textract document analysis (LAYOUT + TABLES) for scanned PDFs and images, turned into the markdown that
`genai_core.knowledge.chunking` reads.

Two parts:

- `blocks_to_markdown`: GetDocumentAnalysis blocks -> one markdown text with ``<!-- page N -->`` markers.
- `TextractAnalysis`: the asynchronous API (StartDocumentAnalysis with an SNS notification channel, then
  GetDocumentAnalysis paged with NextToken), and `parse_completion` for the SNS -> SQS completion message.

Rendering decisions (see `blocks_to_markdown`):

- Reading order is the order of the LAYOUT_* blocks in each PAGE block's CHILD relationship (Textract returns them
  in implied reading order: columns left to right, top to bottom). Pages come out in page-number order.
- LAYOUT_TITLE -> ``#``, LAYOUT_SECTION_HEADER -> ``##``, LAYOUT_LIST -> ``- `` items (a numbered item keeps its
  number as an ordered item), LAYOUT_TEXT / LAYOUT_FIGURE -> a paragraph, LAYOUT_KEY_VALUE -> its lines,
  LAYOUT_HEADER / LAYOUT_FOOTER / LAYOUT_PAGE_NUMBER -> dropped (repeated on every page, they only add noise).
- Tables: LAYOUT_TABLE's children are LINEs, the TABLE block is a separate child of the PAGE. A TABLE is placed
  where the layout block that shares the most WORDs with it is (a LAYOUT_TABLE wins ties), else by bounding box
  overlap, else before the first layout block below it. Words rendered in a table are removed from layout text, so
  nothing is written twice.
- Merged cells: the spanning text is repeated into every cell it covers. Pipe tables cannot express spans, and a
  row that keeps its own copy of a spanning label (a row group, a multi-column heading) still reads right when the
  chunker splits a big table by rows.
- Header row: the leading rows with COLUMN_HEADER cells, collapsed into one row (distinct texts per column joined,
  so "Revenue" over "2023" | "2024" gives "Revenue 2023" | "Revenue 2024"); without COLUMN_HEADER, the first row.
- A page without LAYOUT blocks (analysis without LAYOUT, or an old response): its LINEs in order, grouped into
  paragraphs at vertical gaps, with its tables placed by position.
- Missing or dangling Ids are skipped; blocks are indexed by Id once, so the work is linear in the blocks.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

FEATURE_TYPES = ("LAYOUT", "TABLES")
MAX_RESULTS = 1000  # GetDocumentAnalysis' largest page of blocks
API = "StartDocumentAnalysis"

Block = dict[str, Any]


class TextractError(Exception):
    """Textract could not analyse the document; the message can be shown to the document's owner."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TextractDocument:
    markdown: str
    pages: int


@dataclass(frozen=True)
class TextractWarning:
    """A PARTIAL_SUCCESS warning: pages Textract could not analyse, with its error code."""

    error_code: str
    pages: tuple[int, ...]


@dataclass(frozen=True)
class TextractCompletion:
    """Textract's completion notification (what it publishes to the job's SNS topic)."""

    job_id: str
    status: str  # SUCCEEDED, FAILED or ERROR
    api: str
    job_tag: str | None
    timestamp: int | None  # milliseconds since the epoch
    bucket: str | None
    key: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


# -- blocks -> markdown ---------------------------------------------------------------------------------------------

_DROPPED = frozenset({"LAYOUT_HEADER", "LAYOUT_FOOTER", "LAYOUT_PAGE_NUMBER"})
_BULLET = re.compile(r"^[\u2022\u00b7\u2023\u25e6\u25aa\u25a0\u25cf\u25cb\u2043\u2013\u2014*+-]\s+")
_NUMBERED = re.compile(r"^(?:\d{1,3}|[a-zA-Z])[.)]\s+\S")
# Block starts that markdown (and the chunker) would read as structure: headings, table rows, code fences, page
# markers, quotes. A backslash keeps them text.
_STRUCTURAL_START = re.compile(r"^(?:#|\||```|~~~|<!--|>)")
_PARAGRAPH_GAP = 0.75  # a vertical gap above this many line heights starts a new paragraph (page without layout)
_MAX_TABLE_SIDE = 1000  # rows or columns; a corrupt index or span must not make a huge grid
_OVERLAP = 0.5  # share of a table's area inside a layout block for the block to own it by geometry


def _children(block: Block, kind: str = "CHILD") -> list[str]:
    ids: list[str] = []
    relationships = block.get("Relationships")
    for relationship in relationships if isinstance(relationships, list) else ():
        if isinstance(relationship, dict) and relationship.get("Type") == kind:
            children = relationship.get("Ids")
            if isinstance(children, list):
                ids.extend(i for i in children if isinstance(i, str))
    return ids


def _box(block: Block | None) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of the block's bounding box, page-relative."""
    if block is None:
        return None
    try:
        box = block["Geometry"]["BoundingBox"]
        left, top = float(box["Left"]), float(box["Top"])
        return left, top, left + float(box["Width"]), top + float(box["Height"])
    except (KeyError, TypeError, ValueError):
        return None


def _top(block: Block | None) -> float:
    box = _box(block)
    return box[1] if box else 0.0


def _escape_start(text: str) -> str:
    return "\\" + text if _STRUCTURAL_START.match(text) else text


def _cell_escape(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


class _Index:
    """All blocks by Id, and per page its PAGE block and its blocks of the kinds rendering needs, in given order."""

    def __init__(self, blocks: Iterable[Block]) -> None:
        self.by_id: dict[str, Block] = {}
        self.page_blocks: dict[int, Block] = {}
        self.layouts: dict[int, list[str]] = defaultdict(list)
        self.lines: dict[int, list[str]] = defaultdict(list)
        self.tables: dict[int, list[str]] = defaultdict(list)
        self._words: dict[str, list[str]] = {}  # WORD children per LINE, looked up several times
        unnumbered_pages = 0
        for block in blocks:
            if not isinstance(block, dict):
                continue
            block_id = block.get("Id")
            kind = block.get("BlockType")
            if not isinstance(block_id, str) or not isinstance(kind, str):
                continue
            self.by_id[block_id] = block
            page = block.get("Page")
            if kind == "PAGE":
                if not isinstance(page, int):  # synchronous AnalyzeDocument leaves Page out
                    unnumbered_pages += 1
                    page = unnumbered_pages
                self.page_blocks.setdefault(page, block)
                continue
            page = page if isinstance(page, int) else 1
            if kind.startswith("LAYOUT_"):
                self.layouts[page].append(block_id)
            elif kind == "LINE":
                self.lines[page].append(block_id)
            elif kind == "TABLE":
                self.tables[page].append(block_id)

    def get(self, block_id: str, *kinds: str) -> Block | None:
        block = self.by_id.get(block_id)
        if block is None or (kinds and block.get("BlockType") not in kinds):
            return None
        return block

    def pages(self) -> list[int]:
        return sorted(set(self.page_blocks) | set(self.layouts) | set(self.lines) | set(self.tables))

    def kind(self, block_id: str) -> str:
        return str(self.by_id.get(block_id, {}).get("BlockType", ""))

    def page_children(self, page: int, kind: str, fallback: list[str]) -> list[str]:
        """The page's blocks of a kind ("LAYOUT_" for every layout kind) in the PAGE block's CHILD order, then any
        the PAGE block does not list, in block order."""
        page_block = self.page_blocks.get(page)
        if page_block is not None:
            ordered = [
                i
                for i in _children(page_block)
                if self.kind(i) == kind or (kind.endswith("_") and self.kind(i).startswith(kind))
            ]
            if ordered:
                seen = set(ordered)
                return ordered + [i for i in fallback if i not in seen]
        return list(fallback)

    def words(self, block_id: str) -> list[str]:
        """WORD ids of a LINE (or of a TABLE_TITLE/TABLE_FOOTER, whose children are WORDs)."""
        words = self._words.get(block_id)
        if words is None:
            block = self.by_id.get(block_id)
            words = self._words[block_id] = [i for i in _children(block) if self.get(i, "WORD")] if block else []
        return words

    def line_text(self, line_id: str, skip_words: set[str]) -> str:
        line = self.by_id[line_id]
        word_ids = self.words(line_id)
        if not skip_words.isdisjoint(word_ids):
            return " ".join(str(self.by_id[w].get("Text", "")) for w in word_ids if w not in skip_words).strip()
        text = line.get("Text")
        if isinstance(text, str):
            return " ".join(text.split())
        return " ".join(str(self.by_id[w].get("Text", "")) for w in word_ids).strip()


@dataclass
class _Table:
    id: str
    block: Block
    words: set[str] = field(default_factory=set)
    rendered: str = ""


@dataclass
class _Placement:
    after: dict[str, list[_Table]] = field(default_factory=lambda: defaultdict(list))
    before: dict[str, list[_Table]] = field(default_factory=lambda: defaultdict(list))
    end: list[_Table] = field(default_factory=list)


def blocks_to_markdown(blocks: Iterable[Block]) -> TextractDocument:
    """Markdown with page markers from GetDocumentAnalysis (or AnalyzeDocument) blocks, every response page's
    blocks together, in any order. See the module docstring for how each block type is rendered."""
    index = _Index(blocks)
    pages = index.pages()
    sections = []
    for page in pages:
        body = _Page(index, page).render()
        sections.append(f"<!-- page {page} -->" + ("\n" + "\n\n".join(body) if body else ""))
    markdown = "\n\n".join(sections) + "\n" if sections else ""
    return TextractDocument(markdown=markdown, pages=max(pages, default=0))


class _Page:
    def __init__(self, index: _Index, page: int) -> None:
        self.index = index
        self.page = page
        self.tables: list[_Table] = []
        self.table_words: set[str] = set()
        for table_id in index.page_children(page, "TABLE", index.tables.get(page, [])):
            block = index.get(table_id, "TABLE")
            if block is None:
                continue
            table = _Table(table_id, block)
            for cell_id in _children(block):
                cell = index.get(cell_id, "CELL")
                if cell is not None:
                    table.words.update(i for i in _children(cell) if i in index.by_id)
            table.rendered = _render_table(index, block)
            if table.rendered:
                self.tables.append(table)
                self.table_words |= table.words

    # -- layout ----------------------------------------------------------------------------------------------

    def render(self) -> list[str]:
        index = self.index
        layout_ids = [
            i for i in index.page_children(self.page, "LAYOUT_", index.layouts.get(self.page, [])) if i in index.by_id
        ]
        if not layout_ids:
            return self._render_lines()
        nested = {child for i in layout_ids for child in _children(index.by_id[i]) if child in index.by_id}
        top_level = [i for i in layout_ids if i not in nested]
        placement = self._place_tables(top_level)
        covered = {w for i in layout_ids for line in self._lines_of(i) for w in index.words(line)}
        parts: list[str] = []
        for layout_id in top_level:
            parts.extend(self._table_parts(t, covered) for t in placement.before.get(layout_id, ()))
            parts.append(self._render_layout(layout_id))
            parts.extend(self._table_parts(t, covered) for t in placement.after.get(layout_id, ()))
        parts.extend(self._table_parts(t, covered) for t in placement.end)
        return [p for p in parts if p]

    def _lines_of(self, layout_id: str) -> list[str]:
        """LINE ids under a layout block, through a LAYOUT_LIST's LAYOUT_TEXT items."""
        lines: list[str] = []
        for child_id in _children(self.index.by_id[layout_id]):
            child = self.index.by_id.get(child_id)
            if child is None:
                continue
            if child.get("BlockType") == "LINE":
                lines.append(child_id)
            elif str(child.get("BlockType", "")).startswith("LAYOUT_"):
                lines.extend(i for i in _children(child) if self.index.get(i, "LINE"))
        return lines

    def _place_tables(self, top_level: list[str]) -> _Placement:
        """Which layout block each table is rendered after (or before, or at the page's end)."""
        index = self.index
        placement = _Placement()
        if not self.tables:
            return placement
        candidates = [i for i in top_level if index.by_id[i].get("BlockType") not in _DROPPED]
        word_owner: dict[str, str] = {}
        direct: dict[str, str] = {}
        for layout_id in candidates:
            for child_id in _children(index.by_id[layout_id]):
                if index.get(child_id, "TABLE"):
                    direct.setdefault(child_id, layout_id)
            for line_id in self._lines_of(layout_id):
                for word_id in index.words(line_id):
                    word_owner.setdefault(word_id, layout_id)
        order = {layout_id: n for n, layout_id in enumerate(candidates)}
        for table in sorted(self.tables, key=lambda t: _top(t.block)):
            owner = direct.get(table.id)
            if owner is None:
                shared: dict[str, int] = defaultdict(int)
                for word_id in table.words:
                    if word_id in word_owner:
                        shared[word_owner[word_id]] += 1
                if shared:
                    owner = max(
                        shared,
                        key=lambda i: (shared[i], index.by_id[i].get("BlockType") == "LAYOUT_TABLE", -order[i]),
                    )
            if owner is None:
                owner = self._owner_by_geometry(table, candidates)
            if owner is not None:
                placement.after[owner].append(table)
                continue
            top = _top(table.block)
            below = next((i for i in candidates if _top(index.by_id[i]) > top), None)
            if below is None:
                placement.end.append(table)
            else:
                placement.before[below].append(table)
        return placement

    def _owner_by_geometry(self, table: _Table, candidates: list[str]) -> str | None:
        box = _box(table.block)
        if box is None:
            return None
        area = (box[2] - box[0]) * (box[3] - box[1])
        best, best_share = None, _OVERLAP
        for layout_id in candidates:
            if self.index.by_id[layout_id].get("BlockType") != "LAYOUT_TABLE":
                continue
            other = _box(self.index.by_id[layout_id])
            if other is None or area <= 0:
                continue
            width = min(box[2], other[2]) - max(box[0], other[0])
            height = min(box[3], other[3]) - max(box[1], other[1])
            share = max(width, 0.0) * max(height, 0.0) / area
            if share >= best_share:
                best, best_share = layout_id, share
        return best

    def _table_parts(self, table: _Table, covered: set[str]) -> str:
        """The table, with its TABLE_TITLE before and TABLE_FOOTERs after unless layout text already has them."""
        parts = []
        for title_id in _children(table.block, "TABLE_TITLE"):
            text = self._loose_text(title_id, covered)
            if text:
                parts.append(_escape_start(text))
        parts.append(table.rendered)
        for footer_id in _children(table.block, "TABLE_FOOTER"):
            text = self._loose_text(footer_id, covered)
            if text:
                parts.append(_escape_start(text))
        return "\n\n".join(parts)

    def _loose_text(self, block_id: str, covered: set[str]) -> str:
        word_ids = self.index.words(block_id)
        if not word_ids or not covered.isdisjoint(word_ids):
            return ""
        return " ".join(" ".join(str(self.index.by_id[w].get("Text", "")) for w in word_ids).split())

    def _text(self, line_ids: list[str], joiner: str = " ") -> str:
        texts = [self.index.line_text(i, self.table_words) for i in line_ids if self.index.get(i, "LINE")]
        return joiner.join(t for t in texts if t)

    def _render_layout(self, layout_id: str) -> str:
        block = self.index.by_id[layout_id]
        kind = block.get("BlockType")
        if kind in _DROPPED:
            return ""
        if kind == "LAYOUT_LIST":
            return self._render_list(block)
        lines = self._lines_of(layout_id)
        if kind in ("LAYOUT_TITLE", "LAYOUT_SECTION_HEADER"):
            text = self._text(lines)
            return f"{'#' if kind == 'LAYOUT_TITLE' else '##'} {text}" if text else ""
        if kind in ("LAYOUT_KEY_VALUE", "LAYOUT_TABLE"):
            # key-value pairs, and text in a table's area that is in none of its cells (e.g. a caption), stay one
            # per line: joining "Name: Ann" and "Date: 1 May" into one sentence would blur the pairs.
            texts = [self.index.line_text(i, self.table_words) for i in lines]
            return "\n".join(_escape_start(t) for t in texts if t)
        return _escape_start(self._text(lines))

    def _render_list(self, block: Block) -> str:
        items: list[str] = []
        for child_id in _children(block):
            child = self.index.by_id.get(child_id)
            if child is None:
                continue
            if child.get("BlockType") == "LINE":
                text = self._text([child_id])
            else:
                text = self._text([i for i in _children(child) if self.index.get(i, "LINE")])
            text = _BULLET.sub("", text, count=1).strip()
            if text:
                items.append(text if _NUMBERED.match(text) else f"- {_escape_start(text)}")
        return "\n".join(items)

    # -- pages without layout ----------------------------------------------------------------------------------

    def _render_lines(self) -> list[str]:
        """LINEs in order, a new paragraph where the vertical gap exceeds the line height; tables by position."""
        index = self.index
        line_ids = [i for i in index.page_children(self.page, "LINE", index.lines.get(self.page, [])) if index.get(i)]
        tables = sorted(self.tables, key=lambda t: _top(t.block))
        parts: list[str] = []
        paragraph: list[str] = []
        previous: tuple[float, float, float, float] | None = None

        def flush() -> None:
            if paragraph:
                parts.append(_escape_start(" ".join(paragraph)))
                paragraph.clear()

        for line_id in line_ids:
            box = _box(index.by_id[line_id])
            while tables and box is not None and _top(tables[0].block) <= box[1]:
                flush()
                parts.append(self._table_parts(tables.pop(0), set()))
                previous = None
            text = index.line_text(line_id, self.table_words)
            if not text:
                continue
            if previous is not None and box is not None:
                height = max(previous[3] - previous[1], 1e-6)
                if box[1] - previous[3] > _PARAGRAPH_GAP * height:
                    flush()
            paragraph.append(text)
            previous = box
        flush()
        parts.extend(self._table_parts(t, set()) for t in tables)
        return [p for p in parts if p]


def _render_table(index: _Index, table: Block) -> str:
    """A GFM pipe table: merged cells' text repeated into every cell they cover, one header row."""
    cells: dict[tuple[int, int], str] = {}
    header_rows: set[int] = set()
    rows = columns = 0

    def place(block: Block, text: str) -> None:
        nonlocal rows, columns
        try:
            row, column = int(block["RowIndex"]), int(block["ColumnIndex"])
            row_span, column_span = int(block.get("RowSpan") or 1), int(block.get("ColumnSpan") or 1)
        except (KeyError, TypeError, ValueError):
            return
        if not (1 <= row <= _MAX_TABLE_SIDE and 1 <= column <= _MAX_TABLE_SIDE):
            return
        row_span = min(row_span, _MAX_TABLE_SIDE + 1 - row)
        column_span = min(column_span, _MAX_TABLE_SIDE + 1 - column)
        header = "COLUMN_HEADER" in (block.get("EntityTypes") or ())
        for r in range(row, row + max(row_span, 1)):
            for c in range(column, column + max(column_span, 1)):
                cells[(r, c)] = text
                if header:
                    header_rows.add(r)
        rows, columns = max(rows, row + max(row_span, 1) - 1), max(columns, column + max(column_span, 1) - 1)

    cell_texts: dict[str, str] = {}
    for cell_id in _children(table):
        cell = index.get(cell_id, "CELL")
        if cell is None:
            continue
        cell_texts[cell_id] = text = _cell_text(index, cell)
        place(cell, text)
    for merged_id in _children(table, "MERGED_CELL"):
        merged = index.get(merged_id, "MERGED_CELL")
        if merged is None:
            continue
        texts = [cell_texts.get(i) or "" for i in _children(merged)]
        place(merged, " ".join(t for t in texts if t))
    if rows == 0 or columns == 0:
        return ""
    grid = [[cells.get((r, c), "") for c in range(1, columns + 1)] for r in range(1, rows + 1)]
    header_count = 0
    while header_count < rows and header_count + 1 in header_rows:
        header_count += 1
    if header_count > 1:
        header = []
        for c in range(columns):
            distinct: list[str] = []
            for r in range(header_count):
                if grid[r][c] and grid[r][c] not in distinct:
                    distinct.append(grid[r][c])
            header.append(" ".join(distinct))
        grid = [header, *grid[header_count:]]
    lines = ["| " + " | ".join(row) + " |" for row in grid]
    lines.insert(1, "|" + "|".join(" --- " for _ in range(columns)) + "|")
    return "\n".join(lines)


def _cell_text(index: _Index, cell: Block) -> str:
    parts = []
    for child_id in _children(cell):
        child = index.by_id.get(child_id)
        if child is None:
            continue
        if child.get("BlockType") == "WORD":
            parts.append(str(child.get("Text", "")))
        elif child.get("BlockType") == "SELECTION_ELEMENT":
            parts.append("[x]" if child.get("SelectionStatus") == "SELECTED" else "[ ]")
    return _cell_escape(" ".join(parts))


# -- the asynchronous API -------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_JOB_TAG = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")

# StartDocumentAnalysis errors that are about the document, worded for its owner. Others (throttling, limits,
# internal errors, access) propagate as ClientError: they are the platform's, and retrying can help.
_DOCUMENT_ERRORS = {
    "UnsupportedDocumentException": "The document's format is not supported for text recognition "
    "(PDF, TIFF, PNG and JPEG are).",
    "BadDocumentException": "The document could not be read; it may be damaged or password-protected.",
    "DocumentTooLargeException": "The document is too large for text recognition "
    "(PDF and TIFF up to 500 MB and 3,000 pages, images up to 10 MB).",
    "InvalidS3ObjectException": "The uploaded document could not be read from storage.",
}


class TextractAnalysis:
    """StartDocumentAnalysis / GetDocumentAnalysis over a boto3 Textract client (passed in, so tests stub it)."""

    def __init__(self, client: Any, *, page_size: int = MAX_RESULTS) -> None:
        if not 1 <= page_size <= MAX_RESULTS:
            raise ValueError(f"page_size must be between 1 and {MAX_RESULTS}")
        self._client = client
        self._page_size = page_size

    def start(
        self,
        bucket: str,
        key: str,
        *,
        sns_topic_arn: str,
        role_arn: str,
        job_tag: str,
        client_request_token: str,
        version: str | None = None,
    ) -> str:
        """Start the analysis; the same `client_request_token` returns the same job instead of a second one, so a
        retried step does not pay twice. `job_tag` comes back in the completion notification."""
        if not _TOKEN.match(client_request_token):
            raise ValueError("client_request_token must be 1-64 characters of a-z, A-Z, 0-9, '-' and '_'")
        if not _JOB_TAG.match(job_tag):
            raise ValueError("job_tag must be 1-64 characters of a-z, A-Z, 0-9, '_', '.', ':' and '-'")
        s3_object = {"Bucket": bucket, "Name": key}
        if version:
            s3_object["Version"] = version
        try:
            response = self._client.start_document_analysis(
                DocumentLocation={"S3Object": s3_object},
                FeatureTypes=list(FEATURE_TYPES),
                ClientRequestToken=client_request_token,
                JobTag=job_tag,
                NotificationChannel={"SNSTopicArn": sns_topic_arn, "RoleArn": role_arn},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _DOCUMENT_ERRORS:
                raise TextractError(_DOCUMENT_ERRORS[code], code=code) from exc
            raise
        return str(response["JobId"])

    def blocks(self, job_id: str, *, on_warning: Callable[[TextractWarning], None] | None = None) -> Iterator[Block]:
        """Every block of a finished job, page after page of results (NextToken) until exhausted.

        FAILED raises TextractError with Textract's StatusMessage; IN_PROGRESS raises too (this is read after the
        completion notification, so it means a wrong job id or an early call). PARTIAL_SUCCESS yields what Textract
        could read: each distinct warning (error code, pages) is logged once and passed to `on_warning`.
        """
        seen: set[TextractWarning] = set()
        next_token: str | None = None
        while True:
            params: dict[str, Any] = {"JobId": job_id, "MaxResults": self._page_size}
            if next_token:
                params["NextToken"] = next_token
            try:
                response = self._client.get_document_analysis(**params)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "InvalidJobIdException":
                    raise TextractError(
                        f"Text recognition job {job_id} is unknown or its results have expired.", code=code
                    ) from exc
                raise
            status = response.get("JobStatus")
            if status == "FAILED":
                reason = response.get("StatusMessage") or "no reason given"
                raise TextractError(f"Text recognition failed: {reason}", code="FAILED")
            if status == "IN_PROGRESS":
                raise TextractError(f"Text recognition job {job_id} has not finished yet.", code="IN_PROGRESS")
            for raw in response.get("Warnings") or ():
                warning = TextractWarning(str(raw.get("ErrorCode", "")), tuple(int(p) for p in raw.get("Pages") or ()))
                if warning not in seen:
                    seen.add(warning)
                    log.warning(
                        "textract job %s: %s on pages %s", job_id, warning.error_code, list(warning.pages) or "?"
                    )
                    if on_warning is not None:
                        on_warning(warning)
            yield from response.get("Blocks") or ()
            next_token = response.get("NextToken")
            if not next_token:
                return


def parse_completion(message_body: str) -> TextractCompletion:
    """The completion notification from an SQS message body: an SNS envelope whose Message is Textract's JSON, or
    (raw message delivery) Textract's JSON itself. ValueError for anything else."""
    try:
        data = json.loads(message_body)
    except (TypeError, ValueError) as exc:
        raise ValueError("not a Textract completion: the body is not JSON") from exc
    if isinstance(data, dict) and "Message" in data and "JobId" not in data:
        if data.get("Type") not in (None, "Notification"):
            raise ValueError(f"not a Textract completion: an SNS {data.get('Type')} message")
        try:
            data = json.loads(data["Message"])
        except (TypeError, ValueError) as exc:
            raise ValueError("not a Textract completion: the SNS Message is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("not a Textract completion: not a JSON object")
    job_id, status, api = data.get("JobId"), data.get("Status"), data.get("API")
    if not (isinstance(job_id, str) and job_id and isinstance(status, str) and status and isinstance(api, str)):
        raise ValueError("not a Textract completion: JobId, Status or API missing")
    location = data.get("DocumentLocation")
    if not isinstance(location, dict):
        location = {}
    timestamp = data.get("Timestamp")
    job_tag = data.get("JobTag")
    return TextractCompletion(
        job_id=job_id,
        status=status,
        api=api,
        job_tag=job_tag if isinstance(job_tag, str) and job_tag else None,
        timestamp=int(timestamp) if isinstance(timestamp, int | float) else None,
        bucket=location.get("S3Bucket") or None,
        key=location.get("S3ObjectName") or None,
    )
