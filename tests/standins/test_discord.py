"""The Discord stand-in is close enough to Discord for an unmodified discord.py bot.

Each test runs its own stand-in and its own minimal bot (defined here, not the project's
bot), through the real discord.py HTTP client and gateway websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.helpers import until
from tests.standins.discord_server import (
    ALICE,
    BETA_CHANNEL,
    BOB,
    BOT_ID,
    DM_CAROL,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
    DiscordStandIn,
    fast_startup,
)
from tests.standins.discord_world import CREATE_PUBLIC_THREADS

NO_PINGS = {"parse": []}


class PingBot(commands.Bot):
    """Answers "pong" to every message that mentions it; remembers what it saw."""

    def __init__(self, *, message_content: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, **options)
        self.seen: list[discord.Message] = []
        self.reactions: list[discord.RawReactionActionEvent] = []

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)
        if self.user is None or message.author.id == self.user.id:
            return
        if self.user in message.mentions:
            await message.reply("pong", allowed_mentions=discord.AllowedMentions.none())

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.reactions.append(payload)


@contextlib.asynccontextmanager
async def running(
    standin: DiscordStandIn, bot: commands.Bot, token: str | None = None
) -> AsyncIterator[commands.Bot]:
    """Starts ``bot`` against the stand-in, waits for on_ready, closes it afterwards."""
    fast_startup(bot)
    with standin.redirect():
        runner = asyncio.create_task(bot.start(token or standin.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            await asyncio.wait({runner, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                runner.result()  # raises what made the bot stop
            assert ready.done(), "the bot did not become ready"
            yield bot
        finally:
            ready.cancel()
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


def text_channel(bot: commands.Bot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_bot_logs_in_and_replies_to_a_mention(discord_standin: DiscordStandIn) -> None:
    async with running(discord_standin, PingBot()) as bot:
        assert bot.user is not None and bot.user.id == BOT_ID
        assert {g.name for g in bot.guilds} == {"Alpha Guild", "Beta Guild"}
        [identify] = discord_standin.identify_payloads
        assert identify["token"] == discord_standin.token
        assert identify["intents"] & discord.Intents.message_content.flag

        sent = await discord_standin.send_message(GENERAL_CHANNEL, "ping", mention_bot=True)
        [reply] = await discord_standin.wait_for_messages(1, channel_id=GENERAL_CHANNEL)

        request = await discord_standin.wait_for(
            lambda r: r.method == "POST" and r.path == f"/channels/{GENERAL_CHANNEL}/messages"
        )
        assert request.json["content"] == "pong"
        assert request.json["message_reference"]["message_id"] == int(sent["id"])
        assert request.json["allowed_mentions"] == NO_PINGS
        assert request.headers["Authorization"] == f"Bot {discord_standin.token}"
        assert reply["type"] == 19 and reply["author"]["id"] == str(BOT_ID)
        assert reply["mentions"] == []  # replied_user false: ALICE is not pinged
        assert [m["content"] for m in discord_standin.messages_in(GENERAL_CHANNEL)] == [
            f"<@{BOT_ID}> ping", "pong",
        ]
        # Discord echoes the bot's own message back on the gateway.
        echo = await until(lambda: next((m for m in bot.seen if m.author == bot.user), None),
                           "the bot to see its own echo")
        assert echo.reference is not None and echo.reference.message_id == int(sent["id"])
        assert bot.seen[0].author.id == int(ALICE["id"])
        assert isinstance(bot.seen[0].author, discord.Member)


async def test_content_over_2000_characters_is_rejected(discord_standin: DiscordStandIn) -> None:
    async with running(discord_standin, PingBot()) as bot:
        channel = text_channel(bot, GENERAL_CHANNEL)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x" * 2001)
        assert caught.value.status == 400
        assert caught.value.code == 50035
        assert "Must be 2000 or fewer in length." in caught.value.text
        message = await channel.send("x" * 2000)
        assert len(message.content) == 2000
        assert len(discord_standin.sent_messages()) == 1


async def test_a_late_interaction_callback_is_an_unknown_interaction() -> None:
    outcome: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    bot = PingBot()

    @bot.tree.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.4)  # the lateness under test: past the 0.2 s deadline
        try:
            await interaction.response.send_message("finally")
        except discord.NotFound as error:
            outcome.set_result(error.code)
        else:
            outcome.set_result(0)

    async with DiscordStandIn(interaction_deadline=0.2) as standin, running(standin, bot):
        interaction = await standin.slash_command("slow")
        assert await asyncio.wait_for(outcome, 5) == 10062
        request = await standin.wait_for(lambda r: r.path.endswith("/callback"))
        assert request.status == 404
        assert request.response == {"message": "Unknown interaction", "code": 10062}
        assert interaction.callbacks == []
        assert standin.sent_messages() == []


async def test_message_content_is_blank_without_the_intent() -> None:
    """Not requested in IDENTIFY. (Requested but not granted in the portal, Discord closes
    the gateway with 4014 instead: the next test.)"""
    async with (
        DiscordStandIn() as standin,
        running(standin, PingBot(message_content=False)) as bot,
    ):
        plain = await standin.send_message(GENERAL_CHANNEL, "secret plans", author=BOB)
        assert plain["content"] == ""
        await standin.send_message(GENERAL_CHANNEL, "hello bot", mention_bot=True)
        await standin.send_message(DM_CAROL, "a private word")
        seen = await until(lambda: bot.seen if len(bot.seen) >= 3 else None, "three messages")
        assert [m.content for m in seen[:3]] == ["", f"<@{BOT_ID}> hello bot", "a private word"]
        assert isinstance(seen[2].channel, discord.DMChannel)

        history = [m async for m in text_channel(bot, GENERAL_CHANNEL).history(limit=5)]
        contents = [m.content for m in history if m.author.id != BOT_ID]
        assert contents == [f"<@{BOT_ID}> hello bot", ""]
        assert standin.messages_in(GENERAL_CHANNEL)[0]["content"] == "secret plans"


async def test_a_disallowed_intent_closes_the_gateway_with_4014_by_default() -> None:
    bot = PingBot(message_content=True)
    fast_startup(bot)
    standin = DiscordStandIn(message_content_intent_granted=False)
    async with standin, contextlib.AsyncExitStack() as stack:
        stack.enter_context(standin.redirect())
        stack.push_async_callback(bot.close)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(bot.start(standin.token), 5)
        app = await standin.wait_for(lambda r: r.path == "/oauth2/applications/@me")
        assert not app.response["flags"] & (1 << 19)  # GATEWAY_MESSAGE_CONTENT_LIMITED
        assert standin.sessions == []


async def test_a_dropped_connection_resumes_and_delivers_the_gap_once(
    discord_standin: DiscordStandIn,
) -> None:
    async with running(discord_standin, PingBot()) as bot:
        await discord_standin.drop_connection()
        gap = await discord_standin.send_message(GENERAL_CHANNEL, "sent during the gap")
        await until(lambda: discord_standin.resume_count, "a RESUME")
        after = await discord_standin.send_message(GENERAL_CHANNEL, "sent after resuming")
        await until(lambda: any(m.id == int(after["id"]) for m in bot.seen), "the replayed message")

        assert discord_standin.resume_count == 1
        assert discord_standin.connections == 2
        assert discord_standin.gateway.replayed_events == 1
        assert len(discord_standin.identify_payloads) == 1
        assert [m.id for m in bot.seen] == [int(gap["id"]), int(after["id"])]


async def test_a_synced_slash_command_gets_typed_options_and_answers_by_followup(
    discord_standin: DiscordStandIn,
) -> None:
    bot = PingBot()

    @bot.tree.command(name="repeat", description="Repeats a text")
    @app_commands.describe(text="what to repeat", times="how often")
    async def repeat(interaction: discord.Interaction, text: str, times: int) -> None:
        await interaction.response.defer(thinking=True)
        message = await interaction.followup.send(text * times, wait=True)
        await message.edit(content=f"{text * times}!")

    async with running(discord_standin, bot):
        synced = await bot.tree.sync()
        [command] = discord_standin.application_commands()
        assert [c.id for c in synced] == [int(command["id"])]
        assert [(o["name"], o["type"]) for o in command["options"]] == [("text", 3), ("times", 4)]

        interaction = await discord_standin.slash_command("repeat", {"text": "hi", "times": 3})
        assert interaction.payload["data"]["id"] == command["id"]
        assert interaction.payload["data"]["options"] == [
            {"name": "text", "type": 3, "value": "hi"},
            {"name": "times", "type": 4, "value": 3},
        ]
        callback = await interaction.wait_for_callback()
        assert callback == {"type": 5}
        [followup] = await interaction.wait_for_followup()
        assert followup["content"] == "hihihi"
        await until(lambda: interaction.edits, "the edit")

        [message] = discord_standin.sent_messages(GENERAL_CHANNEL)
        assert message["id"] == str(interaction.original_message_id)  # the "thinking" message
        assert message["content"] == "hihihi!"
        assert message["interaction_metadata"]["name"] == "repeat"
        assert message["webhook_id"] == str(BOT_ID)


async def test_a_wrong_token_fails_login(discord_standin: DiscordStandIn) -> None:
    bot = PingBot()
    with discord_standin.redirect():
        with pytest.raises(discord.LoginFailure):
            await bot.login("not-the-token")
        await bot.close()
    [request] = discord_standin.requests
    assert (request.method, request.path, request.status) == ("GET", "/users/@me", 401)
    assert request.response == {"message": "401: Unauthorized", "code": 0}


async def test_an_auto_sharded_bot_gets_each_guild_on_its_shard(
    discord_standin: DiscordStandIn,
) -> None:
    intents = discord.Intents.default()
    bot = commands.AutoShardedBot(command_prefix="!", intents=intents, shard_count=2)
    seen: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    bot.add_listener(on_message)
    async with running(discord_standin, bot):
        assert sorted(p["shard"] for p in discord_standin.identify_payloads) == [[0, 2], [1, 2]]
        shard_of = {g.id: g.shard_id for g in bot.guilds}
        assert shard_of == {GUILD_A: 0, GUILD_B: 1}
        sessions = {s.shard_id: s for s in discord_standin.sessions}
        assert sessions[0].guild_ids == [GUILD_A]
        assert sessions[1].guild_ids == [GUILD_B]

        await discord_standin.send_message(BETA_CHANNEL, "over on beta")
        message = await until(lambda: seen[0] if seen else None, "the message")
        assert message.guild is not None and message.guild.shard_id == 1
        assert [e["t"] for e in sessions[1].dispatched][-1] == "MESSAGE_CREATE"
        assert "MESSAGE_CREATE" not in [e["t"] for e in sessions[0].dispatched]


async def test_history_comes_newest_first(discord_standin: DiscordStandIn) -> None:
    async with running(discord_standin, PingBot()) as bot:
        one = await discord_standin.send_message(GENERAL_CHANNEL, "one")
        two = await discord_standin.send_message(GENERAL_CHANNEL, "two", author=BOB)
        await discord_standin.send_message(GENERAL_CHANNEL, "three", reply_to=int(one["id"]))
        channel = text_channel(bot, GENERAL_CHANNEL)

        history = [m async for m in channel.history(limit=10)]
        assert [m.content for m in history] == ["three", "two", "one"]
        assert history[0].reference is not None
        assert isinstance(history[0].reference.resolved, discord.Message)
        assert history[0].reference.resolved.content == "one"
        before = [m async for m in channel.history(before=discord.Object(int(two["id"])))]
        assert [m.content for m in before] == ["one"]
        after = [m async for m in channel.history(after=discord.Object(int(one["id"])))]
        assert [m.content for m in after] == ["two", "three"]
        fetched = await channel.fetch_message(int(two["id"]))
        assert fetched.author.id == int(BOB["id"])
        request = discord_standin.requests[-1]
        assert request.path == f"/channels/{GENERAL_CHANNEL}/messages/{two['id']}"


async def test_a_429_makes_discord_py_wait_and_retry(discord_standin: DiscordStandIn) -> None:
    async with running(discord_standin, PingBot()) as bot:
        discord_standin.fail_next(
            "POST", r"/channels/\d+/messages", 429,
            body={"message": "You are being rate limited.", "retry_after": 0.2, "global": False},
            headers={"Retry-After": "0.2", "X-RateLimit-Scope": "user"},
        )
        started = time.monotonic()
        message = await text_channel(bot, GENERAL_CHANNEL).send("patient")
        assert time.monotonic() - started >= 0.2
        assert message.content == "patient"
        posts = [r for r in discord_standin.requests if r.method == "POST"]
        assert [r.status for r in posts] == [429, 200]


async def test_a_denied_channel_is_forbidden(discord_standin: DiscordStandIn) -> None:
    discord_standin.deny_send(GENERAL_CHANNEL)
    async with running(discord_standin, PingBot()) as bot:
        with pytest.raises(discord.Forbidden) as caught:
            await text_channel(bot, GENERAL_CHANNEL).send("hello?")
        assert caught.value.code == 50013
        await text_channel(bot, BETA_CHANNEL).send("fine here")
        assert [m["content"] for m in discord_standin.sent_messages()] == ["fine here"]


async def test_reactions_flow_both_ways(discord_standin: DiscordStandIn) -> None:
    async with running(discord_standin, PingBot()) as bot:
        await discord_standin.send_message(GENERAL_CHANNEL, "hi", mention_bot=True)
        [reply] = await discord_standin.wait_for_messages(1)
        message = await text_channel(bot, GENERAL_CHANNEL).fetch_message(int(reply["id"]))
        await message.add_reaction("👍")
        await discord_standin.add_reaction(GENERAL_CHANNEL, int(reply["id"]), "👎", user=BOB)
        events = await until(lambda: bot.reactions if len(bot.reactions) >= 2 else None,
                             "two reactions")
        assert [(e.user_id, str(e.emoji)) for e in events] == [
            (BOT_ID, "👍"), (int(BOB["id"]), "👎"),
        ]
        assert events[1].member is not None and events[1].message_author_id == BOT_ID
        stored = (await text_channel(bot, GENERAL_CHANNEL).fetch_message(int(reply["id"])))
        assert {(str(r.emoji), r.count, r.me) for r in stored.reactions} == {
            ("👍", 1, True), ("👎", 1, False),
        }


async def test_rest_rules_for_raw_requests(discord_standin: DiscordStandIn) -> None:
    auth = {"Authorization": f"Bot {discord_standin.token}"}
    messages = f"{discord_standin.api_base}/channels/{GENERAL_CHANNEL}/messages"
    async with aiohttp.ClientSession() as http:
        async with http.post(messages, json={"content": "   "}, headers=auth) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 50006
        reference = {"message_id": "1", "channel_id": str(GENERAL_CHANNEL)}
        body = {"content": "re", "message_reference": reference}
        async with http.post(messages, json=body, headers=auth) as response:
            assert response.status == 400
            assert "message_reference" in (await response.json())["errors"]
        body["message_reference"] = {**reference, "fail_if_not_exists": False}
        async with http.post(messages, json=body, headers=auth) as response:
            assert response.status == 200
            assert "message_reference" not in await response.json()
        async with http.get(messages, headers={"Authorization": "Bot nope"}) as response:
            assert response.status == 401

        interaction = await discord_standin.slash_command("anything", {"q": "x"})
        callback = (
            f"{discord_standin.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
        )
        answer = {"type": 4, "data": {"content": "first"}}
        async with http.post(callback, json=answer) as response:
            assert response.status == 204
        async with http.post(callback, json=answer) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 40060
    assert [m["content"] for m in discord_standin.sent_messages()] == ["re", "first"]


async def test_subprocess_env_redirects_a_child_process(discord_standin: DiscordStandIn) -> None:
    script = (
        "import discord\n"
        "client = discord.Client(intents=discord.Intents.default())\n"
        "@client.event\n"
        "async def on_ready():\n"
        "    print(sorted(g.name for g in client.guilds), flush=True)\n"
        "    await client.close()\n"
        f"client.run({discord_standin.token!r}, log_handler=None)\n"
    )
    env = {**os.environ, **discord_standin.subprocess_env()}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), 20)
    assert child.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "['Alpha Guild', 'Beta Guild']"
    assert len(discord_standin.identify_payloads) == 1
    await until(lambda: not discord_standin.sessions[0].live, "the session to end")


async def test_rate_limits_per_channel_bucket_and_global() -> None:
    async with DiscordStandIn(rate_limits=True) as standin, aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bot {standin.token}"}

        async def post(channel_id: int) -> aiohttp.ClientResponse:
            url = f"{standin.api_base}/channels/{channel_id}/messages"
            async with http.post(url, json={"content": "x"}, headers=auth) as response:
                await response.read()
                return response

        remaining = [(await post(GENERAL_CHANNEL)).headers["X-RateLimit-Remaining"]
                     for _ in range(5)]
        assert remaining == ["4", "3", "2", "1", "0"]
        over = await post(GENERAL_CHANNEL)
        assert over.status == 429
        assert over.headers["X-RateLimit-Scope"] == "user"
        assert 0 < float(over.headers["Retry-After"]) <= 5
        assert (await post(BETA_CHANNEL)).status == 200  # another channel, another bucket

        statuses = []
        for _ in range(50):
            async with http.get(f"{standin.api_base}/users/@me", headers=auth) as response:
                statuses.append(response.status)
                body = await response.json()
        assert statuses.count(429) >= 1
        assert body["global"] is True
        assert len(standin.rate_limits.rejected) == 1 + statuses.count(429)


async def test_rate_limits_are_on_by_default_for_edits_deletes_and_reactions(
    discord_standin: DiscordStandIn,
) -> None:
    base = f"{discord_standin.api_base}/channels/{GENERAL_CHANNEL}/messages"
    auth = {"Authorization": f"Bot {discord_standin.token}"}
    async with aiohttp.ClientSession(headers=auth) as http:

        async def call(method: str, url: str, **json: object) -> aiohttp.ClientResponse:
            async with http.request(method, url, json=json or None) as response:
                await response.read()
                return response

        created = await call("POST", base, content="x")
        message = f"{base}/{(await created.json())['id']}"
        edits = [(await call("PATCH", message, content=f"edit {n}")).status for n in range(6)]
        assert edits == [200] * 5 + [429]  # 5 per 5 s per channel
        reaction = f"{message}/reactions/%F0%9F%91%8D/@me"
        first, second = await call("PUT", reaction), await call("PUT", reaction)
        assert (first.status, second.status) == (204, 429)  # 1 per 0.25 s per channel
        # The headers advertise 1 per 1 s (discord-api-docs#182): following them is safe.
        assert first.headers["X-RateLimit-Limit"] == "1"
        assert 0.25 < float(first.headers["X-RateLimit-Reset-After"]) <= 1.0
        deleted = await call("DELETE", message)
        assert deleted.status == 204
        assert deleted.headers["X-RateLimit-Limit"] == "5"
        assert float(deleted.headers["X-RateLimit-Reset-After"]) <= 1.0


async def _frames_until(
    ws: aiohttp.ClientWebSocketResponse, stop: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Frames read from ``ws`` up to the one ``stop`` accepts, or until it closes."""
    frames: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(ws.receive(), 5)
        if message.type is not aiohttp.WSMsgType.TEXT:
            return frames
        frames.append(message.json())
        if stop(frames[-1]):
            return frames


