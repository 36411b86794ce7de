"""``python -m bot doctor`` against the stand-ins: every check's PASS and FAIL path."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from unittest import mock

import discord.http
import pytest

from bot.cli.doctor import Check, Status, diagnose
from bot.config.products import ProductConfig
from bot.config.settings import Settings
from tests.bot_harness import Stands, bot_settings, process_env
from tests.cli.test_process import deployment
from tests.helpers import TEST_PRODUCT, greenflash_settings
from tests.standins.discord_server import CHAT_CHANNEL, GENERAL_CHANNEL, GUILD_A, DiscordStandIn
from tests.standins.discord_world import SEND_MESSAGES_IN_THREADS
from tests.standins.silent_server import SilentServer

UNKNOWN_ID = 424242424242424242


@asynccontextmanager
async def pointed_at(stands: Stands) -> AsyncIterator[None]:
    with (
        stands.discord.redirect(),
        mock.patch.dict(os.environ, {"OPENAI_BASE_URL": stands.openai.base_url}),
    ):
        yield


async def run_checks(
    stands: Stands,
    settings: Settings | None = None,
    products: ProductConfig | None = None,
    seconds: float = 10.0,
    discord_base: str | None = None,
    **greenflash: object,
) -> dict[str, Check]:
    """``discord_base`` points discord.py elsewhere than the stand-in (a dead or silent
    host); a ``base_url`` among the Greenflash settings does the same for Greenflash."""
    gf_url = str(greenflash.pop("base_url", stands.greenflash.base_url))
    async with pointed_at(stands):
        base = discord_base or discord.http.Route.BASE
        with mock.patch.object(discord.http.Route, "BASE", base):
            checks = await diagnose(
                settings or bot_settings(stands),
                greenflash_settings(gf_url, **greenflash),
                products or ProductConfig(default_product_id=TEST_PRODUCT),
                seconds,
            )
    return {check.name: check for check in checks}


def statuses(checks: dict[str, Check]) -> dict[str, Status]:
    return {name: check.status for name, check in checks.items()}


async def test_a_healthy_configuration_passes(stands: Stands) -> None:
    settings = bot_settings(stands, allowed_guild_ids=frozenset({GUILD_A}))
    checks = await run_checks(stands, settings)
    assert statuses(checks) == {
        "Discord token": Status.PASS,
        "Message Content intent": Status.PASS,
        f"Allowed guild {GUILD_A}": Status.PASS,
        f"Chat channel {CHAT_CHANNEL}": Status.PASS,
        "OpenAI key": Status.PASS,
        "OpenAI model": Status.PASS,
        "OpenAI tools": Status.PASS,
        "Greenflash key": Status.PASS,
        f"Greenflash product {TEST_PRODUCT}": Status.PASS,
    }
    assert "ai-chat" in checks[f"Chat channel {CHAT_CHANNEL}"].detail


async def test_rejected_discord_token(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    checks = await run_checks(stands, bot_settings(stands, discord_token="wrong-token"))
    assert checks["Discord token"].status is Status.FAIL
    assert "Reset Token" in checks["Discord token"].fix
    assert "wrong-token" not in checks["Discord token"].line()
    gc.collect()  # an HTTP session left open is reported when it is collected
    assert "Unclosed" not in caplog.text


async def test_message_content_intent_not_enabled(
    openai_standin: object, greenflash_standin: object
) -> None:
    discord = DiscordStandIn(message_content_intent_granted=False)
    await discord.start()
    try:
        stands = Stands(discord, openai_standin, greenflash_standin)  # type: ignore[arg-type]
        checks = await run_checks(stands)
    finally:
        await discord.stop()
    assert checks["Message Content intent"].status is Status.FAIL
    assert "MESSAGE_CONTENT_INTENT=false" in checks["Message Content intent"].fix


async def test_invisible_channel_and_foreign_guild(stands: Stands) -> None:
    settings = bot_settings(stands, chat_channel_ids=frozenset({UNKNOWN_ID}),
                            allowed_guild_ids=frozenset({UNKNOWN_ID}))
    checks = await run_checks(stands, settings)
    assert checks[f"Chat channel {UNKNOWN_ID}"].status is Status.FAIL
    assert checks[f"Allowed guild {UNKNOWN_ID}"].status is Status.FAIL


async def test_thread_channels_are_checked_for_the_thread_permissions(stands: Stands) -> None:
    await stands.discord.deny_bot(GENERAL_CHANNEL, SEND_MESSAGES_IN_THREADS, announce=False)
    settings = bot_settings(
        stands, thread_channel_ids=frozenset({CHAT_CHANNEL, GENERAL_CHANNEL, UNKNOWN_ID})
    )
    checks = await run_checks(stands, settings)
    assert checks[f"Thread channel {CHAT_CHANNEL}"].status is Status.PASS
    lacking = checks[f"Thread channel {GENERAL_CHANNEL}"]
    assert lacking.status is Status.FAIL
    assert lacking.detail == "the bot lacks send_messages_in_threads"
    assert "Create Public Threads" in lacking.fix
    assert checks[f"Thread channel {UNKNOWN_ID}"].status is Status.FAIL


async def test_openai_key_rejected_and_model_unknown(stands: Stands) -> None:
    stands.openai.valid_key = "sk-the-right-one"
    checks = await run_checks(stands)
    assert checks["OpenAI key"].status is Status.FAIL
    stands.openai.valid_key = None
    checks = await run_checks(stands, bot_settings(stands, model="gpt-imaginary"))
    assert checks["OpenAI model"].status is Status.FAIL
    assert "OPENAI_MODEL" in checks["OpenAI model"].fix


async def test_greenflash_key_rejected_and_product_unknown(stands: Stands) -> None:
    stands.greenflash.valid_key = "gf-the-right-one"
    checks = await run_checks(stands)
    assert checks["Greenflash key"].status is Status.FAIL
    stands.greenflash.valid_key = None
    checks = await run_checks(stands, products=ProductConfig(default_product_id="prod-typo"))
    assert checks["Greenflash product prod-typo"].status is Status.FAIL
    checks = await run_checks(stands, api_key=None)
    assert checks["Greenflash key"].status is Status.WARN


async def test_doctor_command_exit_codes_and_no_secrets(stands: Stands, tmp_path: Path) -> None:
    app = deployment(tmp_path)

    async def doctor(**extra: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "doctor", cwd=app, env=process_env(stands, **extra),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return process.returncode, out.decode()

    code, out = await doctor()
    assert code == 0, out
    assert out.count("PASS") >= 6
    stands.openai.valid_key = "sk-something-else"
    code, out = await doctor()
    assert code == 1
    assert "FAIL  OpenAI key: rejected" in out
    for secret in (stands.discord.token, "sk-subprocess-openai", "gf-subprocess-key"):
        assert secret not in out


def test_one_line_per_check_with_its_fix() -> None:
    assert Check(Status.WARN, "Greenflash key", "not set", "set it").line() == (
        "WARN  Greenflash key: not set (fix: set it)"
    )
    assert Check(Status.PASS, "OpenAI key", "valid").line() == "PASS  OpenAI key: valid"


# -- every failure branch: unreachable, silent, 5xx, 429 --------------------------------

BOUND = 2.0


def closed_port() -> str:
    """A local address with nothing listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_discord_refusing_connections(stands: Stands) -> None:
    dead = closed_port()
    checks = await run_checks(stands, seconds=BOUND, discord_base=f"{dead}/api/v10")
    token = checks["Discord token"]
    assert token.status is Status.FAIL
    assert token.detail == f"could not reach Discord ({dead.removeprefix('http://')}: " \
                           "connection refused)"
    assert checks["OpenAI key"].status is Status.PASS


