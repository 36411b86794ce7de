"""The admin commands through the real app-command tree and the Discord stand-in, on both
database backends: who may change what, the one-line announcement, and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypothesis import given
from hypothesis import strategies as st

from bot.storage import Storage
from cogs.assistant import NOT_ADMIN, NOT_SAVED, model_choices, preview
from tests.bot_harness import Stands, running_bot
from tests.helpers import pings_nobody, with_values
from tests.standins.discord_server import GENERAL_CHANNEL
from tests.standins.discord_world import (
    ALICE_ID,
    BOB,
    BOB_ID,
    BOT_ROLE_A,
    GUILD_A,
    THREAD,
)
from tests.storage.conftest import MODELS, Backend

EPHEMERAL = 1 << 6


@asynccontextmanager
async def assistant_bot(
    stands: Stands, backend: Backend, **config: object
) -> AsyncIterator[Storage]:
    """The real bot on ``backend``'s database; yields the storage it uses."""
    async with running_bot(stands, storage=with_values(backend.config, **config)) as bot:
        yield bot.storage


async def answer(stands: Stands, name: str, options: dict | None = None, **where) -> dict:
    interaction = await stands.discord.slash_command(name, options, **where)
    return (await interaction.wait_for_callback())["data"]


async def test_an_admin_sets_a_persona_the_channel_hears_it_and_a_thread_inherits_it(
    stands: Stands, backend: Backend, storage: Storage
) -> None:
    async with assistant_bot(stands, backend):
        persona = "You are Ada, the Alpha Guild support assistant.\nAnswer briefly."
        said = await answer(stands, "persona set", {"text": persona})
        assert not said.get("flags", 0) & EPHEMERAL
        assert said["content"].startswith(f"<@{ALICE_ID}> set this channel's persona")
        assert "Answer briefly" in said["content"]
        assert "\n" not in said["content"]
        assert pings_nobody(said.get("allowed_mentions"))

        shown = await answer(stands, "persona show", channel_id=THREAD)
        assert shown["flags"] & EPHEMERAL
        assert persona in shown["content"]
        assert "parent channel" in shown["content"]

        cleared = await answer(stands, "persona clear")
        assert "cleared" in cleared["content"]
    assert (await storage.settings_for(GUILD_A, THREAD, GENERAL_CHANNEL)).persona is None
    changes = await storage.recent_changes(GUILD_A)
    assert [(c.setting, c.new, c.user_id) for c in changes] == [
        ("persona", None, ALICE_ID), ("persona", persona.strip(), ALICE_ID)
    ]


async def test_a_member_without_manage_server_is_refused_unless_given_the_admin_role(
    stands: Stands, backend: Backend
) -> None:
    async with assistant_bot(stands, backend, admin_role=str(BOT_ROLE_A)) as storage:
        refused = await answer(stands, "persona set", {"text": "Pirate mode"}, user=BOB)
        assert refused["flags"] & EPHEMERAL
        assert refused["content"] == NOT_ADMIN.format(role=f" or the {BOT_ROLE_A} role")
        assert (await storage.settings_for(GUILD_A, GENERAL_CHANNEL)).persona is None

        stands.discord.world.guilds[GUILD_A].members[BOB_ID]["roles"].append(str(BOT_ROLE_A))
        allowed = await answer(stands, "persona set", {"text": "Pirate mode"}, user=BOB)
        assert allowed["content"].startswith(f"<@{BOB_ID}> set this channel's persona")
        assert (await storage.settings_for(GUILD_A, GENERAL_CHANNEL)).persona == "Pirate mode"


async def test_only_allowed_models_can_be_chosen_per_channel_or_server(
    stands: Stands, backend: Backend, storage: Storage
) -> None:
    async with assistant_bot(stands, backend):
        refused = await answer(stands, "model set", {"name": "gpt-9-ultra"})
        assert refused["flags"] & EPHEMERAL
        assert "gpt-9-ultra" in refused["content"]
        server = await answer(stands, "model set", {"name": MODELS[1], "scope": "server"})
        assert server["content"] == f"<@{ALICE_ID}> set the model for this server to `{MODELS[1]}`."
        shown = await answer(stands, "model show", channel_id=THREAD)
        assert f"`{MODELS[1]}`" in shown["content"]
        assert "server" in shown["content"]
    assert (await storage.settings_for(GUILD_A, THREAD, GENERAL_CHANNEL)).model == MODELS[1]


async def test_budget_set_is_announced_and_show_tells_a_person_their_use(
    stands: Stands, backend: Backend, storage: Storage
) -> None:
    await storage.charge(GUILD_A, ALICE_ID, tokens=321)
    async with assistant_bot(stands, backend):
        said = await answer(stands, "budget set", {"tokens": 50_000, "messages": 0})
        assert said["content"] == (
            f"<@{ALICE_ID}> set the daily budget per person to 50000 tokens, unlimited "
            "messages per day."
        )
        shown = await answer(stands, "budget show")
        assert shown["flags"] & EPHEMERAL
        assert "50000 tokens" in shown["content"]
        assert "321 tokens, 1 replies" in shown["content"]
        reset = int(storage.reset_time().timestamp())
        assert f"<t:{reset}:R>" in shown["content"]


async def test_with_the_database_down_a_change_is_refused_and_show_gives_defaults(
    stands: Stands, backend: Backend
) -> None:
    async with (
        assistant_bot(stands, backend, timeout=0.5) as storage,
        backend.outage(storage),
    ):
        refused = await answer(stands, "persona set", {"text": "Lost"})
        assert refused["flags"] & EPHEMERAL
        assert refused["content"] == NOT_SAVED
        shown = await answer(stands, "model show")
        assert f"`{MODELS[0]}`" in shown["content"]


@given(st.lists(st.text(min_size=1, max_size=30), unique=True, max_size=40).map(tuple),
       st.text(max_size=10))
def test_autocomplete_offers_matching_allowed_models_within_discords_25(allowlist, typed) -> None:
    offered = model_choices(allowlist or ("gpt-4o-mini",), typed)
    assert len(offered) <= 25
    assert set(offered) <= set(allowlist or ("gpt-4o-mini",))
    assert all(typed.strip().lower() in name.lower() for name in offered)


@given(st.text(max_size=3000))
def test_the_announced_persona_is_one_short_line(text: str) -> None:
    line = preview(text)
    flat = " ".join(text.split())
    assert "\n" not in line
    assert len(line) <= 120
    assert line == flat if len(flat) <= 120 else line == flat[:119] + "…"