async def test_a_consumer_that_falls_behind_is_cut_off_and_resumes_the_gap() -> None:
    intents = (1 << 0) | (1 << 9) | (1 << 15)  # GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT
    async with DiscordStandIn(outbound_limit=20) as standin, aiohttp.ClientSession() as http:
        slow = await http.ws_connect(standin.gateway_url, max_msg_size=0)
        await _frames_until(slow, lambda f: f["op"] == 10)
        await slow.send_json({"op": 2, "d": {"token": standin.token, "intents": intents,
                                             "properties": {}}})
        await standin.wait_until_ready()
        session = standin.sessions[0]
        # The client reads nothing more. Dispatching never waits on its socket, so this loop
        # ends, by cutting it off, once the socket's buffers and then the queue are full.
        sent = 0
        while not standin.gateway.cut_offs and sent < 20_000:
            await standin.send_message(GENERAL_CHANNEL, "x" * 1900, author=BOB)
            await asyncio.sleep(0)  # events arrive over time: the writer gets its turns
            sent += 1
        assert standin.gateway.cut_offs == 1
        assert session.live is False and session.finished is False
        # A REST call whose effect is dispatched is answered meanwhile too.
        async with http.post(f"{standin.api_base}/channels/{GENERAL_CHANNEL}/messages",
                             json={"content": "from REST"},
                             headers={"Authorization": f"Bot {standin.token}"}) as response:
            assert response.status == 200

        read = await _frames_until(slow, lambda f: False)  # what got through, then closed
        last_seq = max(f["s"] for f in read if f.get("s"))
        assert last_seq < session.seq
        fresh = await http.ws_connect(standin.gateway_url, max_msg_size=0)
        await _frames_until(fresh, lambda f: f["op"] == 10)
        await fresh.send_json({"op": 6, "d": {"token": standin.token,
                                              "session_id": session.session_id,
                                              "seq": last_seq}})
        replayed = await _frames_until(fresh, lambda f: f.get("t") == "RESUMED")
        await slow.close()
        await fresh.close()
    assert [f["s"] for f in replayed] == list(range(last_seq + 1, session.seq + 1))
    contents = [f["d"]["content"] for f in replayed if f.get("t") == "MESSAGE_CREATE"]
    assert contents[-1] == "from REST"
    assert standin.resume_count == 1


