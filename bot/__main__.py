"""``python -m bot [doctor]``: load ``.env``, set up logging, read settings, run.

Configuration problems end the process with exit code 2 and one line naming every bad
variable, so a Heroku release with a typo fails loudly instead of crash-looping. SIGTERM
(a dyno restart) and SIGINT both close the bot gracefully inside Heroku's 30 s.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Iterable

import discord
from dotenv import load_dotenv

from bot.client import ChatBot
from bot.configuration import load_configuration
from bot.doctor import run_doctor
from bot.products import ProductConfig
from bot.settings import SettingsError

log = logging.getLogger("bot")

EXIT_CONFIG = 2


class RedactSecrets(logging.Filter):
    """Last line of defence: no log record may carry a configured secret."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if len(secret) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        return True


def setup_logging(secrets: Iterable[str]) -> None:
    discord.utils.setup_logging(level=logging.INFO, root=True)
    # The HTTP clients under the OpenAI and Greenflash SDKs log every request at INFO: two
    # or three lines per reply, noise on a log drain. Their warnings still show.
    for chatty in ("httpx", "httpx2"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def settle_heap() -> None:
    """Everything imported and built before the bot starts lives as long as the process, so
    take it out of the cyclic collector's way: a full collection then walks only what the
    bot creates while it runs. Measured with ``tests/benchmarks/bench_latency.py``, an
    unfrozen full collection paused the loop for about 40 ms, inside whichever reply was
    being produced at the time."""
    gc.collect()
    gc.freeze()


async def run(bot: ChatBot, token: str) -> int:
    """Run until Discord fails us or a signal asks us to stop, then close once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            log.info("shutdown requested; closing")
            await bot.close()
        stopper.cancel()
        try:
            await runner
        except discord.LoginFailure:
            log.error("Discord rejected DISCORD_TOKEN; check the token in the developer portal")
            return EXIT_CONFIG
        except discord.PrivilegedIntentsRequired:
            log.error(
                "Discord refused the Message Content intent: enable it in the developer portal "
                "(Bot → Privileged Gateway Intents) or set MESSAGE_CONTENT_INTENT=false"
            )
            return EXIT_CONFIG
    return 0


def main(args: list[str]) -> int:
    load_dotenv(override=False)
    if args == ["doctor"]:
        return run_doctor()
    try:
        bot = prepare()
    except SettingsError as error:
        print(f"configuration error: {'; '.join(error.problems)}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(run(bot, bot.settings.discord_token))


def prepare(products: ProductConfig | None = None) -> ChatBot:
    """Configuration, logging and the bot, ready to run. ``products`` replaces the
    committed ``products.toml`` (the benchmarks run the bot with the stand-in's product)."""
    settings, greenflash_settings, committed = load_configuration()
    setup_logging(
        [settings.discord_token, settings.openai_api_key, greenflash_settings.api_key or ""]
    )
    bot = ChatBot(settings, products=products or committed,
                  greenflash_settings=greenflash_settings)
    settle_heap()
    return bot


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
