"""The command line: ``python -m bot [run | doctor | invite | migrate]``.

argparse (the standard library's) because the commands are few and take no options of
their own: a subcommand is one :class:`Subcommand` in ``SUBCOMMANDS`` with its handler, so
adding one touches nothing else. ``--help`` and a mistyped word are answered by
argparse before anything is configured or contacted: ``--help`` exits 0, a word it does
not know exits 2 with the usage. Settings come only from the environment (and ``.env``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

from dotenv import load_dotenv

import bot
from bot.cli.preflight import StartupSettings, quiet_voice_warnings
from bot.config.base import Problems, SettingsError
from bot.config.environment import WHERE_SETTINGS_GO
from bot.config.settings import DiscordLogin

Handler = Callable[[argparse.Namespace], int]
EXIT_CONFIG = 2


def _configuration_error(error: SettingsError) -> int:
    print(f"configuration error: {'; '.join(error.problems)} ({WHERE_SETTINGS_GO})",
          file=sys.stderr)
    return EXIT_CONFIG


def _run(_: argparse.Namespace) -> int:
    from bot.cli.run import prepare, run  # noqa: PLC0415  (imports discord.py's whole bot)

    try:
        chat_bot, startup = prepare()
    except SettingsError as error:
        return _configuration_error(error)
    return asyncio.run(run(chat_bot, chat_bot.settings.discord_token, startup))


def _doctor(_: argparse.Namespace) -> int:
    from bot.cli.doctor import run_doctor  # noqa: PLC0415

    return run_doctor()


def _invite(_: argparse.Namespace) -> int:
    from bot.cli.invite import print_invite  # noqa: PLC0415

    problems = Problems()
    login = problems.read(DiscordLogin)
    startup = problems.read(StartupSettings)
    try:
        problems.check()
    except SettingsError as error:
        return _configuration_error(error)
    return print_invite(login.discord_token, startup)


def _migrate(_: argparse.Namespace) -> int:
    from bot.cli.migrate import run_migrate  # noqa: PLC0415  (imports SQLAlchemy)

    try:
        return run_migrate()
    except SettingsError as error:
        return _configuration_error(error)


@dataclass(frozen=True)
class Subcommand:
    """One word of the command line: adding a command is adding one of these."""

    name: str
    summary: str
    description: str
    handler: Handler


SUBCOMMANDS = (
    Subcommand(
        "run", "run the bot (the default)",
        "Log in to Discord and answer until SIGTERM or SIGINT (exit 0). Exit 2: Discord "
        "rejected the token or the Message Content intent; exit 1: Discord stayed "
        "unreachable through STARTUP_ATTEMPTS tries.",
        _run,
    ),
    Subcommand(
        "doctor", "check the configuration against Discord, OpenAI and Greenflash",
        "One PASS/WARN/FAIL line per check, with the fix; only reads. Exit 1 on any FAIL. "
        "Finishes within about 10 s whatever the network does.",
        _doctor,
    ),
    Subcommand(
        "invite", "print the URL that adds this bot to a server",
        "Reads the application id with DISCORD_TOKEN and prints the OAuth2 URL with the "
        "scopes and the permissions the bot uses.",
        _invite,
    ),
    Subcommand(
        "migrate", "bring the database's schema up to this release's",
        "Runs the Alembic migrations on DATABASE_URL (or the SQLite file at DATABASE_PATH); "
        "Heroku's release phase runs it before new dynos start. Exit 1 when the database "
        "does not answer or has a schema this release does not know.",
        _migrate,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Discord AI chatbot that answers with OpenAI and logs its "
                    "conversations to Greenflash. Settings: environment variables or .env.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {bot.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in SUBCOMMANDS:
        sub = commands.add_parser(command.name, help=command.summary,
                                  description=command.description)
        sub.set_defaults(handler=command.handler)
    parser.set_defaults(handler=_run)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    load_dotenv(override=False)
    quiet_voice_warnings()
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:  # Ctrl-C before the event loop took over the signal
        return 0
