"""A file's text, by kind: Markdown, plain text, HTML and PDF.

The kind comes from the bytes and the file name, never from the content type a client
sent: a file that starts with ``%PDF-`` is a PDF whatever it is called, and a file named
``.pdf`` that does not is refused. The size is checked against the bound before anything
is parsed, and parsing runs in a worker thread (``asyncio.to_thread``) so a large PDF never
stalls the event loop; the wait for it is bounded. A thread cannot be stopped, so a parse
that overruns finishes in the background and its result is dropped; the byte bound is what
keeps that work finite.

HTML is reduced to its readable text by trafilatura (navigation, scripts and footers go),
as Markdown so its headings still split the chunks. PDF text is pypdf's, page by page.
Every failure is a :class:`SourceRefused` with a sentence the admin can act on.
"""

from __future__ import annotations

import asyncio
import codecs
import enum
import io
from dataclasses import dataclass
from pathlib import PurePath

import pypdf
import trafilatura
from pypdf.errors import PyPdfError

from bot.knowledge.chunking import Chunk, split_document
from bot.knowledge.refused import SourceRefused

__all__ = [
    "PARSE_SECONDS", "Kind", "SourceRefused", "SourceText", "kind_of", "read_file", "size_text",
]

# How long an admin waits for one file's text before hearing it took too long.
PARSE_SECONDS = 30.0
PDF_MAGIC = b"%PDF-"
# A NUL byte among the first bytes means a binary file, whatever its name says.
_SNIFF_BYTES = 1024


class Kind(enum.StrEnum):
    MARKDOWN = "markdown"
    TEXT = "text"
    HTML = "html"
    PDF = "pdf"


_EXTENSIONS = {
    ".md": Kind.MARKDOWN,
    ".markdown": Kind.MARKDOWN,
    ".txt": Kind.TEXT,
    ".text": Kind.TEXT,
    ".html": Kind.HTML,
    ".htm": Kind.HTML,
    ".pdf": Kind.PDF,
}
SUPPORTED = ", ".join(sorted(_EXTENSIONS))


@dataclass(frozen=True)
class SourceText:
    kind: Kind
    text: str

    def chunks(self) -> list[Chunk]:
        """Headings split Markdown and the Markdown trafilatura makes of HTML; in plain text
        and PDF text a leading ``#`` is just a character."""
        return split_document(self.text, markdown=self.kind in (Kind.MARKDOWN, Kind.HTML))


def kind_of(filename: str, head: bytes) -> Kind:
    """The file's kind from its first bytes and its name's extension."""
    named = _EXTENSIONS.get(PurePath(filename).suffix.lower())
    if head.startswith(PDF_MAGIC):
        return Kind.PDF
    if named is Kind.PDF:
        raise SourceRefused(f"`{filename}` is named like a PDF but is not one.")
    if named is None:
        raise SourceRefused(
            f"`{filename}` is not a kind of file the knowledge base reads ({SUPPORTED})."
        )
    if b"\x00" in head[:_SNIFF_BYTES]:
        raise SourceRefused(f"`{filename}` looks like a binary file, not {named.value}.")
    return named


async def read_file(
    filename: str, data: bytes, *, max_bytes: int, seconds: float = PARSE_SECONDS
) -> SourceText:
    """The file's text; raises :class:`SourceRefused`."""
    if len(data) > max_bytes:
        raise SourceRefused(
            f"`{filename}` is {size_text(len(data))}; the limit is {size_text(max_bytes)}."
        )
    kind = kind_of(filename, data[:_SNIFF_BYTES])
    try:
        async with asyncio.timeout(seconds):
            text = await asyncio.to_thread(_extract, kind, data)
    except TimeoutError:
        raise SourceRefused(
            f"Reading `{filename}` took longer than {seconds:g} seconds; try a smaller file."
        ) from None
    if not text.strip():
        hint = " (a scanned PDF holds only images of text)" if kind is Kind.PDF else ""
        raise SourceRefused(f"No text found in `{filename}`{hint}.")
    return SourceText(kind, text)


def _extract(kind: Kind, data: bytes) -> str:
    if kind is Kind.PDF:
        return _pdf_text(data)
    if kind is Kind.HTML:
        return _html_text(data)
    return _decode(data)


def _decode(data: bytes) -> str:
    """UTF-8 with replacement characters for bad bytes, without a byte-order mark."""
    return data.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace")


def _html_text(data: bytes) -> str:
    """Given the bytes, trafilatura honours the page's own declared encoding."""
    extracted = trafilatura.extract(data, include_tables=True, output_format="markdown")
    return extracted or ""


def _pdf_text(data: bytes) -> str:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        # A PDF with only an owner password opens without one, as in any viewer.
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceRefused(
                "The PDF is password-protected; upload a copy saved without a password."
            )
        pages = [page.extract_text() for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as error:
        # pypdf reports a damaged file through its own errors and, deeper in the object
        # parser, plain Python ones.
        raise SourceRefused(
            f"The PDF could not be read ({type(error).__name__}); it may be damaged. "
            "Export it again, or upload its text as a .txt or .md file."
        ) from error
    return "\n\n".join(pages)


def size_text(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if count >= 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count} bytes"
