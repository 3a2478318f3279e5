"""DOCX: mammoth turns the document into semantic HTML (Heading N -> hN, lists, tables), then the HTML path makes
markdown. Title becomes a level-1 heading like Heading 1; merged table cells are repeated (see `html`).

The archive is checked before mammoth reads it: a ZIP at all, with ``word/document.xml``, and declared sizes that
bound what gets inflated (a ZIP bomb declares its real size, and Python's zipfile never inflates past it).
"""

from __future__ import annotations

import io
import zipfile

from genai_core.knowledge.extraction.html import html_to_markdown
from genai_core.knowledge.extraction.models import Extracted, ExtractionError, single_page

MAX_UNCOMPRESSED = 200_000_000  # bytes of XML across the archive's parts that mammoth may read
STYLE_MAP = """
p[style-name='Title'] => h1:fresh
p[style-name='Subtitle'] => p:fresh
"""


def _check_archive(data: bytes) -> None:
    if not data:
        raise ExtractionError("the DOCX file is empty")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ExtractionError("the DOCX file is damaged or not a DOCX file (it is not a ZIP archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError(f"the DOCX file is damaged: {exc}") from None
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        raise ExtractionError("the DOCX file is damaged or not a Word document (it has no word/document.xml)")
    if sum(info.file_size for info in infos if info.filename.endswith((".xml", ".rels"))) > MAX_UNCOMPRESSED:
        raise ExtractionError("the DOCX file is too large to read once uncompressed")


def extract_docx(data: bytes) -> Extracted:
    import mammoth

    _check_archive(data)
    try:
        result = mammoth.convert_to_html(io.BytesIO(data), style_map=STYLE_MAP)
    except Exception as exc:  # mammoth and the XML parser raise many classes for a damaged file
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ExtractionError(f"the DOCX file is damaged: {reason}") from None
    return single_page(html_to_markdown(result.value), "docx")
