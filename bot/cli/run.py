"""``python -m bot run``: the bot from start-up checks to a clean exit.

Exit codes: 0 when a signal asked us to stop (SIGTERM is a dyno restart, SIGINT a Ctrl-C,
at any moment, login included); 2 when Discord rejects the token or the Message Content
intent, or the database's schema is not this release's, which no retry can fix; 1 when
Discord stayed unreachable through every attempt, so Heroku's restart (with its own
backoff) tries again later.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import aiohttp
import discord
import discord.http
from pydantic import SecretStr

from bot.cli.preflight import (
    StartupSettings,
    Unreachable,
    abandon,
    discord_within,
    finished_within,
    host_of,
    reach_discord,
    reason,
    warn_if_unreachable,
)
from bot.client import ChatBot, SchemaRefused
from bot.config.environment import load_configuration
from bot.config.products import ProductConfig
from bot.runtime.logs import setup_logging

log = logging.getLogger("bot")

EXIT_UNREACHABLE = 1
EXIT_CONFIG = 2
# Login is two REST calls plus the command check in ``setup_hook``, each bounded alike.
_LOGIN_CALLS = 3
_CLOSE_SECONDS = 10.0


def settle_heap() -> None:
    """Everything imported and built before the bot starts lives as long as the process, so
    take it out of the cyclic collector's way: a full collection then walks only what the
    bot creates while it runs. Measured with ``tests/benchmarks/bench_latency.py``, an
    unfrozen full collection paused the loop for about 40 ms, inside whichever reply was
    being produced at the time."""
    gc.collect()
    gc.freeze()


def prepare(products: ProductConfig | None = None) -> tuple[ChatBot, StartupSettings]:
    """Configuration, logging and the bot, ready to run. ``products`` replaces the
    committed ``products.toml`` (the benchmarks run the bot with the stand-in's product)."""
    config = load_configuration()
    secrets = [config.settings.discord_token, config.settings.openai_api_key,
               config.greenflash.api_key, config.storage.database_url]
    setup_logging([secret for secret in secrets if secret is not None], config.logs)
    bot = ChatBot(config.settings, products=products or config.products,
                  greenflash_settings=config.greenflash, storage=config.storage,
                  attachments=config.attachments, agent=config.agent,
                  knowledge=config.knowledge)
    settle_heap()
    return bot, config.startup


async def _check_others(bot: ChatBot, startup: StartupSettings) -> None:
    """OpenAI and Greenflash are not needed to come online: a line each if they are not
    there, and the bot serves anyway (its apology, held analytics)."""
    checks = [warn_if_unreachable("OpenAI", str(bot.model.client.base_url), startup)]
    analytics = bot.analytics.client
    if analytics is not None:
        checks.append(warn_if_unreachable("Greenflash", str(analytics.base_url), startup))
    await asyncio.gather(*checks)


async def _login(bot: ChatBot, token: SecretStr, startup: StartupSettings) -> None:
    """discord.py's own login, bounded without cancelling it: on time-out the caller closes
    the client, which ends the requests."""
    await discord_within(bot.login(token.get_secret_value()), startup.timeout * _LOGIN_CALLS,
                         "login")


async def _start(bot: ChatBot, token: SecretStr, startup: StartupSettings) -> None:
    await asyncio.gather(reach_discord(token, startup), _check_others(bot, startup))
    await _login(bot, token, startup)
    await bot.connect()


def _outcome(error: BaseException) -> int:
    """The one line for a start that failed, and its exit code."""
    if isinstance(error, discord.LoginFailure):
        log.error("Discord rejected DISCORD_TOKEN; check the token in the developer portal "
                  "(Bot → Reset Token)")
        return EXIT_CONFIG
    if isinstance(error, discord.PrivilegedIntentsRequired):
        log.error(
            "Discord refused the Message Content intent: enable it in the developer portal "
            "(Bot → Privileged Gateway Intents) or set MESSAGE_CONTENT_INTENT=false"
        )
        return EXIT_CONFIG
    if isinstance(error, SchemaRefused):
        log.error("%s", error)
        return EXIT_CONFIG
    if isinstance(error, Unreachable):
        log.error("%s", error)
        return EXIT_UNREACHABLE
    if isinstance(error, discord.HTTPException | aiohttp.ClientError | OSError):
        log.error("Discord (%s) failed during login: %s",
                  host_of(discord.http.Route.BASE), reason(error, 0))
        return EXIT_UNREACHABLE
    raise error


async def run(bot: ChatBot, token: SecretStr, startup: StartupSettings | None = None) -> int:
    """Run until Discord fails us or a signal asks us to stop, then close once."""
    startup = startup or StartupSettings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        work = asyncio.ensure_future(_start(bot, token, startup))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not work.done():
            log.info("shutdown requested; closing")
            if bot.http.token is None:  # still in our own checks: nothing of discord.py's
                work.cancel()
            await bot.close()
            # Whatever the interrupted login raises once its session is closed, we asked for.
            await finished_within(work, _CLOSE_SECONDS)
            abandon(work)
            return 0
        error = work.exception()
        if error is not None:
            return _outcome(error)
    return 0
