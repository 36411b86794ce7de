"""``python -m bot`` processes on one database, as Heroku runs them: the release phase's
``migrate``, workers that share one count of each person's use, and a worker that refuses
a schema it does not know."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from bot.conversation.notices import BUDGET_REACHED
from bot.storage import head
from tests.bot_harness import Stands, process_env
from tests.cli.test_process import deployment, start_bot
from tests.helpers import answers_to, until
from tests.standins.discord_world import ALICE, BOB, GENERAL_CHANNEL
from tests.storage.conftest import Backend


async def migrate_command(app: Path, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate", cwd=app, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, (stdout + stderr).decode().strip()


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, as a dyno restart sends it; the process's log."""
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    return stderr.decode()


async def answer_to(stands: Stands, author: dict, text: str) -> dict:
    sent = await stands.discord.send_message(GENERAL_CHANNEL, text, author=author,
                                             mention_bot=True)
    (reply, *_) = await until(lambda: answers_to(stands.discord, sent["id"]),
                              f"the answer to {text!r}", 15, changed=stands.discord.next_change)
    return reply


async def test_migrate_brings_an_empty_database_to_this_release_and_refuses_an_unknown_one(
    empty_backend: Backend, tmp_path: Path
) -> None:
    app = deployment(tmp_path)
    env = {"PATH": "/usr/bin:/bin", **empty_backend.env()}
    if empty_backend.server is not None:  # the test server trusts any password
        env["DATABASE_URL"] = env["DATABASE_URL"].replace("postgres@", "postgres:s3cret@")
    first = await migrate_command(app, env)
    again = await migrate_command(app, env)
    await empty_backend.stamp("f00d")
    unknown = await migrate_command(app, env)
    assert first == (0, first[1]) and f"migrated to revision {head()}" in first[1]
    assert again[0] == 0 and f"already at revision {head()}" in again[1]
    assert unknown[0] == 1
    assert "schema this release does not know" in unknown[1]
    for _, output in (first, again, unknown):
        assert "\n" not in output
        assert "s3cret" not in output, "the URL is shown with its password hidden"


async def test_a_person_past_the_budget_in_one_worker_is_refused_by_the_next(
    stands: Stands, backend: Backend, tmp_path: Path
) -> None:
    """Two bot processes, one after the other on one database (a restart, or a deploy's
    new dyno): the second counts what the first one answered."""
    app = deployment(tmp_path)
    env = process_env(stands, DAILY_MESSAGE_BUDGET="1", **backend.env())
    first = await start_bot(app, env)
    try:
        await stands.discord.wait_until_ready(timeout=20)
        answered = await answer_to(stands, BOB, "first question")
    finally:
        await stop(first)
    second = await start_bot(app, env)
    try:
        await stands.discord.wait_until_ready(timeout=20)
        refused = await answer_to(stands, BOB, "second question")
        calls = len(stands.openai.requests)
        # The guild's owner is exempt: a later answer that does call the model.
        exempt = await answer_to(stands, ALICE, "an admin's question")
    finally:
        await stop(second)
    assert not answered["content"].startswith("You've reached")
    assert refused["content"].startswith(BUDGET_REACHED.split("{", 1)[0])
    assert calls == 1, "no model call for the question past the budget"
    assert len(stands.openai.requests) == 2
    assert not exempt["content"].startswith("You've reached")


async def test_a_worker_refuses_to_start_in_one_line_on_a_schema_it_does_not_know(
    stands: Stands, backend: Backend, tmp_path: Path
) -> None:
    await backend.stamp("f00d")
    process = await start_bot(deployment(tmp_path), process_env(stands, **backend.env()))
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    errors = [line for line in stderr.decode().splitlines() if "ERROR" in line]
    assert process.returncode == 2
    assert len(errors) == 1, stderr.decode()
    assert "schema this release does not know" in errors[0]
    assert stands.openai.requests == []
