"""``python -m bot`` as Heroku runs it: a subprocess, configured only by its environment."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from tests.bot_harness import Stands, process_env
from tests.standins.discord_server import GENERAL_CHANNEL, DiscordStandIn
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn

ROOT = Path(__file__).resolve().parents[2]


def deployment(tmp_path: Path, product_id: str = "prod-standin") -> Path:
    """A copy of the app with its own committed products.toml, like a team's deploy."""
    for package in ("bot", "cogs"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    products = tmp_path / "bot" / "config" / "products.toml"
    products.write_text(f'default_product_id = "{product_id}"\n')
    return tmp_path


async def start_bot(cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_missing_token_exits_2_naming_the_variable(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "OPENAI_API_KEY": "x",
           "OPENAI_MAX_TOKENS": "many"}
    process = await start_bot(deployment(tmp_path), env)
    _, stderr = await process.communicate()
    assert process.returncode == 2
    line = stderr.decode().strip()
    assert "\n" not in line
    assert "DISCORD_TOKEN is missing" in line
    assert "OPENAI_MAX_TOKENS must be a whole number" in line
    assert "set them in .env (copy .env.example to .env" in line
    assert "Heroku, as config vars" in line


async def test_a_key_appended_below_the_guild_table_is_explained(tmp_path: Path) -> None:
    app = deployment(tmp_path)
    products = app / "bot" / "config" / "products.toml"
    products.write_text(
        '[guild_products]\n"111111111111111111" = "prod-a"\ndefault_product_id = "prod-b"\n'
    )
    env = {"PATH": os.environ.get("PATH", ""), "DISCORD_TOKEN": "t" * 20, "OPENAI_API_KEY": "x"}
    process = await start_bot(app, env)
    _, stderr = await process.communicate()
    line = stderr.decode().strip()
    assert process.returncode == 2
    assert "\n" not in line
    assert line.count("products.toml") == 1
    assert (
        "bot/config/products.toml: default_product_id is inside the [guild_products] table"
        in line
    )
    assert "move it above the [guild_products] table" in line


async def test_answers_then_exits_0_on_sigterm_with_logging_delivered(
    stands: Stands, tmp_path: Path
) -> None:
    stands.openai.latency = 1.0
    stands.greenflash.latency = 1.0
    process = await start_bot(deployment(tmp_path), process_env(stands))
    try:
        await stands.discord.wait_until_ready(timeout=20)
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "quick one", mention_bot=True)
        await stands.openai.wait_for_requests(1, timeout=10)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
    log = stderr.decode()
    assert process.returncode == 0, log
    (reply,) = stands.discord.sent_messages(GENERAL_CHANNEL)
    assert reply["message_reference"]["message_id"] == sent["id"]
    logged = {(r.json["messages"][0]["role"], r.json["messages"][0]["externalMessageId"])
              for r in stands.greenflash.accepted_for("/messages")}
    assert logged == {("user", sent["id"]), ("assistant", reply["id"])}
    for secret in (stands.discord.token, "sk-subprocess-openai", "gf-subprocess-key"):
        assert secret not in log
    assert "shutdown requested" in log
    assert "PyNaCl" not in log
    assert "davey" not in log


@pytest.mark.parametrize("outbox", ["on", "off"])
async def test_sigterm_with_greenflash_down_reports_the_undelivered_count(
    stands: Stands, tmp_path: Path, outbox: str
) -> None:
    """With the outbox the calls wait in the database for the next start; without it
    (``GREENFLASH_OUTBOX=off``) they are lost, and counted. The question, the answer, Alice
    and her guild: four calls."""
    await stands.greenflash.down()
    process = await start_bot(
        deployment(tmp_path),
        process_env(stands, GREENFLASH_DRAIN_SECONDS="2", GREENFLASH_MAX_RETRIES="20",
                    GREENFLASH_OUTBOX=outbox, DATABASE_PATH=str(tmp_path / "bot.sqlite3")),
    )
    try:
        await stands.discord.wait_until_ready(timeout=20)
        await stands.discord.send_message(GENERAL_CHANNEL, "hello", mention_bot=True)
        await stands.discord.wait_for_messages(1, timeout=10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        elapsed = loop.time() - started
    finally:
        if process.returncode is None:
            process.kill()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert elapsed < 10
    if outbox == "on":
        assert "4 call(s) wait in the outbox for the next start" in log
    else:
        assert "greenflash: 4 call(s) not sent before shutdown" in log
    assert "Task exception was never retrieved" not in log


async def test_message_content_not_granted_exits_2_with_the_fix(
    openai_standin: OpenAIStandIn, greenflash_standin: GreenflashStandIn, tmp_path: Path
) -> None:
    """Discord closes the gateway with 4014 (the stand-in does by default) when the bot
    asks for the Message Content intent and the portal does not grant it."""
    async with DiscordStandIn(message_content_intent_granted=False) as discord:
        stands = Stands(discord, openai_standin, greenflash_standin)
        process = await start_bot(deployment(tmp_path), process_env(stands))
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
    assert process.returncode == 2
    assert "MESSAGE_CONTENT_INTENT=false" in stderr.decode()
    assert discord.identify_payloads, "the bot did reach the gateway"
