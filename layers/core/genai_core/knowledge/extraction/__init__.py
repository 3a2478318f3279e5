"""Uploaded documents (bytes and a content type) to one markdown text with page markers, for `knowledge.chunking`.

Two paths: Textract (images, scans, and PDFs when asked; `extraction.textract`) and local extraction for the rest
(`extract_local`). `needs_textract` picks between them. Format modules import their libraries lazily (pypdf,
BeautifulSoup/lxml/markdownify, mammoth), so a function that only handles some formats loads only those.
"""

from __future__ import annotations

from typing import Literal

from genai_core.knowledge.extraction.models import (
    SUPPORTED_CONTENT_TYPES,
    Extracted,
    ExtractionError,
    escape_markers,
    kind_of,
    normalise_content_type,
    page_marker,
)

__all__ = [
    "SUPPORTED_CONTENT_TYPES",
    "Extracted",
    "ExtractionError",
    "Mode",
    "escape_markers",
    "extract_local",
    "needs_textract",
    "normalise_content_type",
    "page_marker",
]

Mode = Literal["auto", "text", "textract"]

_IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
}


def needs_textract(content_type: str, data: bytes, mode: str) -> bool:
    """Whether the document goes to Textract rather than `extract_local`.

    Images always do (mode "text" on an image is an `ExtractionError`). Text formats never do: Textract cannot
    read them. A PDF does in mode "textract", never in mode "text", and in mode "auto" when it has no usable text
    layer (`pdf.has_text_layer`: most of up to 12 sampled pages have fewer than 32 letters or digits). Raises
    `ExtractionError` for an unsupported type, an unknown mode, or a file that is not what it is declared to be.
    """
    if mode not in ("auto", "text", "textract"):
        raise ExtractionError(f"unknown extraction mode {mode!r} (expected auto, text or textract)")
    kind = kind_of(content_type)
    if kind == "image":
        if mode == "text":
            raise ExtractionError("images have no text layer: they need Textract extraction, not text extraction")
        signatures = _IMAGE_SIGNATURES[normalise_content_type(content_type)]
        if not data.startswith(signatures):
            raise ExtractionError(f"the file is not a {content_type.split('/')[1].split(';')[0].upper()} image")
        return True
    if kind != "pdf" or mode == "text":
        return False
    if mode == "textract":
        return True
    from genai_core.knowledge.extraction.pdf import has_text_layer

    return not has_text_layer(data)


def extract_local(content_type: str, data: bytes) -> Extracted:
    """The document as markdown without Textract, for every kind but images; `ExtractionError` when unreadable."""
    kind = kind_of(content_type)
    if kind == "pdf":
        from genai_core.knowledge.extraction.pdf import extract_pdf

        return extract_pdf(data)
    if kind == "html":
        from genai_core.knowledge.extraction.html import extract_html

        return extract_html(data)
    if kind == "docx":
        from genai_core.knowledge.extraction.docx import extract_docx

        return extract_docx(data)
    if kind in ("text", "markdown"):
        from genai_core.knowledge.extraction.text import extract_text

        return extract_text(data, markdown=kind == "markdown")
    raise ExtractionError("images need Textract extraction: they have no text to read locally")
