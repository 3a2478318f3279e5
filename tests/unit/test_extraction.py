"""Document extraction: each format becomes markdown with page markers that the chunker reads back correctly."""

from __future__ import annotations

import codecs
import re

import pytest

from genai_core.knowledge.chunking import Chunk, ChunkingConfig, chunk_document
from genai_core.knowledge.extraction import (
    SUPPORTED_CONTENT_TYPES,
    Extracted,
    ExtractionError,
    extract_local,
    needs_textract,
)
from tests.fixtures.documents import (
    PdfPage,
    _assemble,
    encrypted_pdf,
    paragraph,
    prose_pages,
    sample_docx,
    sample_html,
    sample_pdf,
    scanned_pdf,
    text_pdf,
    zero_page_pdf,
    zip_without_document,
)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKER = re.compile(r"^<!-- page (\d+) -->$", re.MULTILINE)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def page_texts(extracted: Extracted) -> dict[int, str]:
    """Page number -> the text between its marker and the next one."""
    parts = MARKER.split(extracted.markdown)
    assert parts[0] == "", "the markdown starts with the first page's marker"
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


def layout_chunks(extracted: Extracted) -> list[Chunk]:
    return chunk_document("doc", extracted.markdown, ChunkingConfig(strategy="layout"))


def chunk_with(chunks: list[Chunk], text: str) -> Chunk:
    return next(c for c in chunks if text in c.text)


# ------------------------------------------------------------------------------------------------------- PDF


def test_pdf_pages_land_after_their_markers_with_headings_and_without_running_lines() -> None:
    # GIVEN a three-page PDF with a heading per page, a running header and a "Page N of M" footer
    data = sample_pdf()

    # WHEN it is extracted locally
    extracted = extract_local(PDF, data)

    # THEN each page's sentence follows its own marker, headings are markdown headings by font size,
    # and the header and footer are gone
    assert (extracted.pages, extracted.method) == (3, "pypdf")
    pages = page_texts(extracted)
    assert list(pages) == [1, 2, 3]
    assert pages[1].strip() == (
        "# Acme Gateway Guide\n\nAcme Gateway routes requests between your services on every platform."
    )
    assert pages[2].strip().startswith("## Install\n\nInstallation takes about ten minutes")
    assert pages[3].strip().startswith("## Configure\n\nThe configuration file lives")
    assert "Operator Manual" not in extracted.markdown
    assert "Page 2 of 3" not in extracted.markdown


def test_pdf_two_pages_keep_lines_that_merely_repeat() -> None:
    # GIVEN a two-page PDF with a header: two pages cannot show with confidence what is a running header
    data = text_pdf([["First page body text."], ["Second page body text."]], header="Quarterly report")

    # WHEN it is extracted
    pages = page_texts(extract_local(PDF, data))

    # THEN nothing is dropped
    assert "Quarterly report" in pages[1] and "Quarterly report" in pages[2]


def test_pdf_bare_page_numbers_and_alternating_positions_are_dropped() -> None:
    # GIVEN six pages whose footer is a bare page number and whose header repeats with the page number in it
    topics = ["routing", "limits", "billing", "tokens", "caching", "logging"]
    pages = [[f"This page is about {topic}, item {n} of the list."] for n, topic in enumerate(topics, 1)]
    data = text_pdf(pages, header="Annual report 2024 - chapter {page}", footer="{page}")

    # WHEN it is extracted
    texts = page_texts(extract_local(PDF, data))

    # THEN only the body remains on each page (the body's own numbers are kept)
    assert [t.strip() for t in texts.values()] == [
        f"This page is about {t}, item {n} of the list." for n, t in enumerate(topics, 1)
    ]


