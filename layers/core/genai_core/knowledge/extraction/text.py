"""Plain text and markdown: decoded and passed through as they are.

Plain text is not rewritten into markdown: escaping every ``#``, ``-`` or ``|`` a text file happens to start a line
with would mangle the text that gets embedded, and most plain text that looks like markdown structure is meant as
such (a README, an ASCII table). Only our own page-marker syntax is escaped.
"""

from __future__ import annotations

import codecs
import re

from genai_core.knowledge.extraction.models import Extracted, ExtractionError, single_page

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f]")  # C0 controls but tab, newlines and form feed
MAX_CONTROL_SHARE = 0.01  # a text file has (almost) no control characters; a binary file has many


def decode(data: bytes, what: str = "text file") -> str:
    """UTF-8 (or the encoding its BOM names); otherwise a guess by bs4's UnicodeDammit (charset-normalizer when
    installed, else windows-1252, which decodes any byte). Binary data is refused."""
    if not data.strip():
        raise ExtractionError(f"the {what} is empty")
    text: str | None = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ExtractionError(f"the {what} is not valid {encoding.upper()}: {exc.reason}") from None
            break
    if text is None:
        if b"\x00" in data:
            raise ExtractionError(f"the {what} contains binary data (NUL bytes), not text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from bs4 import UnicodeDammit

            # latin-1 last: it decodes any byte, where windows-1252 has five holes
            text = UnicodeDammit(data).unicode_markup or data.decode("latin-1")
    if "\x00" in text or len(_CONTROLS.findall(text)) > MAX_CONTROL_SHARE * len(text):
        raise ExtractionError(f"the {what} contains binary data, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def extract_text(data: bytes, *, markdown: bool) -> Extracted:
    what = "markdown file" if markdown else "text file"
    return single_page(decode(data, what), "markdown" if markdown else "text")
