"""``python -m bot doctor``: check a deployment's configuration against the real services.

An operator runs this before the first deploy (``heroku run python -m bot doctor``) and gets
one line per check, PASS / WARN / FAIL, with the fix. It talks to each service the way the
bot will — same SDKs, same base URLs — but only reads. Exit code 1 on any FAIL. Secrets are
never printed: checks report what a secret unlocked, not the secret.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import discord
import greenflash
import openai

from bot.configuration import load_configuration
from bot.greenflash_client import GreenflashSettings, build_client, describe
from bot.llm import probe_model
from bot.products import ProductConfig
from bot.settings import Settings, SettingsError

_PRODUCTS_PAGE = 100


class Status(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    status: Status
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status}  {self.name}: {self.detail}" + (
            f" (fix: {self.fix})" if self.fix else ""
        )


async def check_discord(settings: Settings) -> list[Check]:
    client = discord.Client(intents=discord.Intents.none())
    try:
        return await _discord_checks(client, settings)
    finally:  # a rejected login has opened the HTTP session too
        await client.close()


async def _discord_checks(client: discord.Client, settings: Settings) -> list[Check]:
    try:
        await client.login(settings.discord_token)
    except discord.LoginFailure:
        return [
            Check(
                Status.FAIL,
                "Discord token",
                "rejected by Discord",
                "reset the token in the developer portal (Bot → Reset Token)",
            )
        ]
    except (discord.HTTPException, OSError) as error:
        return [
            Check(
                Status.FAIL,
                "Discord token",
                f"could not reach Discord ({error})",
                "check the network",
            )
        ]
    checks = [Check(Status.PASS, "Discord token", f"valid, the bot is {client.user}")]
    checks.append(_intent_check(settings, client.application))
    guild_ids = {guild.id async for guild in client.fetch_guilds(limit=None)}
    checks += _guild_checks(settings, guild_ids)
    checks += [
        await _channel_check(client, channel_id)
        for channel_id in sorted(settings.chat_channel_ids)
    ]
    return checks


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
    return Check(Status.PASS, name, f"visible (#{getattr(channel, 'name', channel_id)})")


async def check_openai(settings: Settings) -> list[Check]:
    client = openai.AsyncOpenAI(api_key=settings.openai_api_key, timeout=15, max_retries=1)
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
    probe = await probe_model(settings)
    return [
        Check(Status.PASS, "OpenAI key", "valid"),
        Check(
            Status.PASS if probe.ok else Status.FAIL,
            "OpenAI model",
            f"{model.id!r} is available; {probe.detail}",
            probe.fix,
        ),
    ]


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
                "put default_product_id in bot/products.toml",
            )
        )
    checks += [
        _presence(
            f"Greenflash product {product_id}",
            product_id in known,
            ("known to Greenflash", "unknown to this key"),
            "copy the id from Greenflash into bot/products.toml",
        )
        for product_id in sorted(products.all_ids())
    ]
    return checks


async def diagnose(
    settings: Settings, greenflash_settings: GreenflashSettings, products: ProductConfig
) -> list[Check]:
    results = await asyncio.gather(
        check_discord(settings),
        check_openai(settings),
        check_greenflash(greenflash_settings, products),
    )
    return [check for checks in results for check in checks]


def report(checks: Iterable[Check], out: TextIO) -> int:
    failed = False
    for check in checks:
        print(check.line(), file=out)
        failed = failed or check.status is Status.FAIL
    return 1 if failed else 0


def run_doctor(out: TextIO = sys.stdout) -> int:
    """Configuration problems are FAILs too; the services are only asked once it loads."""
    try:
        settings, greenflash_settings, products = load_configuration()
    except SettingsError as error:
        return report(
            (
                Check(Status.FAIL, "Configuration", problem, "see .env.example")
                for problem in error.problems
            ),
            out,
        )
    return report(asyncio.run(diagnose(settings, greenflash_settings, products)), out)
