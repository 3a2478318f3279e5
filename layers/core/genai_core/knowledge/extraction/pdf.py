"""PDF with a text layer, through pypdf: per-page markdown with headings, paragraphs and page markers.

pypdf's plain extraction (not ``extraction_mode="layout"``) with a text visitor. Layout mode pads lines with
spaces and blank lines to mimic the page and says nothing about fonts; plain mode gives lines in reading order,
and its visitor reports each piece's font size and position. Bare plain mode is ~25% faster than layout mode on
bench/extraction.py; the visitor and the markdown built from it cost about that back (ours runs at layout mode's
speed, ~220 pages/s there), and buy:

- Headings: lines set clearly larger than the body text (the font size holding the most characters), short, in a
  size used for little of the text. Each such size is a level, largest first (``#``, ``##``...).
- Paragraphs: a vertical gap clearly larger than the page's usual line spacing starts a new paragraph (a blank
  line). Lines inside a paragraph stay lines; a word hyphenated across a line break is joined.
- Running headers and footers: among the two top-most and two bottom-most lines of each page, a line that recurs
  (digits ignored, so "Page 3 of 9" matches "Page 4 of 9") on at least half the pages of a document of three
  pages or more is dropped; so is a bare page number ("7", "Page 7", "7 / 9", "- 7 -") at an edge when such
  numbers are on half the pages, and a top-most or bottom-most line that starts or ends with a number running
  with the page number (the same offset on half the pages: "Chapter 2: Install 14" on the 20th page of the
  file). A shorter document keeps every line: two pages cannot show what repeats.

Hostile files: every pypdf error (of any class) becomes an `ExtractionError`; stream decompression and parsing
run under explicit limits (pypdf's `Configuration`), and the jbig2dec binary is never run on uploaded data.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from genai_core.knowledge.extraction.models import Extracted, ExtractionError, escape_markers, page_marker

MIN_PAGE_CHARS = 32  # letters and digits for a page to count as having a text layer
TEXT_LAYER_SAMPLE = 12  # pages looked at to decide whether a PDF has a text layer
MAX_STREAM_BYTES = 64_000_000  # what one stream may inflate to
HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body's
HEADING_MAX_CHARS = 150
HEADING_MAX_SHARE = 0.3  # a size holding more of the text than this is body text, however large
PARAGRAPH_GAP = 1.35  # a gap this many times the usual line spacing starts a paragraph
EDGE_LINES = 2  # lines at each edge of a page that may be a running header or footer
MIN_PAGES_FOR_EDGES = 3

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_PAGE_NUMBER = re.compile(r"(?:page\s*)?#(?:\s*(?:of|/)\s*#)?|[-\u2013\u2014]\s*#\s*[-\u2013\u2014]", re.IGNORECASE)
_EDGE_NUMBER = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_BULLET = re.compile(r"^[\u2022\u25cf\u25aa\u25e6\u2023\u2043\u2219\uf0b7]\s*")
_HYPHENATED = re.compile(r"[^\W\d_]-$")


@contextmanager
def _limits() -> Iterator[None]:
    import pypdf

    with pypdf.apply_configuration(
        zlib_maximum_output_length=MAX_STREAM_BYTES,
        lzw_maximum_output_length=MAX_STREAM_BYTES,
        run_length_maximum_output_length=MAX_STREAM_BYTES,
        brotli_maximum_output_length=MAX_STREAM_BYTES,
        jbig2_maximum_output_length=MAX_STREAM_BYTES,
        maximum_declared_stream_length=MAX_STREAM_BYTES,
        jbig2dec_binary=None,
    ):
        yield


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _unreadable(exc: BaseException, page: int | None = None) -> ExtractionError:
    from pypdf.errors import LimitReachedError

    where = f"page {page} cannot be read ({_reason(exc)})" if page else _reason(exc)
    if isinstance(exc, LimitReachedError):
        return ExtractionError(f"the PDF is too large or too complex to read safely: {where}")
    return ExtractionError(f"the PDF is damaged: {where}")


def _open(data: bytes) -> Any:
    """A reader of the decrypted document with at least one page, or a readable `ExtractionError`."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    if not data.strip():
        raise ExtractionError("the PDF is empty")
    if b"%PDF-" not in data[:1024]:
        raise ExtractionError("the file is not a PDF (it has no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as exc:
        raise _unreadable(exc) from None
    try:
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ExtractionError("the PDF is password-protected")
        count = len(reader.pages)
    except ExtractionError:
        raise
    except DependencyError:
        raise ExtractionError("the PDF is encrypted with a method this service cannot decrypt") from None
    except Exception as exc:
        raise _unreadable(exc) from None
    if count == 0:
        raise ExtractionError("the PDF has no pages")
    return reader


def _usable_chars(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def has_text_layer(data: bytes) -> bool:
    """Whether most pages carry text: of up to `TEXT_LAYER_SAMPLE` pages spread over the document, more than half
    have at least `MIN_PAGE_CHARS` letters or digits. A scan has none; a text PDF's odd blank or figure page does
    not tip it. Raises `ExtractionError` for a PDF that cannot be read at all."""
    with _limits():
        reader = _open(data)
        total = len(reader.pages)
        picks = sorted({round(i * (total - 1) / max(TEXT_LAYER_SAMPLE - 1, 1)) for i in range(TEXT_LAYER_SAMPLE)})
        usable = 0
        for index in picks:
            try:
                text = reader.pages[index].extract_text()
            except Exception:  # an unreadable page has no usable text; Textract may still read its image
                text = ""
            usable += _usable_chars(text) >= MIN_PAGE_CHARS
        return usable * 2 > len(picks)


@dataclass
class _Line:
    text: str
    y: float | None  # baseline, points from the bottom; None when pypdf gave no position
    size: float  # font size in points, the one holding most of the line's characters


@dataclass
class _Collector:
    """Receives pypdf's text pieces (the output in order, newlines included) and cuts them into lines."""

    lines: list[_Line] = field(default_factory=list)
    _parts: list[str] = field(default_factory=list)
    _sizes: Counter[float] = field(default_factory=Counter)
    _y: float | None = None

    def visit(self, text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if not text:
            return
        for index, segment in enumerate(text.split("\n")):
            if index:
                self.finish()
            if not segment:
                continue
            self._parts.append(segment)
            if segment.strip():
                # the piece's matrix: text matrix times the current transformation matrix
                _, _, c, d, e, f = (float(v) for v in tm)
                ca, cb, cc, cd, _, cf = (float(v) for v in cm)
                scale = math.hypot(c * ca + d * cc, c * cb + d * cd)
                self._sizes[round(float(size or 0) * scale * 2) / 2] += len(segment)
                if self._y is None and (e or f):
                    self._y = e * cb + f * cd + cf

    def finish(self) -> None:
        text = "".join(self._parts).strip()
        if text:
            size = self._sizes.most_common(1)[0][0] if self._sizes else 0.0
            self.lines.append(_Line(_SPACES.sub(" ", text), self._y, size))
        self._parts, self._sizes, self._y = [], Counter(), None


def _page_lines(page: Any) -> list[_Line]:
    collector = _Collector()
    page.extract_text(visitor_text=collector.visit)
    collector.finish()
    return collector.lines


def _edge_key(text: str) -> str:
    return _DIGITS.sub("#", _SPACES.sub(" ", text.strip().lower()))


def _edges(lines: list[_Line]) -> list[tuple[int, str, bool]]:
    """(index, "top"/"bottom", outermost) of the lines that could be a running header or footer: by position when
    every line has one (a footer can be drawn first), else by order."""
    n = len(lines)
    order = list(range(n))
    if all(line.y is not None for line in lines):
        order.sort(key=lambda i: -(lines[i].y or 0.0))
    k = min(EDGE_LINES, (n + 1) // 2)
    # a page's only line is never "outermost": the offset rule must not take a page's whole text
    picks = [(i, "top", rank == 0 and n > 1) for rank, i in enumerate(order[:k])]
    picks += [(i, "bottom", rank == 0) for rank, i in enumerate(reversed(order[n - k :])) if i not in order[:k]]
    return picks


def _edge_keys(text: str, edge: str, outermost: bool, page: int) -> set[tuple[str, str]]:
    """What makes an edge line recur: its text with digits ignored, "a page number", and for the outermost line
    a number at its start or end that runs with the page ("Chapter 2: Install 14" on page 20 -> offset -6)."""
    key = _edge_key(text)
    keys = {("number", "") if _PAGE_NUMBER.fullmatch(key) else (edge, key)}
    if outermost and (number := _EDGE_NUMBER.search(text)):
        keys.add(("offset", str(int(number.group(1) or number.group(2)) - page)))
    return keys


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    with_text = sum(1 for lines in pages if lines)
    if with_text < MIN_PAGES_FOR_EDGES:
        return pages
    counts: Counter[tuple[str, str]] = Counter()
    keyed: list[list[tuple[int, set[tuple[str, str]]]]] = []
    for page, lines in enumerate(pages, 1):
        keys = [
            (index, _edge_keys(lines[index].text, edge, outermost, page)) for index, edge, outermost in _edges(lines)
        ]
        keyed.append(keys)
        counts.update(set().union(*(line_keys for _, line_keys in keys)))
    threshold = max(MIN_PAGES_FOR_EDGES, math.ceil(with_text / 2))
    repeated = {key for key, count in counts.items() if count >= threshold}
    if not repeated:
        return pages
    out = []
    for lines, keys in zip(pages, keyed, strict=True):
        drop = {index for index, line_keys in keys if line_keys & repeated}
        out.append([line for index, line in enumerate(lines) if index not in drop])
    return out


def _heading_levels(pages: list[list[_Line]]) -> tuple[float, dict[float, int]]:
    chars: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            chars[line.size] += len(line.text)
    if not chars:
        return 0.0, {}
    body = chars.most_common(1)[0][0]
    total = sum(chars.values())
    sizes = sorted(
        (
            size
            for size in {line.size for lines in pages for line in lines}
            if size >= body * HEADING_RATIO and chars[size] <= HEADING_MAX_SHARE * total
        ),
        reverse=True,
    )
    return body, {size: min(level, 6) for level, size in enumerate(sizes, 1)}


def _is_heading(line: _Line, levels: dict[float, int]) -> bool:
    return line.size in levels and len(line.text) <= HEADING_MAX_CHARS and any(ch.isalpha() for ch in line.text)


def _body_line(text: str) -> str:
    text = _BULLET.sub("- ", text)
    if text.startswith("#"):
        text = "\\" + text  # a "#" the page starts a line with is text, not a heading
    return text


def _page_markdown(lines: list[_Line], levels: dict[float, int]) -> str:
    gaps = sorted(
        prev.y - line.y
        for prev, line in itertools.pairwise(lines)
        if prev.y is not None and line.y is not None and prev.y > line.y and prev.size == line.size
    )
    spacing = gaps[len(gaps) // 2] if gaps else None
    blocks: list[tuple[int, list[str]]] = []  # (heading level, or 0 for a paragraph; its lines)
    previous: _Line | None = None
    for line in lines:
        gap = previous.y - line.y if previous is not None and previous.y is not None and line.y is not None else None
        if _is_heading(line, levels):
            level = levels[line.size]
            wrapped = previous is not None and previous.size == line.size and gap is not None
            if blocks and blocks[-1][0] == level and wrapped and 0 < (gap or 0) <= line.size * 1.6:
                blocks[-1][1].append(line.text)  # a heading wrapped over two lines
            else:
                blocks.append((level, [line.text]))
        elif not blocks or blocks[-1][0] or spacing is None or gap is None or not 0 < gap <= spacing * PARAGRAPH_GAP:
            blocks.append((0, [_body_line(line.text)]))
        elif _HYPHENATED.search(blocks[-1][1][-1]) and line.text[:1].islower():
            blocks[-1][1][-1] = blocks[-1][1][-1][:-1] + line.text
        else:
            blocks[-1][1].append(_body_line(line.text))
        previous = line
    return "\n\n".join("#" * level + " " + " ".join(texts) if level else "\n".join(texts) for level, texts in blocks)


def extract_pdf(data: bytes) -> Extracted:
    with _limits():
        reader = _open(data)
        pages: list[list[_Line]] = []
        for number, page in enumerate(reader.pages, 1):
            try:
                pages.append(_page_lines(page))
            except Exception as exc:
                raise _unreadable(exc, number) from None
    if not any(_usable_chars(line.text) for lines in pages for line in lines):
        raise ExtractionError("the PDF has no text layer (it looks like a scan): it needs Textract to be read")
    pages = _drop_running_lines(pages)
    _, levels = _heading_levels(pages)
    parts = []
    for number, lines in enumerate(pages, 1):
        body = escape_markers(_page_markdown(lines, levels))
        parts.append(page_marker(number) + (body + "\n\n" if body else "\n"))
    return Extracted(markdown="".join(parts).rstrip("\n") + "\n", pages=len(pages), method="pypdf")
