"""HTML (and DOCX, through mammoth's HTML) to markdown: BeautifulSoup + lxml parse, markdownify converts.

Before converting, the tree is cleaned: elements that never hold readable content (scripts, styles, the head,
SVG...) go, links and images keep only their text, and tables are made rectangular -- a merged cell's text is
repeated in every cell it covers, so each row of a split table still reads on its own -- with ``|`` in cells
escaped, so every table comes out as a GFM pipe table whose first row is the header.

markdownify's escaping of ``*``, ``_`` and other markdown characters is off: the text is embedded and searched,
and ``snake\\_case`` would hurt both; only our page-marker syntax is escaped.
"""

from __future__ import annotations

import copy
from typing import Any

from genai_core.knowledge.extraction.models import Extracted, ExtractionError, single_page

DROPPED = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object", "embed", "canvas", "math")
MAX_SPAN = 100  # a colspan/rowspan above this is hostile or broken: treat as 1


def decode_html(data: bytes) -> str:
    """Bytes to text honouring a BOM, then a ``<meta charset>``, then a guess (bs4's UnicodeDammit)."""
    from bs4 import UnicodeDammit

    if not data.strip():
        raise ExtractionError("the HTML file is empty")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError("the HTML file contains binary data (NUL bytes), not text")
    text = UnicodeDammit(data, is_html=True).unicode_markup
    if text is None:
        raise ExtractionError("the HTML file's character encoding cannot be recognised")
    return text


def _span(cell: Any, name: str) -> int:
    try:
        return max(1, min(int(str(cell.get(name, "1")).strip() or 1), MAX_SPAN))
    except ValueError:
        return 1


def _square_tables(soup: Any) -> None:
    """Expand colspan/rowspan into copies of the cell, so every row has the same cells (innermost tables first,
    so a nested table is already flat when its parent copies the cell holding it)."""
    for table in reversed(soup.find_all("table")):
        rows = [row for row in table.find_all("tr") if row.find_parent("table") is table]
        pending: dict[int, tuple[Any, int]] = {}  # column -> (cell to copy, rows left)
        for row in rows:
            cells = list(row.find_all(("td", "th"), recursive=False))
            column = 0
            out: list[Any] = []
            for cell in [*cells, None]:
                while column in pending:
                    source, left = pending[column]
                    out.append(source)
                    if left > 1:
                        pending[column] = (source, left - 1)
                    else:
                        del pending[column]
                    column += 1
                if cell is None:
                    break
                colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
                for name in ("colspan", "rowspan"):
                    if name in cell.attrs:
                        del cell[name]
                for offset in range(colspan):
                    out.append(cell)
                    if rowspan > 1:
                        pending[column + offset] = (cell, rowspan - 1)
                column += colspan
            if len(out) == len(cells) and all(a is b for a, b in zip(out, cells, strict=True)):
                continue  # nothing merged in this row
            originals = {id(cell) for cell in cells}
            for cell in cells:
                cell.extract()
            for cell in out:
                # a cell's first place takes the cell itself, every other place a copy of it
                row.append(cell if id(cell) in originals and cell.parent is None else copy.copy(cell))
        for cell in table.find_all(("td", "th")):
            for string in cell.find_all(string=True):
                if "|" in string:
                    string.replace_with(string.replace("|", "\\|"))


def _converter() -> Any:
    from markdownify import ATX, MarkdownConverter

    class Converter(MarkdownConverter):  # type: ignore[misc]
        def convert_a(self, el: Any, text: str, parent_tags: set[str]) -> str:
            return text  # the link's text; URLs are noise to embed

        def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
            return str(el.get("alt") or "").strip()  # the alt text, when there is one, says what the image shows

    return Converter(
        heading_style=ATX,
        bullets="-",
        table_infer_header=True,
        escape_asterisks=False,
        escape_underscores=False,
        escape_misc=False,
    )


def html_to_markdown(html: str) -> str:
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(html, "lxml")
    for element in soup.find_all(DROPPED):
        element.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    _square_tables(soup)
    return str(_converter().convert_soup(soup))


def extract_html(data: bytes) -> Extracted:
    return single_page(html_to_markdown(decode_html(data)), "html")