def test_pdf_headers_carrying_the_page_number_and_changing_chapter_are_dropped() -> None:
    # GIVEN a book's running header "Chapter C: <title> P" whose title changes every two pages, numbered from
    # the 3rd page of the file (front matter), and a body that starts with a number
    titles = ["Install", "Install", "Configure", "Configure", "Operate", "Operate"]
    body = [
        [f"{n} steps are needed to {t.lower()} the gateway.", f"Restart after the {t.lower()} step {n * 7}"]
        for n, t in enumerate(titles, 1)
    ]
    data = text_pdf(body, header=lambda page, _: f"Chapter {(page + 1) // 2}: {titles[page - 1]} {page + 2}")

    # WHEN it is extracted
    texts = page_texts(extract_local(PDF, data))

    # THEN the headers are gone and the bodies stay whole
    assert [t.strip() for t in texts.values()] == [
        f"{n} steps are needed to {t.lower()} the gateway.\nRestart after the {t.lower()} step {n * 7}"
        for n, t in enumerate(titles, 1)
    ]


def test_pdf_paragraphs_hyphenation_bullets_and_hash_lines() -> None:
    # GIVEN a page with two paragraphs, a word hyphenated across a line break, bullets and a line starting with "#"
    page = PdfPage(
        [
            paragraph("The gateway reads its config-\nuration at start-up and\nlogs every change."),
            paragraph("\u2022 first item\n\u2022 second item"),
            paragraph("#hashtag lines are text"),
        ]
    )

    # WHEN it is extracted
    body = page_texts(extract_local(PDF, text_pdf([page])))[1].strip()

    # THEN the paragraphs are apart, the word is whole, bullets are markdown list items, "#" is escaped
    assert body == (
        "The gateway reads its configuration at start-up and\nlogs every change.\n\n"
        "- first item\n- second item\n\n"
        "\\#hashtag lines are text"
    )


def test_pdf_text_spelling_a_page_marker_cannot_fake_a_page() -> None:
    # GIVEN a one-page PDF whose text contains our marker syntax on a line of its own
    data = text_pdf([["Real text before.", "<!-- page 7 -->", "Real text after."]])

    # WHEN it is extracted and chunked
    extracted = extract_local(PDF, data)
    chunks = layout_chunks(extracted)

    # THEN there is one marker only, the fake one is escaped, and every chunk is on page 1
    assert MARKER.findall(extracted.markdown) == ["1"]
    assert "\\<!-- page 7 -->" in extracted.markdown
    assert {page for c in chunks for page in c.pages} == {1}


def test_pdf_chunks_carry_pages_and_heading_paths() -> None:
    # GIVEN a 12-page prose PDF with chapter and section headings, a header and footer
    data = text_pdf(prose_pages(12), header="Acme Manual", footer="Page {page} of {pages}")

    # WHEN it is extracted and chunked by layout
    extracted = extract_local(PDF, data)
    chunks = layout_chunks(extracted)

    # THEN every page is there, chunks say which pages they come from, headings form the path
    assert extracted.pages == 12 and MARKER.findall(extracted.markdown) == [str(n) for n in range(1, 13)]
    assert {page for c in chunks for page in c.pages} == set(range(1, 13))
    first = chunks[0]
    assert first.pages == (1,)
    assert first.heading_path[0].startswith("Chapter 1:") and first.heading_path[1].startswith("Section 1.")
    page_11 = next(c for c in chunks if c.pages == (11,))
    assert page_11.heading_path[0].startswith("Chapter 2:")
    assert not any("Acme Manual" in c.text or "Page 3 of 12" in c.text for c in chunks)


def test_pdf_encrypted_with_a_password_is_refused() -> None:
    # GIVEN a PDF that needs a password to open
    data = encrypted_pdf("secret")

    # WHEN it is extracted / THEN the user is told it is password-protected
    with pytest.raises(ExtractionError, match=r"^the PDF is password-protected$"):
        extract_local(PDF, data)
    with pytest.raises(ExtractionError, match="password-protected"):
        needs_textract(PDF, data, "auto")


