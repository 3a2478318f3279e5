"""What every extractor shares: the result, the error, the supported types and the page-marker syntax.

Kept apart from the package's ``__init__`` so the format modules (and Textract's) import it without importing each
other's heavy libraries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED_CONTENT_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/png": "image",
    "image/jpeg": "image",
    "image/tiff": "image",
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/html": "html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


class ExtractionError(Exception):
    """The document cannot be read. The message is shown to the user as the reason: plain words, no traceback."""


@dataclass(frozen=True)
class Extracted:
    """One document as markdown; every page starts with a ``<!-- page N -->`` line (see `knowledge.chunking`)."""

    markdown: str
    pages: int
    method: str  # "pypdf" | "html" | "docx" | "text" | "markdown" | "textract"


def normalise_content_type(content_type: str) -> str:
    """``Text/HTML; charset=UTF-8`` -> ``text/html``."""
    return content_type.split(";", 1)[0].strip().lower()


def kind_of(content_type: str) -> str:
    kind = SUPPORTED_CONTENT_TYPES.get(normalise_content_type(content_type))
    if kind is None:
        supported = ", ".join(sorted(SUPPORTED_CONTENT_TYPES))
        raise ExtractionError(f"the content type {content_type!r} is not supported (supported: {supported})")
    return kind


def page_marker(number: int) -> str:
    return f"<!-- page {number} -->\n"


# the chunker's marker syntax (a line holding only the comment), case-insensitive here to be safe
_FAKE_MARKER = re.compile(r"<!--([ \t]*page[ \t]+\d+[ \t]*)-->", re.IGNORECASE)


def escape_markers(text: str) -> str:
    """Text of a document that spells our marker (``<!-- page 7 -->``) must not fake a page break: the ``<`` gets a
    markdown backslash escape, which renders the same and no longer matches the marker syntax."""
    return _FAKE_MARKER.sub(r"\\<!--\1-->", text) if "<!--" in text else text


def tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no blank edges."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def single_page(body: str, method: str) -> Extracted:
    """A format without pages (HTML, text, DOCX): one marker, then the body; no text at all is an error."""
    body = tidy(escape_markers(body))
    if not any(ch.isalnum() for ch in body):
        raise ExtractionError("the document contains no text")
    return Extracted(markdown=page_marker(1) + body + "\n", pages=1, method=method)
