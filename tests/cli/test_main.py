"""``python -m bot`` as a person meets it: help, mistakes, the invite URL, and a network
that does not answer. Each test runs the real process, configured only by its environment."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from bot.cli.permissions import BOT_PERMISSIONS, invite_url
from tests.bot_harness import Stands, process_env
from tests.cli.test_process import deployment
from tests.helpers import until
from tests.standins.discord_server import APPLICATION_ID, PROJECT_ROOT, STANDINS_DIR, DiscordStandIn
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.silent_server import SilentServer

# The features the bot has, as the issue lists them: read and answer in channels and
# threads, quote history for context, react for feedback, embed links, attach long answers,
# open a thread per question (issue 23).
NEEDED = {
    "view_channel", "send_messages", "send_messages_in_threads", "read_message_history",
    "add_reactions", "embed_links", "attach_files", "create_public_threads",
}


def needed_value() -> int:
    return discord.Permissions(**dict.fromkeys(NEEDED, True)).value


@pytest_asyncio.fixture
async def silent() -> AsyncIterator[SilentServer]:
    async with SilentServer() as server:
        yield server


def silent_env(server: SilentServer, **extra: str) -> dict[str, str]:
    """Discord, OpenAI and Greenflash all at a host that accepts and never answers."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": os.pathsep.join([str(STANDINS_DIR), str(PROJECT_ROOT)]),
        "DISCORD_STANDIN_API": f"{server.url}/api/v10",
        "DISCORD_STANDIN_GATEWAY": f"{server.url.replace('http', 'ws')}/gateway",
        "DISCORD_TOKEN": "discord-token-for-a-silent-host",
        "OPENAI_API_KEY": "sk-silent-openai",
        "OPENAI_BASE_URL": f"{server.url}/v1",
        "GREENFLASH_API_KEY": "gf-silent-key",
        "GREENFLASH_BASE_URL": f"{server.url}/api/v1",
    }
    return env | extra