def test_pdf_encrypted_with_an_empty_user_password_is_read() -> None:
    # GIVEN a PDF encrypted with only an owner password (opens without asking)
    data = encrypted_pdf("")

    # WHEN it is extracted
    extracted = extract_local(PDF, data)

    # THEN its text comes out
    assert "Acme Gateway routes requests" in page_texts(extracted)[1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "^the PDF is empty$"),
        (b"\x8f\x13 random bytes, not a document" * 20, r"^the file is not a PDF \(it has no %PDF- header\)$"),
        (sample_pdf()[: len(sample_pdf()) // 2], "^the PDF is damaged: "),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "^the PDF is damaged: "),
        (zero_page_pdf(), "^the PDF has no pages$"),
    ],
    ids=["empty", "random", "truncated", "garbage-after-header", "zero-pages"],
)
def test_pdf_unreadable_files_give_readable_reasons(data: bytes, message: str) -> None:
    # GIVEN a file that is not a readable PDF / WHEN it is extracted / THEN the reason is plain words
    with pytest.raises(ExtractionError, match=message) as caught:
        extract_local(PDF, data)
    assert "Traceback" not in str(caught.value)


def test_pdf_decompression_bomb_stops_at_the_limit() -> None:
    # GIVEN a 80 kB PDF whose content stream inflates to 80 MB
    bomb = _assemble([b"BT /F1 11 Tf 72 700 Td (hello) Tj ET\n" + b" " * 80_000_000])

    # WHEN it is extracted / THEN pypdf's limit stops it, reported as too large
    with pytest.raises(ExtractionError, match=r"^the PDF is too large or too complex to read safely: page 1"):
        extract_local(PDF, bomb)


def test_scanned_pdf_needs_textract_and_has_no_text_layer() -> None:
    # GIVEN a PDF whose pages are images only
    data = scanned_pdf()

    # WHEN the path is chosen / THEN "auto" sends it to Textract, and forcing text extraction explains why not
    assert needs_textract(PDF, data, "auto") is True
    assert needs_textract(PDF, data, "text") is False
    with pytest.raises(ExtractionError, match="no text layer"):
        extract_local(PDF, data)


def test_pdf_with_a_text_layer_stays_local_unless_textract_is_asked_for() -> None:
    data = sample_pdf()
    assert needs_textract(PDF, data, "auto") is False
    assert needs_textract(PDF, data, "textract") is True
    assert needs_textract("Application/PDF; qs=0.9", data, "text") is False


def test_pdf_mostly_scanned_goes_to_textract() -> None:
    # GIVEN four pages of which only the first has a line of text (a scanned document with a typed cover)
    data = text_pdf([["Cover page of the scanned contract, signed by both parties."], [], [], []])

    # WHEN the path is chosen automatically / THEN Textract reads it
    assert needs_textract(PDF, data, "auto") is True


# ------------------------------------------------------------------------------------------------ images and types


def test_images_always_need_textract() -> None:
    assert needs_textract("image/png", PNG, "auto") is True
    assert needs_textract("IMAGE/JPEG", b"\xff\xd8\xff\xe0rest", "textract") is True
    assert needs_textract("image/tiff", b"II*\x00rest", "auto") is True
    with pytest.raises(ExtractionError, match="images have no text layer: they need Textract"):
        needs_textract("image/png", PNG, "text")
    with pytest.raises(ExtractionError, match=r"^the file is not a PNG image$"):
        needs_textract("image/png", b"%PDF-1.7", "auto")
    with pytest.raises(ExtractionError, match="images need Textract"):
        extract_local("image/png", PNG)


def test_text_formats_never_go_to_textract() -> None:
    for content_type, kind in SUPPORTED_CONTENT_TYPES.items():
        if kind in ("text", "markdown", "html", "docx"):
            assert needs_textract(content_type, b"anything", "textract") is False
            assert needs_textract(content_type, b"anything", "auto") is False


