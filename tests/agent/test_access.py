""""Can this person read that": discord.py's permission resolution checked against an
independent reading of Discord's documented algorithm, the asker-and-bot rule as a
property, and the whole decision end to end on objects the Discord stand-in delivers."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest_asyncio
from discord.state import ConnectionState
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.agent.access import (
    ALLOWED,
    ONLY_THIS_DM,
    OTHER_SERVER,
    Allowed,
    Refused,
    can_read,
    link_in_scope,
)
from bot.agent.references import MessageLink
from tests.helpers import until
from tests.standins.discord_server import DiscordStandIn
from tests.standins.discord_world import (
    ALICE,
    ALICE_ID,
    BETA_CHANNEL,
    BOB,
    BOT_ID,
    DAVE,
    DM_BOB,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
    PRIVATE_THREAD,
    STAFF_CHANNEL,
    THREAD,
    World,
)
from tests.standins.test_discord import running

ADMINISTRATOR, VIEW, SEND, HISTORY = 1 << 3, 1 << 10, 1 << 11, 1 << 16
BITS = st.sampled_from([0, ADMINISTRATOR, VIEW, SEND, HISTORY])
masks = st.lists(BITS, max_size=3).map(sum)
ROLE_IDS = [900_000_000_000_000_001 + n for n in range(4)]
ASKER_ID, OVERWRITE_KINDS = 800_000_000_000_000_001, (0, 1)


def reference(
    guild: dict[str, Any], channel: dict[str, Any], user_id: int, role_ids: list[str]
) -> tuple[bool, bool]:
    """(view, read history), computed as Discord's developer docs write it (Permissions,
    "Permission Overwrites" pseudo-code: base, administrator, @everyone overwrite, role
    overwrites together, member overwrite; "Implicit Permissions": no view, no history)."""
    if int(guild["owner_id"]) == user_id:
        return True, True
    roles = {role["id"]: int(role["permissions"]) for role in guild["roles"]}
    permissions = roles[guild["id"]]
    for role_id in role_ids:
        permissions |= roles[role_id]
    if permissions & ADMINISTRATOR:
        return True, True
    overwrites = {o["id"]: (int(o["allow"]), int(o["deny"])) for o in
                  channel["permission_overwrites"]}
    if guild["id"] in overwrites:
        allow, deny = overwrites[guild["id"]]
        permissions = (permissions & ~deny) | allow
    allow = deny = 0
    for role_id in role_ids:
        role_allow, role_deny = overwrites.get(role_id, (0, 0))
        allow, deny = allow | role_allow, deny | role_deny
    permissions = (permissions & ~deny) | allow
    allow, deny = overwrites.get(str(user_id), (0, 0))
    permissions = (permissions & ~deny) | allow
    view = bool(permissions & VIEW)
    return view, view and bool(permissions & HISTORY)


@st.composite
def guild_setups(draw: st.DrawFn) -> tuple[dict[str, Any], list[str], list[str]]:
    """GUILD_A as the stand-in seeds it, with generated role permissions, overwrites on
    #general, and the roles of an asker and of the bot."""
    guild = World().guild_create(GUILD_A)
    everyone = guild["roles"][0]
    everyone["permissions"] = str(draw(masks))
    guild["roles"] = [everyone, *(
        {**everyone, "id": str(role_id), "name": f"r{n}", "position": n + 1,
         "permissions": str(draw(masks))}
        for n, role_id in enumerate(ROLE_IDS)
    )]
    role_ids = [str(r) for r in ROLE_IDS]
    targets = [(str(GUILD_A), 0), *((r, 0) for r in role_ids), (str(ASKER_ID), 1),
               (str(BOT_ID), 1)]
    chosen = draw(st.lists(st.sampled_from(targets), unique=True))
    general = next(c for c in guild["channels"] if c["id"] == str(GENERAL_CHANNEL))
    general["permission_overwrites"] = [
        {"id": target, "type": kind, "allow": str(draw(masks)), "deny": str(draw(masks))}
        for target, kind in chosen
    ]
    if draw(st.booleans()):
        guild["owner_id"] = str(draw(st.sampled_from([ASKER_ID, BOT_ID])))
    asker_roles = draw(st.lists(st.sampled_from(role_ids), unique=True))
    bot_roles = draw(st.lists(st.sampled_from(role_ids), unique=True))
    bot = next(m for m in guild["members"] if m["user"]["id"] == str(BOT_ID))
    bot["roles"] = bot_roles
    return guild, asker_roles, bot_roles


def discord_objects(
    guild_data: dict[str, Any], asker_roles: list[str]
) -> tuple[discord.Guild, discord.Member]:
    """A real ``discord.Guild`` from the payload, and the asker as a message's author."""
    state = ConnectionState(dispatch=lambda *_: None, handlers={}, hooks={}, http=None,  # type: ignore[arg-type]
                            intents=discord.Intents.default())
    state.user = discord.ClientUser(state=state, data=World().bot_self)  # type: ignore[arg-type]
    guild = discord.Guild(data=copy.deepcopy(guild_data), state=state)  # type: ignore[arg-type]
    bob = next(m for m in guild_data["members"] if m["user"]["id"] == str(BOB["id"]))
    member = {**bob, "user": {**BOB, "id": str(ASKER_ID)}, "roles": asker_roles}
    return guild, discord.Member(data=member, guild=guild, state=state)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(guild_setups())