async def test_discord_accepting_and_never_answering(stands: Stands) -> None:
    async with SilentServer() as silent:
        started = time.monotonic()
        checks = await run_checks(stands, seconds=BOUND, discord_base=f"{silent.url}/api/v10")
        elapsed = time.monotonic() - started
        assert silent.connections >= 1
    assert checks["Discord"].status is Status.FAIL
    assert checks["Discord"].detail.endswith(f"the checks did not finish within {BOUND:g} s")
    assert elapsed < BOUND + 3


async def test_a_5xx_listing_guilds_is_a_fail_line_not_a_crash(stands: Stands) -> None:
    stands.discord.fail_next("GET", "/users/@me/guilds", 503)
    checks = await run_checks(stands, seconds=BOUND)
    assert checks["Discord token"].status is Status.PASS
    assert checks["Guilds"].status is Status.FAIL
    assert "HTTP 503" in checks["Guilds"].detail
    assert checks["OpenAI key"].status is Status.PASS


async def test_a_5xx_at_login_is_a_fail_line(stands: Stands) -> None:
    stands.discord.fail_next("GET", "/users/@me", 503)
    checks = await run_checks(stands, seconds=BOUND)
    assert checks["Discord token"].status is Status.FAIL
    assert "HTTP 503" in checks["Discord token"].detail