def test_unsupported_type_and_mode_are_refused() -> None:
    with pytest.raises(ExtractionError, match=r"^the content type 'application/zip' is not supported"):
        extract_local("application/zip", b"PK")
    with pytest.raises(ExtractionError, match="unknown extraction mode 'ocr'"):
        needs_textract(PDF, sample_pdf(), "ocr")


# ------------------------------------------------------------------------------------------------------ HTML


def test_html_keeps_content_as_markdown_and_drops_code_and_chrome() -> None:
    # GIVEN a windows-1252 HTML page (declared by meta charset) with script, style, noscript, svg and template
    data = sample_html()

    # WHEN it is extracted (with parameters on the content type)
    extracted = extract_local("text/html; charset=ISO-8859-1", data)

    # THEN headings, list, table and link text remain, decoded by the meta charset; the rest is gone
    assert (extracted.pages, extracted.method) == (1, "html")
    markdown = extracted.markdown
    assert markdown.startswith("<!-- page 1 -->\n")
    assert "# Release notes\n" in markdown and "## Changes\n" in markdown
    assert "Version 2.0 brings a new query engine and café support." in markdown
    assert "- Faster search\n- Smaller index" in markdown
    assert "| Setting | Default |\n| --- | --- |\n| timeout | 30 s |\n| retries | 3 |" in markdown
    for gone in ("tracking", "color: red", "Enable JavaScript", "vector art", "template text", "https://"):
        assert gone not in markdown


def test_html_merged_cells_are_repeated_and_pipes_escaped() -> None:
    # GIVEN a table without a header row, with a rowspan, a colspan and a "|" in a cell
    html = (
        b"<table><tr><td>Region</td><td colspan=2>Limits</td></tr>"
        b"<tr><td rowspan=2>eu-west-1</td><td>rpm</td><td>a|b</td></tr>"
        b"<tr><td>tpm</td><td>90000</td></tr></table>"
    )

    # WHEN it is extracted
    markdown = extract_local("text/html", html).markdown

    # THEN the table is rectangular, the first row is the header, merged text is repeated where it spans
    assert markdown == (
        "<!-- page 1 -->\n"
        "| Region | Limits | Limits |\n| --- | --- | --- |\n"
        "| eu-west-1 | rpm | a\\|b |\n| eu-west-1 | tpm | 90000 |\n"
    )


def test_html_charset_from_bom_and_fake_markers_escaped() -> None:
    # GIVEN UTF-16 HTML with a BOM and no meta charset, whose text spells our page marker
    html = "<p>Grüße aus Köln</p><p>&lt;!-- page 3 --&gt;</p><!-- page 4 -->"
    data = codecs.BOM_UTF16_LE + html.encode("utf-16-le")

    # WHEN it is extracted
    markdown = extract_local("text/html", data).markdown

    # THEN the text is decoded, the spelled marker is escaped and the HTML comment is dropped
    assert markdown == "<!-- page 1 -->\nGrüße aus Köln\n\n\\<!-- page 3 -->\n"


def test_html_chunks_carry_heading_paths() -> None:
    chunks = layout_chunks(extract_local("text/html", sample_html()))
    assert chunk_with(chunks, "Faster search").heading_path == ("Release notes", "Changes")
    assert "| Setting | Default |\n| --- | --- |\n| timeout | 30 s |" in chunk_with(chunks, "| timeout |").text
    assert all(c.pages == (1,) for c in chunks)


def test_html_without_text_is_an_error() -> None:
    with pytest.raises(ExtractionError, match=r"^the document contains no text$"):
        extract_local("text/html", b"<html><head><title>x</title></head><body><script>1</script></body></html>")


# ------------------------------------------------------------------------------------------------------ DOCX