def test_discord_py_resolves_view_and_history_as_discord_documents(
    setup: tuple[dict[str, Any], list[str], list[str]],
) -> None:
    guild_data, asker_roles, bot_roles = setup
    guild, asker = discord_objects(guild_data, asker_roles)
    general = guild_data["channels"][0]
    for member, roles in ((asker, asker_roles), (guild.me, bot_roles)):
        expected = reference(guild_data, general, member.id, roles)
        for place in (guild.get_channel(GENERAL_CHANNEL), guild.get_thread(THREAD)):
            assert place is not None
            got = place.permissions_for(member)
            assert (got.view_channel, got.read_message_history) == expected


@settings(max_examples=300)
@given(guild_setups())
def test_neither_the_asker_nor_the_bot_gains_access_through_the_other(
    setup: tuple[dict[str, Any], list[str], list[str]],
) -> None:
    guild_data, asker_roles, bot_roles = setup
    guild, asker = discord_objects(guild_data, asker_roles)
    general = guild_data["channels"][0]
    asker_reads = all(reference(guild_data, general, ASKER_ID, asker_roles))
    bot_reads = all(reference(guild_data, general, BOT_ID, bot_roles))
    channel = guild.get_channel(GENERAL_CHANNEL)
    assert channel is not None
    decision = asyncio.run(can_read(asker, channel, asked_in=channel))
    assert isinstance(decision, Allowed) == (asker_reads and bot_reads)
    if not asker_reads:
        assert isinstance(decision, Refused) and decision.reason.startswith("you can't")
    elif not bot_reads:
        assert isinstance(decision, Refused) and decision.reason.startswith("I can't")


class Listener(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default())
        self.seen: list[discord.Message] = []

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)


@pytest_asyncio.fixture
async def world_bot() -> AsyncIterator[tuple[DiscordStandIn, Listener]]:
    async with DiscordStandIn() as standin:
        standin.world.add_private_places()
        async with running(standin, Listener()) as client:
            assert isinstance(client, Listener)
            yield standin, client


async def asked(
    standin: DiscordStandIn, client: Listener, channel_id: int, author: dict[str, Any]
) -> discord.Message:
    """The message ``author`` asks with, as the bot receives it (author a Member in a guild)."""
    sent = await standin.send_message(channel_id, "what did we decide?", author=author)
    return await until(lambda: next((m for m in client.seen if m.id == int(sent["id"])), None),
                       "the question to arrive")


def thread_member_checks(standin: DiscordStandIn) -> list[str]:
    return [r.path for r in standin.requests if "/thread-members/" in r.path]


async def test_a_private_channel_is_read_for_its_role_and_its_owner_only(
    world_bot: tuple[DiscordStandIn, Listener],
) -> None:
    standin, client = world_bot
    staff = client.get_channel(STAFF_CHANNEL)
    assert isinstance(staff, discord.TextChannel)
    for author, expected in ((DAVE, ALLOWED), (ALICE, ALLOWED),
                             (BOB, Refused("you can't see #staff"))):
        question = await asked(standin, client, GENERAL_CHANNEL, author)
        assert await can_read(question.author, staff, asked_in=question.channel) == expected


async def test_a_private_thread_is_read_for_its_members_asked_of_discord(
    world_bot: tuple[DiscordStandIn, Listener],
) -> None:
    standin, client = world_bot
    private, public = client.get_channel(PRIVATE_THREAD), client.get_channel(THREAD)
    assert isinstance(private, discord.Thread) and isinstance(public, discord.Thread)
    alice = await asked(standin, client, GENERAL_CHANNEL, ALICE)
    bob = await asked(standin, client, GENERAL_CHANNEL, BOB)
    assert await can_read(bob.author, public, asked_in=bob.channel) == ALLOWED
    assert thread_member_checks(standin) == []
    assert await can_read(alice.author, private, asked_in=alice.channel) == ALLOWED
    assert await can_read(bob.author, private, asked_in=bob.channel) == Refused(
        "you are not in the private thread #private plans"
    )
    prefix = f"/channels/{PRIVATE_THREAD}/thread-members"
    assert thread_member_checks(standin) == [
        f"{prefix}/{ALICE_ID}", f"{prefix}/{BOT_ID}", f"{prefix}/{bob.author.id}",
    ]


async def test_nothing_crosses_guilds_and_a_dm_reads_only_itself(
    world_bot: tuple[DiscordStandIn, Listener],
) -> None:
    standin, client = world_bot
    beta, general = client.get_channel(BETA_CHANNEL), client.get_channel(GENERAL_CHANNEL)
    assert beta is not None and general is not None
    in_guild = await asked(standin, client, GENERAL_CHANNEL, BOB)
    in_dm = await asked(standin, client, DM_BOB, BOB)
    assert await can_read(in_guild.author, beta, asked_in=in_guild.channel) == OTHER_SERVER
    assert await can_read(in_dm.author, in_dm.channel, asked_in=in_dm.channel) == ALLOWED
    assert await can_read(in_dm.author, general, asked_in=in_dm.channel) == ONLY_THIS_DM
    assert await can_read(in_guild.author, in_dm.channel, asked_in=in_guild.channel) == (
        OTHER_SERVER
    )
    assert link_in_scope(MessageLink(GUILD_A, GENERAL_CHANNEL, 1), in_guild.channel) == ALLOWED
    assert link_in_scope(MessageLink(GUILD_B, BETA_CHANNEL, 1), in_guild.channel) == OTHER_SERVER
    assert link_in_scope(MessageLink(None, DM_BOB, 1), in_dm.channel) == ALLOWED
    assert link_in_scope(MessageLink(None, GENERAL_CHANNEL, 1), in_dm.channel) == ONLY_THIS_DM
    assert link_in_scope(MessageLink(GUILD_A, GENERAL_CHANNEL, 1), in_dm.channel) == ONLY_THIS_DM