async def test_threads_from_messages_follow_discords_rules(
    discord_standin: DiscordStandIn,
) -> None:
    """Channels resource, "Start Thread from Message", and the Threads topic."""
    async with running(discord_standin, PingBot()) as bot:
        channel = text_channel(bot, GENERAL_CHANNEL)
        sent = await discord_standin.send_message(GENERAL_CHANNEL, "start here")
        message = await channel.fetch_message(int(sent["id"]))
        for name, minutes in (("x" * 101, 60), ("fine", 30)):
            with pytest.raises(discord.HTTPException) as bad:
                await message.create_thread(
                    name=name, auto_archive_duration=minutes  # type: ignore[arg-type]
                )
            assert (bad.value.status, bad.value.code) == (400, 50035)

        thread = await message.create_thread(name="start here", auto_archive_duration=60)
        assert thread.id == message.id and thread.owner_id == BOT_ID
        assert thread.parent_id == GENERAL_CHANNEL and thread.auto_archive_duration == 60
        await until(lambda: bot.get_channel(thread.id), "THREAD_CREATE in the cache")
        with pytest.raises(discord.HTTPException) as again:
            await message.create_thread(name="twice")
        assert (again.value.status, again.value.code) == (400, 160004)
        with pytest.raises(discord.HTTPException) as across:
            await thread.send("answer", reference=message)
        assert (across.value.status, across.value.code) == (400, 50035)
        assert "different channel" in across.value.text

        await discord_standin.archive_thread(thread.id)
        await until(lambda: bot.get_channel(thread.id) is None, "the archived thread dropped")
        await discord_standin.send_message(thread.id, "still there?")
        await until(lambda: bot.get_channel(thread.id), "THREAD_UPDATE unarchiving it")
        await discord_standin.archive_thread(thread.id, locked=True)
        with pytest.raises(discord.HTTPException) as locked:
            await thread.send("no")
        assert (locked.value.status, locked.value.code) == (400, 50083)

        other = await channel.fetch_message(
            int((await discord_standin.send_message(GENERAL_CHANNEL, "no rights"))["id"])
        )
        await discord_standin.deny_bot(GENERAL_CHANNEL, CREATE_PUBLIC_THREADS)
        with pytest.raises(discord.Forbidden) as denied:
            await other.create_thread(name="no rights")
        assert denied.value.code == 50013
        await until(lambda: not channel.permissions_for(channel.guild.me).create_public_threads,
                    "CHANNEL_UPDATE with the overwrite")