async def python_m_bot(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> tuple[int, str, str, float]:
    """Runs to its end: exit code, stdout, stderr and the seconds it took.

    Without ``cwd`` it runs in a directory of its own with the checkout on ``PYTHONPATH``,
    so nothing it writes (the default ``data/`` database) lands in the checkout, where
    parallel test workers would share it."""
    with tempfile.TemporaryDirectory(prefix="python-m-bot-") as own:
        if cwd is None:
            cwd = Path(own)
            paths = [env.get("PYTHONPATH", ""), str(PROJECT_ROOT)]
            env = env | {"PYTHONPATH": os.pathsep.join(filter(None, paths))}
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        finally:
            if process.returncode is None:
                process.kill()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode(), time.monotonic() - started


@pytest.mark.parametrize(
    "args", [["--help"], ["-h"], ["run", "--help"], ["doctor", "--help"], ["invite", "--help"]]
)
async def test_help_prints_usage_exits_0_and_connects_nowhere(
    silent: SilentServer, args: list[str]
) -> None:
    code, out, err, _ = await python_m_bot(*args, env=silent_env(silent))
    assert code == 0, err
    assert out.startswith("usage: python -m bot")
    assert silent.connections == 0
    # The same environment does reach the silent host once a command talks to Discord.
    code, _, err, _ = await python_m_bot("invite", env=silent_env(silent, STARTUP_TIMEOUT="0.5"))
    assert silent.connections >= 1
    assert code == 1
    assert err.strip() == (
        f"Discord ({silent.url.removeprefix('http://')}) unreachable: login did not finish "
        "within 1 s"
    )


async def test_an_unknown_word_exits_2_with_the_usage(silent: SilentServer) -> None:
    code, out, err, _ = await python_m_bot("serve", env=silent_env(silent))
    assert code == 2
    assert out == ""
    assert err.startswith("usage: python -m bot")
    assert "invalid choice: 'serve'" in err
    assert silent.connections == 0


async def test_version() -> None:
    code, out, _, _ = await python_m_bot("--version", env={"PATH": os.environ["PATH"]})
    assert code == 0
    assert out.strip().startswith("python -m bot ")


async def test_invite_prints_this_bots_url_with_the_declared_permissions(
    discord_standin: DiscordStandIn,
) -> None:
    env = {"PATH": os.environ["PATH"], "DISCORD_TOKEN": discord_standin.token,
           **discord_standin.subprocess_env()}
    code, out, err, _ = await python_m_bot("invite", env=env)
    assert code == 0, err
    url = out.strip().splitlines()[-1]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert query["client_id"] == [str(APPLICATION_ID)]
    assert query["scope"] == ["bot applications.commands"]
    assert int(query["permissions"][0]) == BOT_PERMISSIONS.value
    assert int(query["permissions"][0]) == needed_value()


async def test_invite_with_a_rejected_token_exits_2(discord_standin: DiscordStandIn) -> None:
    env = {"PATH": os.environ["PATH"], "DISCORD_TOKEN": "not-the-token",
           **discord_standin.subprocess_env()}
    code, out, err, _ = await python_m_bot("invite", env=env)
    assert code == 2
    assert out == ""
    assert "rejected DISCORD_TOKEN" in err


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_the_invite_url_carries_the_id_and_the_declared_permissions(app_id: int) -> None:
    query = parse_qs(urlsplit(invite_url(app_id)).query)
    assert query["client_id"] == [str(app_id)]
    assert query["permissions"] == [str(BOT_PERMISSIONS.value)]
    assert BOT_PERMISSIONS.value == needed_value()


def host(server: SilentServer) -> str:
    return server.url.removeprefix("http://")


async def test_a_silent_discord_is_retried_then_one_line_without_traceback(
    silent: SilentServer,
) -> None:
    env = silent_env(silent, STARTUP_TIMEOUT="1", STARTUP_ATTEMPTS="2")
    code, _, log, _ = await python_m_bot(env=env, timeout=30)
    assert code == 1, log
    assert "Traceback" not in log
    assert "PyNaCl" not in log and "davey" not in log
    lines = [line for line in log.splitlines() if "Discord (" in line]
    assert len(lines) == 2
    assert lines[0].endswith(
        f"Discord ({host(silent)}) unreachable: no answer within 1 s; retrying in 1 s "
        "(attempt 1 of 2)"
    )
    assert lines[1].endswith(
        f"Discord ({host(silent)}) unreachable: no answer within 1 s (tried 2 times; "
        "check the network)"
    )
    assert f"OpenAI ({host(silent)}) unreachable at start: no answer within 1 s" in log
    assert f"Greenflash ({host(silent)}) unreachable at start: no answer within 1 s" in log


async def test_doctor_on_a_silent_network_says_so_within_30_seconds(
    silent: SilentServer, tmp_path: Path
) -> None:
    database = tmp_path / "bot.sqlite3"
    env = silent_env(silent) | {"DATABASE_PATH": str(database)}
    code, out, err, elapsed = await python_m_bot("doctor", env=env, timeout=40)
    assert code == 1
    assert "Traceback" not in out + err
    assert sorted(out.splitlines()) == sorted([
        f"FAIL  Discord: Discord ({host(silent)}) unreachable: the checks did not finish "
        "within 10 s (fix: check the network)",
        f"FAIL  OpenAI: {host(silent)} gave no answer within 10 s "
        "(fix: check OPENAI_BASE_URL and the network)",
        f"FAIL  Greenflash: {host(silent)} gave no answer within 10 s "
        "(fix: check GREENFLASH_BASE_URL and the network)",
        f"PASS  Database sqlite+aiosqlite:///{database}: not created yet: the bot creates "
        "it at start",
    ])
    assert elapsed < 30


async def test_doctor_prints_each_service_as_it_finishes(
    silent: SilentServer, stands: Stands, tmp_path: Path
) -> None:
    env = process_env(stands) | {
        "DISCORD_STANDIN_API": f"{silent.url}/api/v10", "STARTUP_TIMEOUT": "10",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", cwd=deployment(tmp_path), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        still_checking_discord = process.returncode is None and silent.connections >= 1
        await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    assert first.startswith(("PASS  OpenAI", "PASS  Greenflash", "PASS  Database"))
    assert still_checking_discord


@asynccontextmanager
async def bot_process(stands: Stands, tmp_path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m bot`` from a deployment, pointed at the stand-ins; killed if still up."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=deployment(tmp_path), env=process_env(stands),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()


async def terminated(process: asyncio.subprocess.Process, timeout: float) -> str:
    """SIGTERM, then the log once it has exited."""
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout)
    return err.decode()


async def test_sigterm_while_login_hangs_exits_0(stands: Stands, tmp_path: Path) -> None:
    stands.discord.hang_next("GET", "/(?:oauth2/)?applications/@me")
    async with bot_process(stands, tmp_path) as process:
        # the start-up check and discord.py's own login both ask who we are
        await until(
            lambda: len([r for r in stands.discord.requests if r.path == "/users/@me"]) >= 2,
            "discord.py's login", timeout=20,
        )
        log = await terminated(process, 10)
    assert process.returncode == 0, log
    assert "shutdown requested" in log
    assert "Traceback" not in log
    assert not any(r.path.endswith("applications/@me") for r in stands.discord.requests)


async def test_a_login_that_never_finishes_is_one_line(stands: Stands, tmp_path: Path) -> None:
    stands.discord.hang_next("GET", "/(?:oauth2/)?applications/@me")
    code, _, log, _ = await python_m_bot(
        cwd=deployment(tmp_path), env=process_env(stands, STARTUP_TIMEOUT="1"), timeout=30
    )
    assert code == 1
    assert "Traceback" not in log
    assert f"Discord ({stands.discord.api_base.split('/')[2]}) unreachable: login did not " \
           "finish within 3 s" in log


async def test_a_discord_outage_at_boot_is_waited_out(stands: Stands, tmp_path: Path) -> None:
    stands.discord.fail_next("GET", "/users/@me", 503)
    async with bot_process(stands, tmp_path) as process:
        await stands.discord.wait_until_ready(timeout=20)
        log = await terminated(process, 30)
    assert process.returncode == 0, log
    assert "unreachable: HTTP 503; retrying in 1 s (attempt 1 of 5)" in log


async def test_a_rejected_token_exits_2_at_once(stands: Stands, tmp_path: Path) -> None:
    code, _, log, _ = await python_m_bot(
        cwd=deployment(tmp_path), env=process_env(stands, DISCORD_TOKEN="wrong-token"),
        timeout=30,
    )
    assert code == 2
    assert "Discord rejected DISCORD_TOKEN" in log
    assert "retrying" not in log
    assert "Traceback" not in log


async def test_a_refused_message_content_intent_exits_2_at_once(
    openai_standin: OpenAIStandIn, greenflash_standin: GreenflashStandIn, tmp_path: Path
) -> None:
    # Discord closes the gateway with 4014 when a privileged intent is not enabled.
    async with DiscordStandIn(message_content_intent_granted=False,
                              reject_disallowed_intents=True) as refusing:
        stands = Stands(refusing, openai_standin, greenflash_standin)
        code, _, log, _ = await python_m_bot(cwd=deployment(tmp_path), env=process_env(stands),
                                             timeout=30)
    assert code == 2
    assert "Discord refused the Message Content intent" in log
    assert "Traceback" not in log


async def test_doctor_without_configuration_says_where_settings_go() -> None:
    env = {"PATH": os.environ["PATH"], "OPENAI_API_KEY": "x", "STARTUP_TIMEOUT": "soon"}
    code, out, _, _ = await python_m_bot("doctor", env=env)
    assert code == 1
    assert out.splitlines() == [
        f"FAIL  Configuration: {problem} (fix: set them in .env (copy .env.example to .env "
        "and fill it in) or, on Heroku, as config vars (heroku config:set NAME=value))"
        for problem in ("DISCORD_TOKEN is missing", "STARTUP_TIMEOUT must be a number (got 'soon')")
    ]


async def test_a_refused_connection_at_start_is_retried_and_named(silent: SilentServer) -> None:
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = silent_env(silent, STARTUP_TIMEOUT="1", STARTUP_ATTEMPTS="2",
                     DISCORD_STANDIN_API=f"http://127.0.0.1:{port}/api/v10")
    code, _, log, _ = await python_m_bot(env=env, timeout=30)
    assert code == 1
    assert "Traceback" not in log
    assert (f"Discord (127.0.0.1:{port}) unreachable: connection refused; retrying in 1 s "
            "(attempt 1 of 2)") in log
    last = [line for line in log.splitlines() if "Discord (" in line][-1]
    assert last.endswith(f"Discord (127.0.0.1:{port}) unreachable: connection refused (tried 2 "
                         "times; check the network)")
