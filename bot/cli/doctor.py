"""``python -m bot doctor``: check a deployment's configuration against the real services.

An operator runs this before the first deploy (``heroku run python -m bot doctor``) and gets
one line per check, PASS / WARN / FAIL, with the fix. It talks to each service the way the
bot will — same SDKs, same base URLs — but only reads. Exit code 1 on any FAIL. Secrets are
never printed: checks report what a secret unlocked, not the secret.

The three services and the database are checked at once and each one's lines are printed
as soon as its checks end, each service bounded (``STARTUP_TIMEOUT``, at most 10 s), so on
a network that swallows packets the operator sees the answer within seconds, not after
minutes of silence.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable
from typing import TextIO

import aiohttp
import discord
import discord.http
import greenflash
import openai

from bot.cli.checks import CHECK_SECONDS, Check, Status
from bot.cli.doctor_database import check_database
from bot.cli.model_probe import probe_model
from bot.cli.permissions import channel_permissions, missing
from bot.cli.preflight import (
    GREENFLASH_DEFAULT_URL,
    OPENAI_DEFAULT_URL,
    Unreachable,
    discord_within,
    host_of,
    reason,
)
from bot.config.base import SettingsError
from bot.config.environment import WHERE_SETTINGS_GO, load_configuration
from bot.config.products import ProductConfig
from bot.config.settings import Settings
from bot.greenflash_client import GreenflashSettings, build_client, describe
from bot.replies.threads import THREAD_PERMISSIONS
from bot.storage import (
    StorageConfig,
)

_PRODUCTS_PAGE = 100


async def check_discord(settings: Settings, seconds: float = CHECK_SECONDS) -> list[Check]:
    """Lines found before a time-out are kept: a token that passed still shows."""
    client = discord.Client(intents=discord.Intents.none())
    checks: list[Check] = []
    try:
        await discord_within(_discord_checks(client, settings, checks), seconds, "the checks")
    except Unreachable as error:
        checks.append(Check(Status.FAIL, "Discord", str(error), "check the network"))
    finally:  # closing ends a request left waiting, and a rejected login's session too
        await client.close()
    return checks


async def _discord_checks(
    client: discord.Client, settings: Settings, checks: list[Check]
) -> None:
    try:
        await client.login(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        checks.append(
            Check(
                Status.FAIL,
                "Discord token",
                "rejected by Discord",
                "reset the token in the developer portal (Bot → Reset Token)",
            )
        )
        return
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        checks.append(_unreachable("Discord token", error))
        return
    checks.append(Check(Status.PASS, "Discord token", f"valid, the bot is {client.user}"))
    checks.append(_intent_check(settings, client.application))
    try:
        guild_ids = {guild.id async for guild in client.fetch_guilds(limit=None)}
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        checks.append(_unreachable("Guilds", error))
        return
    checks += _guild_checks(settings, guild_ids)
    checks += [await _channel_check(client, c) for c in sorted(settings.chat_channel_ids)]
    checks += [await _thread_check(client, c) for c in sorted(settings.thread_channel_ids)]


def _unreachable(name: str, error: BaseException) -> Check:
    status = getattr(error, "status", None)
    cause = f"HTTP {status}" if status else reason(error, CHECK_SECONDS)
    return Check(
        Status.FAIL,
        name,
        f"could not reach Discord ({host_of(discord.http.Route.BASE)}: {cause})",
        "check the network; https://discordstatus.com shows Discord's own outages",
    )


def _intent_check(settings: Settings, application: discord.AppInfo | None) -> Check:
    flags = application.flags if application else None
    enabled = bool(
        flags and (flags.gateway_message_content or flags.gateway_message_content_limited)
    )
    if not settings.message_content_intent:
        return Check(
            Status.WARN,
            "Message Content intent",
            "not requested: only mentions and DMs are answered",
            "enable it in the portal and set MESSAGE_CONTENT_INTENT=true for chat channels",
        )
    if enabled:
        return Check(Status.PASS, "Message Content intent", "enabled for the application")
    return Check(
        Status.FAIL,
        "Message Content intent",
        "requested but not enabled in the developer portal",
        "Bot → Privileged Gateway Intents → Message Content, or set MESSAGE_CONTENT_INTENT=false",
    )


def _presence(name: str, present: bool, details: tuple[str, str], fix: str) -> Check:
    """PASS with the first detail when something expected is there, else FAIL with the fix."""
    if present:
        return Check(Status.PASS, name, details[0])
    return Check(Status.FAIL, name, details[1], fix)


def _guild_checks(settings: Settings, guild_ids: set[int]) -> list[Check]:
    if not settings.allowed_guild_ids:
        return [Check(Status.PASS, "Guilds", f"the bot is in {len(guild_ids)} guild(s)")]
    return [
        _presence(
            f"Allowed guild {guild_id}",
            guild_id in guild_ids,
            ("the bot is a member", "the bot is not a member"),
            "invite the bot to it, or remove it from ALLOWED_GUILD_IDS",
        )
        for guild_id in sorted(settings.allowed_guild_ids)
    ]


async def _channel_check(client: discord.Client, channel_id: int) -> Check:
    name = f"Chat channel {channel_id}"
    try:
        channel = await client.fetch_channel(channel_id)
    except (discord.NotFound, discord.Forbidden):
        return Check(
            Status.FAIL,
            name,
            "not visible to the bot",
            "give the bot View Channel there, or fix CHAT_CHANNEL_IDS",
        )
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        return _unreachable(name, error)
    return Check(Status.PASS, name, f"visible (#{getattr(channel, 'name', channel_id)})")


async def _thread_check(client: discord.Client, channel_id: int) -> Check:
    """A channel in THREAD_CHANNEL_IDS where the bot could not open threads would answer
    every question in the channel with the line saying why."""
    name = f"Thread channel {channel_id}"
    try:
        lacking = missing(await channel_permissions(client, channel_id), THREAD_PERMISSIONS)
    except (discord.NotFound, discord.Forbidden, TypeError):
        return Check(Status.FAIL, name, "not a server channel the bot can see",
                     "give the bot View Channel there, or fix THREAD_CHANNEL_IDS")
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        return _unreachable(name, error)
    if lacking:
        return Check(Status.FAIL, name, f"the bot lacks {', '.join(lacking)}",
                     "grant Create Public Threads and Send Messages in Threads there")
    return Check(Status.PASS, name, "the bot can open threads and post in them")


async def check_openai(settings: Settings) -> list[Check]:
    client = openai.AsyncOpenAI(api_key=settings.openai_api_key.get_secret_value(),
                                base_url=settings.openai_base_url, timeout=15, max_retries=1)
    try:
        model = await client.models.retrieve(settings.model)
    except openai.AuthenticationError:
        return [Check(Status.FAIL, "OpenAI key", "rejected", "set a valid OPENAI_API_KEY")]
    except openai.NotFoundError:
        return [
            Check(Status.PASS, "OpenAI key", "valid"),
            Check(
                Status.FAIL,
                "OpenAI model",
                f"{settings.model!r} is not available to this key",
                "set OPENAI_MODEL to a model the key can use",
            ),
        ]
    except openai.APIError as error:
        return [
            Check(
                Status.FAIL,
                "OpenAI",
                f"could not check: {describe(error)}",
                "check OPENAI_BASE_URL and the network",
            )
        ]
    finally:
        await client.close()
    probe, tools = await probe_model(settings)
    checks = [
        Check(Status.PASS, "OpenAI key", "valid"),
        Check(
            Status.PASS if probe.ok else Status.FAIL,
            "OpenAI model",
            f"{model.id!r} is available; {probe.detail}",
            probe.fix,
        ),
    ]
    if tools is not None:  # a model without tools still answers: a warning, not a failure
        checks.append(Check(Status.PASS if tools.ok else Status.WARN, "OpenAI tools",
                            tools.detail, tools.fix))
    return checks


async def _list_products(client: greenflash.AsyncGreenflash) -> set[str]:
    ids: set[str] = set()
    page = 1
    while True:
        products = await client.products.list(page=page, page_size=_PRODUCTS_PAGE)
        ids.update(product.id for product in products)
        if len(products) < _PRODUCTS_PAGE:
            return ids
        page += 1


async def check_greenflash(settings: GreenflashSettings, products: ProductConfig) -> list[Check]:
    client = build_client(settings)
    if client is None:
        return [
            Check(
                Status.WARN,
                "Greenflash key",
                "not set: analytics are off",
                "set GREENFLASH_API_KEY to send conversations to Greenflash",
            )
        ]
    try:
        known = await _list_products(client)
    except greenflash.AuthenticationError:
        return [Check(Status.FAIL, "Greenflash key", "rejected", "set a valid GREENFLASH_API_KEY")]
    except greenflash.APIError as error:
        return [
            Check(
                Status.FAIL,
                "Greenflash",
                f"could not check: {describe(error)}",
                "check GREENFLASH_BASE_URL and the network",
            )
        ]
    finally:
        await client.close()
    checks = [Check(Status.PASS, "Greenflash key", f"valid ({len(known)} product(s) visible)")]
    if not products.configured:
        checks.append(
            Check(
                Status.WARN,
                "Greenflash product",
                "none configured: analytics off",
                "put default_product_id in bot/config/products.toml, above the "
                "[guild_products] table",
            )
        )
    checks += [
        _presence(
            f"Greenflash product {product_id}",
            product_id in known,
            ("known to Greenflash", "unknown to this key"),
            "copy the id from Greenflash into bot/config/products.toml",
        )
        for product_id in sorted(products.all_ids())
    ]
    return checks


async def _bounded(
    service: str, url: str, checks: Awaitable[list[Check]], seconds: float
) -> list[Check]:
    """The SDKs' calls may be cancelled (unlike discord.py's), so a plain time-out."""
    try:
        async with asyncio.timeout(seconds):
            return await checks
    except TimeoutError:
        return [
            Check(
                Status.FAIL,
                service,
                f"{host_of(url)} gave no answer within {seconds:g} s",
                f"check {service.upper()}_BASE_URL and the network",
            )
        ]


async def diagnose_each(
    settings: Settings,
    greenflash_settings: GreenflashSettings,
    products: ProductConfig,
    seconds: float = CHECK_SECONDS,
    storage: StorageConfig | None = None,
) -> AsyncIterator[list[Check]]:
    """Each service's checks, in the order they finish; the database's with ``storage``."""
    openai_url = settings.openai_base_url or OPENAI_DEFAULT_URL
    greenflash_url = greenflash_settings.base_url or GREENFLASH_DEFAULT_URL
    pending = [
        check_discord(settings, seconds),
        _bounded("OpenAI", openai_url, check_openai(settings), seconds),
        _bounded("Greenflash", greenflash_url,
                 check_greenflash(greenflash_settings, products), seconds),
    ]
    if storage is not None:
        pending.append(check_database(storage, seconds))
    for finished in asyncio.as_completed(pending):
        yield await finished


async def diagnose(
    settings: Settings,
    greenflash_settings: GreenflashSettings,
    products: ProductConfig,
    seconds: float = CHECK_SECONDS,
    storage: StorageConfig | None = None,
) -> list[Check]:
    return [
        check
        async for checks in diagnose_each(
            settings, greenflash_settings, products, seconds, storage
        )
        for check in checks
    ]


def _print(checks: list[Check], out: TextIO) -> bool:
    """Prints at once (a log drain shows each line as it comes); True if any FAILed."""
    for check in checks:
        print(check.line(), file=out, flush=True)
    return any(check.status is Status.FAIL for check in checks)


async def _report_each(
    settings: Settings,
    greenflash_settings: GreenflashSettings,
    products: ProductConfig,
    seconds: float,
    out: TextIO,
    *,
    storage: StorageConfig,
) -> int:
    failed = False
    async for checks in diagnose_each(
        settings, greenflash_settings, products, seconds, storage
    ):
        failed = _print(checks, out) or failed
    return 1 if failed else 0


def run_doctor(out: TextIO = sys.stdout) -> int:
    """Configuration problems are FAILs too; the services are only asked once it loads."""
    try:
        config = load_configuration()
    except SettingsError as error:
        _print(
            [Check(Status.FAIL, "Configuration", problem, WHERE_SETTINGS_GO)
             for problem in error.problems],
            out,
        )
        return 1
    seconds = min(config.startup.timeout, CHECK_SECONDS)
    return asyncio.run(
        _report_each(
            config.settings, config.greenflash, config.products, seconds, out,
            storage=config.storage,
        )
    )
