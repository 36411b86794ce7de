"""The knowledge store on SQLite and on PostgreSQL: indexing each file kind, ranking, guild
isolation, replacing and removing sources, the bounds, channel messages, and questions that
look like query syntax."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.knowledge.chunking import Chunk, split_document
from bot.knowledge.config import KnowledgeSettings
from bot.knowledge.sources import SourceRefused, read_file
from bot.storage import Storage, StorageUnavailable
from bot.storage.knowledge import KnowledgeStore
from tests.knowledge.documents import NOISY_HTML, make_pdf
from tests.knowledge.test_search import ATTACKS
from tests.storage.conftest import Backend

GUILD = 851_845_528_051_384_320
OTHER_GUILD = 933_453_536_094_715_904
FAQ_CHANNEL = 851_845_530_937_065_472
MESSAGE = 1_158_825_797_277_057_024
MAX_SOURCES, MAX_CHUNKS = 4, 30
LIMIT = 10
# Each hypothesis example writes under its own guild, so examples never see each other.
fresh_guilds = itertools.count(10**17)


@pytest_asyncio.fixture
async def knowledge(storage: Storage) -> AsyncIterator[KnowledgeStore]:
    yield KnowledgeStore.sharing(
        storage, KnowledgeSettings(max_sources=MAX_SOURCES, max_chunks=MAX_CHUNKS)
    )


@pytest_asyncio.fixture
async def roomy(storage: Storage) -> AsyncIterator[KnowledgeStore]:
    """The default bounds, for the generated examples (many sources, one guild each)."""
    yield KnowledgeStore.sharing(storage, KnowledgeSettings())


def doc(body: str) -> list[Chunk]:
    return split_document(body)


async def titles_found(knowledge: KnowledgeStore, guild: int, query: str) -> list[str]:
    return [passage.source for passage in await knowledge.search(guild, query, LIMIT)]


async def consistent_index(backend: Backend) -> None:
    """On SQLite, FTS5's own check that the index matches knowledge_chunks
    (https://www.sqlite.org/fts5.html#the_integrity_check_command), which fails if a
    trigger missed a write; PostgreSQL's generated column cannot drift."""
    if backend.name != "sqlite":
        return
    engine = create_async_engine(backend.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO knowledge_fts(knowledge_fts, rank) VALUES ('integrity-check', 1)")
            )
    finally:
        await engine.dispose()


async def test_each_file_kind_is_indexed_and_found_under_its_title_and_heading(
    knowledge: KnowledgeStore,
) -> None:
    files = {
        "faq.md": b"# Billing\n\n## Invoices\n\nInvoices are emailed monthly.\n",
        "notes.txt": b"Passwords reset from the login page.",
        "refunds.html": NOISY_HTML,
        "shipping.pdf": make_pdf([["Shipping", "Parcels leave the warehouse daily."]]),
    }
    for name, data in files.items():
        source = await read_file(name, data, max_bytes=1024 * 1024)
        await knowledge.replace_source(GUILD, name, "file", source.chunks(), size_bytes=len(data))

    invoices = await knowledge.search(GUILD, "when are invoices sent?", LIMIT)
    assert [(p.source, p.heading) for p in invoices] == [("faq.md", "Billing › Invoices")]
    assert await titles_found(knowledge, GUILD, "reset my password") == ["notes.txt"]
    eu = await knowledge.search(GUILD, "withdraw", LIMIT)
    assert [(p.source, p.heading) for p in eu] == [("refunds.html", "Refund policy › EU")]
    assert await titles_found(knowledge, GUILD, "warehouse parcels") == ["shipping.pdf"]
    assert await titles_found(knowledge, GUILD, "analyticsbeacon cookiebanner") == []
    listed = await knowledge.list_sources(GUILD)
    assert [(s.title, s.kind, s.bytes) for s in listed] == [
        (name, "file", len(data)) for name, data in sorted(files.items())
    ]
    assert all(s.chunks >= 1 and s.indexed_at.tzinfo is not None for s in listed)


async def test_a_passage_with_every_term_ranks_above_one_with_some_and_none_is_not_found(
    knowledge: KnowledgeStore,
) -> None:
    await knowledge.replace_source(GUILD, "None", "file", doc("Parcels ship on weekdays."))
    await knowledge.replace_source(GUILD, "Some", "file", doc("A refund is possible."))
    await knowledge.replace_source(
        GUILD, "Every", "file", doc("A refund for a damaged parcel within thirty days.")
    )
    found = await knowledge.search(GUILD, "refund damaged thirty", LIMIT)
    assert [p.source for p in found] == ["Every", "Some"]
    assert found[0].rank > found[1].rank


vocabulary = ["amber", "basalt", "cobalt", "dolomite", "emerald", "feldspar", "garnet"]
filler = ["river", "lantern", "meadow", "orchard", "pebble", "quill", "saddle", "timber"]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.sampled_from(vocabulary), min_size=1, max_size=4, unique=True),
    st.lists(st.lists(st.sampled_from(filler), max_size=60), min_size=1, max_size=4),
    st.lists(st.lists(st.sampled_from(filler), min_size=1, max_size=60), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
async def test_a_document_with_all_query_terms_never_ranks_below_one_with_none(
    roomy: KnowledgeStore,
    terms: list[str],
    with_all: list[list[str]],
    with_none: list[list[str]],
    shuffler: random.Random,
) -> None:
    """Those with none are not found at all; those with all are, whatever else they say."""
    guild = next(fresh_guilds)
    for index, words in enumerate(with_all):
        mixed = words + terms
        shuffler.shuffle(mixed)
        await roomy.replace_source(guild, f"all {index}", "file", doc(" ".join(mixed)))
    for index, words in enumerate(with_none):
        await roomy.replace_source(guild, f"none {index}", "file", doc(" ".join(words)))
    found = await titles_found(roomy, guild, " ".join(terms))
    assert sorted(found) == sorted(f"all {index}" for index in range(len(with_all)))


async def test_a_guild_never_sees_another_guilds_passages(knowledge: KnowledgeStore) -> None:
    await knowledge.replace_source(GUILD, "Refund policy", "file", doc("Refunds take 30 days."))
    assert await knowledge.search(OTHER_GUILD, "refunds", LIMIT) == []
    await knowledge.replace_source(OTHER_GUILD, "Refund policy", "file", doc("Refunds: never."))
    assert [p.text for p in await knowledge.search(OTHER_GUILD, "refunds", LIMIT)] == [
        "Refunds: never."
    ]
    assert [p.text for p in await knowledge.search(GUILD, "refunds", LIMIT)] == [
        "Refunds take 30 days."
    ]
    assert [s.title for s in await knowledge.list_sources(OTHER_GUILD)] == ["Refund policy"]
    assert await knowledge.remove_source(OTHER_GUILD, "Refund policy")
    assert await titles_found(knowledge, GUILD, "refunds") == ["Refund policy"]


async def test_a_removed_source_is_never_returned(
    backend: Backend, knowledge: KnowledgeStore
) -> None:
    await knowledge.replace_source(GUILD, "Refund policy", "file", doc("Refunds take 30 days."))
    assert await knowledge.remove_source(GUILD, "Refund policy")
    assert not await knowledge.remove_source(GUILD, "Refund policy")
    assert await knowledge.search(GUILD, "refunds", LIMIT) == []
    assert await knowledge.list_sources(GUILD) == []
    await consistent_index(backend)


async def test_replacing_a_source_leaves_none_of_its_old_chunks(
    backend: Backend, knowledge: KnowledgeStore
) -> None:
    old = "\n\n".join(f"# Part {n}\n\nLegacy wording number {n}." for n in range(5))
    await knowledge.replace_source(GUILD, "Policy", "file", doc(old))
    replaced = await knowledge.replace_source(GUILD, "Policy", "file", doc("Current wording."))
    assert replaced.chunks == 1
    assert await knowledge.search(GUILD, "legacy", LIMIT) == []
    assert [p.text for p in await knowledge.search(GUILD, "wording", LIMIT)] == [
        "Current wording."
    ]
    assert [(s.title, s.chunks) for s in await knowledge.list_sources(GUILD)] == [("Policy", 1)]
    await consistent_index(backend)


async def test_past_a_bound_nothing_is_written_and_the_old_copy_stays(
    knowledge: KnowledgeStore,
) -> None:
    for index in range(MAX_SOURCES):
        await knowledge.replace_source(GUILD, f"Doc {index}", "file", doc(f"Topic{index} text."))
    before = await knowledge.list_sources(GUILD)
    with pytest.raises(SourceRefused, match=f"already has {MAX_SOURCES} knowledge sources"):
        await knowledge.replace_source(GUILD, "One too many", "file", doc("Overflow text."))
    # Same title replaces, so it is not one more source.
    await knowledge.replace_source(GUILD, "Doc 0", "file", doc("Topic0 rewritten."))

    held = sum(source.chunks for source in before)
    too_big = [Chunk(n, "", f"Piece {n}.") for n in range(MAX_CHUNKS - held + 2)]
    # Counted without the copy it would replace: the other sources hold one chunk less.
    others = held - 1
    with pytest.raises(SourceRefused, match=f"server holds {others} of at most {MAX_CHUNKS}"):
        await knowledge.replace_source(GUILD, "Doc 1", "file", too_big)
    with pytest.raises(SourceRefused, match=f"a server can hold at most {MAX_CHUNKS}"):
        await knowledge.replace_source(GUILD, "Doc 1", "file", too_big * 20)
    assert await titles_found(knowledge, GUILD, "topic1") == ["Doc 1"]
    assert await knowledge.search(GUILD, "piece", LIMIT) == []
    after = await knowledge.list_sources(GUILD)
    assert [(s.title, s.chunks) for s in after] == [(s.title, s.chunks) for s in before]
    # The other guilds' bounds are their own.
    await knowledge.replace_source(OTHER_GUILD, "Doc 5", "file", too_big[: MAX_CHUNKS])


async def test_titles_are_cleaned_checked_and_offered_by_prefix(
    knowledge: KnowledgeStore,
) -> None:
    for title in ("Refund policy", "refunds 100%_EU", "Shipping", "  Ref \n  desk  "):
        await knowledge.replace_source(GUILD, title, "file", doc("Some text."))
    assert await knowledge.source_titles(GUILD, "REF") == [
        "Ref desk", "Refund policy", "refunds 100%_EU"
    ]
    assert await knowledge.source_titles(GUILD, "refunds 100%_") == ["refunds 100%_EU"]
    assert await knowledge.source_titles(GUILD, "refunds 1%") == []
    assert await knowledge.source_titles(OTHER_GUILD, "") == []
    with pytest.raises(SourceRefused, match="needs a title"):
        await knowledge.replace_source(GUILD, " \n ", "file", doc("Text."))
    with pytest.raises(SourceRefused, match="at most 200 characters"):
        await knowledge.replace_source(GUILD, "x" * 201, "file", doc("Text."))


async def test_a_channel_follows_new_edited_and_deleted_messages(
    backend: Backend, knowledge: KnowledgeStore
) -> None:
    assert not await knowledge.upsert_message(GUILD, FAQ_CHANNEL, MESSAGE, "Not a source yet.")
    await knowledge.replace_source(GUILD, "#faq", "channel", [], channel_id=FAQ_CHANNEL)

    assert await knowledge.upsert_message(GUILD, FAQ_CHANNEL, MESSAGE, "Refunds take 30 days.")
    assert await knowledge.upsert_message(GUILD, FAQ_CHANNEL, MESSAGE + 1, "Shipping is free.")
    assert [p.source for p in await knowledge.search(GUILD, "refunds", LIMIT)] == ["#faq"]
    (listed,) = await knowledge.list_sources(GUILD)
    assert (listed.kind, listed.channel_id, listed.chunks) == ("channel", FAQ_CHANNEL, 2)
    assert listed.bytes == len("Refunds take 30 days.") + len("Shipping is free.")

    assert await knowledge.upsert_message(GUILD, FAQ_CHANNEL, MESSAGE, "Returns take 14 days.")
    assert await knowledge.search(GUILD, "refunds", LIMIT) == []
    assert [p.text for p in await knowledge.search(GUILD, "returns", LIMIT)] == [
        "Returns take 14 days."
    ]
    assert await knowledge.delete_message(GUILD, FAQ_CHANNEL, MESSAGE)
    assert not await knowledge.delete_message(GUILD, FAQ_CHANNEL, MESSAGE)
    assert await knowledge.search(GUILD, "returns", LIMIT) == []
    (listed,) = await knowledge.list_sources(GUILD)
    assert (listed.chunks, listed.bytes) == (1, len("Shipping is free."))
    # Another guild naming this channel reaches nothing.
    assert not await knowledge.upsert_message(OTHER_GUILD, FAQ_CHANNEL, MESSAGE + 2, "Spoof.")
    assert not await knowledge.delete_message(OTHER_GUILD, FAQ_CHANNEL, MESSAGE + 1)
    assert await titles_found(knowledge, GUILD, "shipping spoof") == ["#faq"]
    await consistent_index(backend)


async def test_a_channel_message_past_the_chunk_bound_is_refused(
    knowledge: KnowledgeStore,
) -> None:
    await knowledge.replace_source(GUILD, "#faq", "channel", [], channel_id=FAQ_CHANNEL)
    await knowledge.replace_source(
        GUILD, "Big", "file", [Chunk(n, "", f"Filler {n}.") for n in range(MAX_CHUNKS)]
    )
    with pytest.raises(SourceRefused, match="This message makes 1 passages"):
        await knowledge.upsert_message(GUILD, FAQ_CHANNEL, MESSAGE, "Refunds take 30 days.")
    assert await knowledge.search(GUILD, "refunds", LIMIT) == []


async def test_a_channel_is_one_source_and_catch_up_resumes_after_a_restart(
    backend: Backend, knowledge: KnowledgeStore
) -> None:
    await knowledge.replace_source(GUILD, "#faq", "channel", [], channel_id=FAQ_CHANNEL)
    with pytest.raises(SourceRefused, match=r"already a knowledge source, \*#faq\*"):
        await knowledge.replace_source(GUILD, "FAQ", "channel", [], channel_id=FAQ_CHANNEL)
    with pytest.raises(ValueError, match="channel_id"):
        await knowledge.replace_source(GUILD, "FAQ", "channel", [])

    (fresh,) = await knowledge.channel_sources()
    assert (fresh.guild_id, fresh.channel_id, fresh.last_message_id) == (GUILD, FAQ_CHANNEL, None)
    await knowledge.mark_caught_up(GUILD, FAQ_CHANNEL, MESSAGE + 5)
    await knowledge.mark_caught_up(GUILD, FAQ_CHANNEL, MESSAGE)  # a late, older mark

    restarted = backend.storage()
    try:
        again = KnowledgeStore.sharing(restarted, KnowledgeSettings())
        (source,) = await again.channel_sources()
        assert (source.title, source.last_message_id) == ("#faq", MESSAGE + 5)
    finally:
        await restarted.close()


@pytest.mark.parametrize("attack", ATTACKS)
async def test_query_syntax_in_a_question_is_just_words(
    knowledge: KnowledgeStore, attack: str
) -> None:
    await knowledge.replace_source(GUILD, "Refund policy", "file", doc("Refunds take 30 days."))
    await knowledge.replace_source(OTHER_GUILD, "Other", "file", doc("Refunds for others."))
    expected = ["Refund policy"] if "refund" in attack.lower() else []
    assert await titles_found(knowledge, GUILD, attack) == expected


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
async def test_any_question_returns_only_the_guilds_passages(
    roomy: KnowledgeStore, question: str
) -> None:
    """Any text, NUL and lone surrogates included, is stored, titled and searched."""
    guild, theirs = next(fresh_guilds), next(fresh_guilds)
    await roomy.replace_source(guild, f"Mine {question[:150]}", "file", doc(f"{question} refunds"))
    await roomy.replace_source(theirs, "Theirs", "file", doc(f"{question} refunds"))
    found = await roomy.search(guild, f"{question} refunds", 3)
    assert [p.source for p in found] == await roomy.source_titles(guild, "Mine")
    assert len(found) == 1


async def test_an_unreachable_database_is_reported(
    backend: Backend, storage: Storage, knowledge: KnowledgeStore
) -> None:
    async with backend.outage(storage):
        with pytest.raises(StorageUnavailable, match="searching knowledge"):
            await knowledge.search(GUILD, "refunds", LIMIT)
        with pytest.raises(StorageUnavailable, match="indexing Refund policy"):
            await knowledge.replace_source(GUILD, "Refund policy", "file", doc("Text."))
