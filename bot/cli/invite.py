"""``python -m bot invite``: the URL that adds this bot, with the permissions it uses.

The application id is read with the token (Discord's ``GET /oauth2/applications/@me``
through discord.py's own login), so the URL is for this bot and no id needs copying from
the developer portal. One attempt, bounded: a person is waiting at the prompt.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import discord
from pydantic import SecretStr

from bot.cli.permissions import invite_url
from bot.cli.preflight import StartupSettings, Unreachable, discord_within, reason

_LOGIN_CALLS = 2


async def application_id(token: SecretStr, startup: StartupSettings) -> int:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await discord_within(client.login(token.get_secret_value()),
                             startup.timeout * _LOGIN_CALLS, "login")
        assert client.application_id is not None  # login sets it from application_info
        return client.application_id
    finally:
        await client.close()


def print_invite(token: SecretStr, startup: StartupSettings) -> int:
    try:
        app_id = asyncio.run(application_id(token, startup))
    except discord.LoginFailure:
        print("Discord rejected DISCORD_TOKEN; copy it again from the developer portal "
              "(Bot → Reset Token)", file=sys.stderr)
        return 2
    except Unreachable as error:
        print(error, file=sys.stderr)
        return 1
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        print(f"could not read the application from Discord: {reason(error, startup.timeout)}",
              file=sys.stderr)
        return 1
    print("Open this URL, pick your server and authorise (you need Manage Server there):")
    print(invite_url(app_id))
    return 0
