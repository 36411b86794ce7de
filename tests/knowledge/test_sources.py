"""Reading each kind of file: what is kept, what is refused and why, and the bounds."""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.config import KnowledgeSettings
from bot.knowledge.sources import PDF_MAGIC, Kind, SourceRefused, kind_of, read_file
from tests.knowledge.documents import NOISY_HTML, make_pdf

LIMIT = KnowledgeSettings().max_file_bytes


async def test_markdown_is_utf8_without_its_bom_and_bad_bytes_are_replaced() -> None:
    data = codecs.BOM_UTF8 + "# Remboursements\n\nDélai: 30 jours \xff".encode() + b"\xff\n"
    source = await read_file("faq.md", data, max_bytes=LIMIT)
    assert source.kind is Kind.MARKDOWN
    assert source.text.startswith("# Remboursements")
    assert source.text.endswith("jours \xff\ufffd\n")
    assert [chunk.heading for chunk in source.chunks()] == ["Remboursements"]


async def test_plain_text_has_no_headings() -> None:
    data = b"# not a heading\nRefunds take 30 days."
    source = await read_file("notes.TXT", data, max_bytes=LIMIT)
    assert source.kind is Kind.TEXT
    assert [(c.heading, c.text) for c in source.chunks()] == [
        ("", "# not a heading\nRefunds take 30 days.")
    ]


async def test_html_keeps_the_article_and_its_headings_and_drops_the_noise() -> None:
    source = await read_file("refunds.html", NOISY_HTML, max_bytes=LIMIT)
    assert source.kind is Kind.HTML
    for noise in ("analyticsbeacon", "color: red", "Homepage", "Careers", "cookiebanner"):
        assert noise not in source.text
    assert "fourteen days to withdraw" in source.text
    assert "| Pro | 45 |" in source.text
    headings = {chunk.heading for chunk in source.chunks()}
    assert headings == {"Refund policy", "Refund policy › EU"}


async def test_a_pdf_gives_its_text_page_by_page() -> None:
    data = make_pdf([["Refund policy", "Refunds take thirty days."], ["Shipping takes two days."]])
    source = await read_file("policy.pdf", data, max_bytes=LIMIT)
    assert source.kind is Kind.PDF
    assert re.fullmatch(
        r"Refund policy\nRefunds take thirty days\.\s+Shipping takes two days\.\s*", source.text
    )
    assert {chunk.heading for chunk in source.chunks()} == {""}


async def test_a_pdf_is_known_by_its_bytes_whatever_its_name() -> None:
    data = make_pdf([["Named as text."]])
    assert kind_of("policy.txt", data) is Kind.PDF
    assert (await read_file("policy.txt", data, max_bytes=LIMIT)).text.strip() == "Named as text."


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("policy.pdf", make_pdf([["Secret"]], password="hunter2"), "password-protected"),
        ("policy.pdf", PDF_MAGIC + b"1.4 garbage", "could not be read"),
        ("policy.pdf", b"<html>not a pdf</html>", "named like a PDF but is not one"),
        ("report.docx", b"PK\x03\x04", "not a kind of file the knowledge base reads (.htm,"),
        ("notes.txt", b"text\x00\x01binary", "looks like a binary file, not text"),
        ("blank.md", b" \n\n\t", "No text found in `blank.md`."),
        ("scan.pdf", make_pdf([[]]), "a scanned PDF holds only images of text"),
    ],
)
async def test_refusals_say_why(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(SourceRefused) as refused:
        await read_file(name, data, max_bytes=LIMIT)
    assert reason in refused.value.reason


async def test_the_size_is_checked_before_any_parsing() -> None:
    """A damaged PDF over the bound is refused for its size, not its damage."""
    over = PDF_MAGIC + b"x" * (12 * 1024 * 1024)
    with pytest.raises(SourceRefused) as refused:
        await read_file("big.pdf", over, max_bytes=5 * 1024 * 1024)
    assert refused.value.reason == "`big.pdf` is 12 MB; the limit is 5 MB."
    exact = b"a" * 1000
    assert (await read_file("a.txt", exact, max_bytes=len(exact))).text == "a" * 1000
    with pytest.raises(SourceRefused, match="1001 bytes; the limit is 1000 bytes"):
        await read_file("a.txt", exact + b"a", max_bytes=len(exact))


async def test_parsing_is_bounded_in_time() -> None:
    data = make_pdf([["Refunds take thirty days."]] * 50)
    with pytest.raises(SourceRefused, match=r"took longer than 0 seconds; try a smaller file"):
        await read_file("long.pdf", data, max_bytes=LIMIT, seconds=0)


@given(st.binary(max_size=3000), st.sampled_from(["a.md", "a.txt", "a.html", "a.pdf", "a.bin"]))
async def test_any_bytes_give_text_or_a_refusal(data: bytes, name: str) -> None:
    try:
        source = await read_file(name, data, max_bytes=LIMIT)
    except SourceRefused as refused:
        assert refused.reason.endswith(".")
        assert f"`{name}`" in refused.reason or refused.reason.startswith("The PDF")
        return
    assert source.text.strip()
    assert source.kind is kind_of(name, data)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert KnowledgeSettings().model_dump() == {
        "max_file_bytes": 5 * 1024 * 1024, "max_sources": 50, "max_chunks": 5000,
        "top_passages": 4,
    }
    monkeypatch.setenv("KNOWLEDGE_MAX_SOURCES", "7")
    monkeypatch.setenv("KNOWLEDGE_TOP_PASSAGES", "2")
    settings = KnowledgeSettings()
    assert (settings.max_sources, settings.top_passages) == (7, 2)
    monkeypatch.setenv("KNOWLEDGE_MAX_CHUNKS", "0")
    with pytest.raises(ValueError, match="KNOWLEDGE_MAX_CHUNKS"):
        KnowledgeSettings()