def test_docx_headings_lists_and_table() -> None:
    # GIVEN a DOCX with a title, headings, bulleted and numbered lists and a table with a merged header cell
    data = sample_docx()

    # WHEN it is extracted
    extracted = extract_local(DOCX, data)

    # THEN they are markdown, and the merged cell's text is repeated in the columns it spans
    assert (extracted.pages, extracted.method) == (1, "docx")
    assert extracted.markdown == (
        "<!-- page 1 -->\n"
        "# Acme Handbook\n\n"
        "This handbook explains how the team works.\n\n"
        "# Onboarding\n\n"
        "New people get the following on day one:\n\n"
        "- A laptop with the tools installed\n- An account on every system\n\n"
        "## First week\n\n"
        "1. Read the architecture notes\n2. Ship a small change\n\n"
        "# Contacts\n\n"
        "| Team | Contact | Contact |\n| --- | --- | --- |\n"
        "| Platform | Ana | ana@example.com |\n| Data | Bo | bo@example.com |\n\n"
        "Ask in the team channel when in doubt.\n"
    )
    chunks = layout_chunks(extracted)
    assert chunk_with(chunks, "Ship a small change").heading_path == ("Onboarding", "First week")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "^the DOCX file is empty$"),
        (b"plain text, not a zip", r"not a DOCX file \(it is not a ZIP archive\)"),
        (zip_without_document(), r"not a Word document \(it has no word/document.xml\)"),
        (sample_docx()[:2000], "damaged"),
    ],
    ids=["empty", "not-zip", "no-document-xml", "truncated"],
)
def test_docx_unreadable_files_give_readable_reasons(data: bytes, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        extract_local(DOCX, data)


# ------------------------------------------------------------------------------------------- text and markdown


@pytest.mark.parametrize(
    "data",
    [
        "Grüße\r\naus Köln\r\n".encode(),
        codecs.BOM_UTF8 + "Grüße\naus Köln\n".encode(),
        codecs.BOM_UTF16_LE + "Grüße\naus Köln\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "Grüße\raus Köln\r".encode("utf-16-be"),
    ],
    ids=["utf8-crlf", "utf8-bom", "utf16le-bom", "utf16be-bom-cr"],
)
def test_text_is_decoded_and_newlines_normalised(data: bytes) -> None:
    extracted = extract_local("text/plain; charset=whatever", data)
    assert extracted == Extracted("<!-- page 1 -->\nGrüße\naus Köln\n", 1, "text")


def test_text_in_a_legacy_charset_is_detected() -> None:
    # GIVEN a French paragraph in windows-1252 (not valid UTF-8); detection needs a sentence or two to be sure
    text = "Le café de la gare est fermé le lundi; à bientôt, chère amie.\nOù est la clé?"

    # WHEN it is extracted / THEN it reads as written
    assert extract_local("text/plain", text.encode("cp1252")).markdown == f"<!-- page 1 -->\n{text}\n"


def test_markdown_passes_through_and_chunks_by_its_headings() -> None:
    # GIVEN a markdown file with headings, a table and a line spelling our marker
    data = b"# Guide\n\nIntro.\n\n## Setup\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<!-- page 9 -->\nMore setup.\n"

    # WHEN it is extracted and chunked
    extracted = extract_local("text/markdown", data)
    chunks = layout_chunks(extracted)

    # THEN the markdown is as written but for the escaped marker, and headings form the chunks' paths
    assert extracted.method == "markdown"
    assert extracted.markdown == "<!-- page 1 -->\n" + data.decode().replace("<!-- page 9", "\\<!-- page 9")
    assert chunk_with(chunks, "More setup.").heading_path == ("Guide", "Setup")
    assert all(c.pages == (1,) for c in chunks)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "^the text file is empty$"),
        (b"  \n\n ", "^the text file is empty$"),
        (b"abc\x00def", r"^the text file contains binary data \(NUL bytes\), not text$"),
        (bytes(range(1, 32)) * 10 + b"text", "^the text file contains binary data, not text$"),
        (codecs.BOM_UTF8 + b"\xff\xfe\xfd", "^the text file is not valid UTF-8-SIG"),
    ],
    ids=["empty", "blank", "nul", "controls", "bad-utf8-after-bom"],
)
def test_text_that_is_not_text_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        extract_local("text/plain", data)