async def test_a_5xx_reading_a_channel_is_a_fail_line(stands: Stands) -> None:
    stands.discord.fail_next("GET", f"/channels/{CHAT_CHANNEL}", 503)
    checks = await run_checks(stands, seconds=BOUND)
    assert checks[f"Chat channel {CHAT_CHANNEL}"].status is Status.FAIL
    assert "HTTP 503" in checks[f"Chat channel {CHAT_CHANNEL}"].detail


# The doctor abandons the request sleeping out the 429 and the process exits; the event loop
# cancels it at its end. The wedge the guard prevents needs a later request: there is none.
@pytest.mark.cancels_rest
async def test_a_long_discord_rate_limit_ends_at_the_bound_keeping_earlier_lines(
    stands: Stands,
) -> None:
    # discord.py sleeps out a 429's retry_after (Discord's documented behaviour) before
    # retrying: longer than the bound, it is a FAIL, and the token line already found stays.
    stands.discord.fail_next("GET", "/users/@me/guilds", 429,
                             body={"message": "You are being rate limited.",
                                   "retry_after": 60, "global": False},
                             headers={"Via": "1.1 google"})
    checks = await run_checks(stands, seconds=BOUND)
    assert checks["Discord token"].status is Status.PASS
    assert checks["Discord"].status is Status.FAIL
    assert "did not finish within" in checks["Discord"].detail


@pytest.mark.parametrize(("status", "error"), [(503, "InternalServerError"),
                                               (429, "RateLimitError")])
async def test_openai_answering_an_error(stands: Stands, status: int, error: str) -> None:
    stands.openai.fail_next(status, times=5, headers={"retry-after": "0"})
    checks = await run_checks(stands, seconds=BOUND)
    assert checks["OpenAI"].status is Status.FAIL
    assert checks["OpenAI"].detail == f"could not check: {error} (HTTP {status})"


async def test_openai_unreachable(stands: Stands) -> None:
    dead = closed_port()
    with mock.patch.dict(os.environ, {"OPENAI_BASE_URL": f"{dead}/v1"}):
        checks = await diagnose(
            bot_settings(stands), greenflash_settings(stands.greenflash.base_url),
            ProductConfig(default_product_id=TEST_PRODUCT), BOUND,
        )
    (openai_check,) = [check for check in checks if check.name == "OpenAI"]
    assert openai_check.status is Status.FAIL
    assert openai_check.detail == "could not check: APIConnectionError"


async def test_openai_never_answering(stands: Stands) -> None:
    stands.openai.hang_next(times=5)
    checks = await run_checks(stands, seconds=BOUND)
    host = stands.openai.base_url.split("/")[2]
    assert checks["OpenAI"] == Check(Status.FAIL, "OpenAI",
                                     f"{host} gave no answer within {BOUND:g} s",
                                     "check OPENAI_BASE_URL and the network")


@pytest.mark.parametrize(("status", "error"), [(503, "InternalServerError"),
                                               (429, "RateLimitError")])
async def test_greenflash_answering_an_error(stands: Stands, status: int, error: str) -> None:
    stands.greenflash.fail_next(status, times=5, headers={"retry-after": "0"})
    checks = await run_checks(stands, seconds=BOUND, max_retries=0)
    assert checks["Greenflash"].status is Status.FAIL
    assert checks["Greenflash"].detail == f"could not check: {error} (HTTP {status})"


async def test_greenflash_unreachable(stands: Stands) -> None:
    await stands.greenflash.down()
    checks = await run_checks(stands, seconds=BOUND, max_retries=0)
    assert checks["Greenflash"].status is Status.FAIL
    assert checks["Greenflash"].detail.startswith("could not check: APITimeoutError")


async def test_greenflash_never_answering(stands: Stands) -> None:
    async with SilentServer() as silent:
        host = silent.url.removeprefix("http://")
        checks = await run_checks(stands, seconds=BOUND, base_url=f"{silent.url}/api/v1",
                                  timeout=30.0)
    assert checks["Greenflash"] == Check(
        Status.FAIL, "Greenflash", f"{host} gave no answer "
        f"within {BOUND:g} s", "check GREENFLASH_BASE_URL and the network",
    )
