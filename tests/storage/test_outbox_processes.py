"""The outbox across processes that die: ``python -m bot`` killed with SIGKILL during a
Greenflash outage, worker processes sharing one PostgreSQL outbox, and a worker killed
between Greenflash storing a call and the row's delete. Every call arrives once, by the
ids the stand-in records."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.analytics.outbox import encode
from tests.bot_harness import Stands, process_env
from tests.cli.test_process import deployment, start_bot
from tests.standins.discord_world import ALICE, BOB, GENERAL_CHANNEL, GUILD_A
from tests.standins.greenflash_server import GreenflashStandIn
from tests.storage.conftest import Backend
from tests.storage.test_outbox_sender import summary_until
from tests.storage.test_processes import answer_to, stop

ROOT = Path(__file__).resolve().parents[2]
FAST = {"GREENFLASH_TIMEOUT": "1", "GREENFLASH_MAX_RETRIES": "0"}


def ids(greenflash: GreenflashStandIn, path: str, key: str) -> Counter[str]:
    """How many accepted requests to ``path`` carried each ``key``."""
    found: Counter[str] = Counter()
    for record in greenflash.accepted_for(path):
        items = record.json.get("messages", [record.json])
        found.update(str(item.get(key, record.json.get(key))) for item in items)
    return found


async def killed(process: asyncio.subprocess.Process) -> None:
    process.kill()
    await asyncio.wait_for(process.communicate(), timeout=30)


async def test_a_bot_killed_during_an_outage_loses_nothing_and_duplicates_nothing(
    stands: Stands, backend: Backend, tmp_path: Path
) -> None:
    app = deployment(tmp_path)
    env = process_env(stands, **FAST, **backend.env())
    storage = backend.storage()
    await stands.greenflash.down()
    first = await start_bot(app, env)
    try:
        await stands.discord.wait_until_ready(timeout=20)
        question = await stands.discord.send_message(GENERAL_CHANNEL, "kept?", author=BOB,
                                                     mention_bot=True)
        reply = await answer_to(stands, BOB, "and this?")
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(reply["id"]), "👍", user=BOB)
        reset = await stands.discord.slash_command("reset", user=ALICE)
        # Two questions, two answers, Bob, the guild, the rating and the reset event, all
        # tried once and none held: the outage is under way (from now on only the oldest
        # call, a message, is tried, after a pause).
        await summary_until(storage, lambda s: s.pending == 8 and not s.claimed,
                            "eight calls written and tried", 20)
    finally:
        await killed(first)
    await stands.greenflash.up()
    second = await start_bot(app, env)
    try:
        await stands.discord.wait_until_ready(timeout=20)
        await summary_until(storage, lambda s: s.pending == 0, "an empty outbox", 30)
    finally:
        log = await stop(second)
        await storage.close()
    greenflash = stands.greenflash
    messages = ids(greenflash, "/messages", "externalMessageId")
    assert question["id"] in messages and reply["id"] in messages
    assert len(messages) == 4 and set(messages.values()) == {1}, messages
    assert ids(greenflash, "/users", "externalUserId") == Counter({BOB["id"]: 1})
    assert ids(greenflash, "/organizations", "externalOrganizationId") == Counter(
        {str(GUILD_A): 1})
    assert [rating["externalMessageId"] for rating in greenflash.ratings] == [reply["id"]]
    assert ids(greenflash, "/events", "insertId") == Counter(
        {f"conversation_reset:{reset.id}": 1})
    assert "0 call(s) wait in the outbox" in log


async def worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.storage.outbox_worker", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process) -> str:
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode()
    return stderr.decode()


def message_call(number: int) -> tuple[str, str]:
    return "message", encode({
        "product_id": "prod-standin", "external_user_id": "42",
        "external_conversation_id": "7",
        "messages": [{"role": "user", "content": f"q{number}",
                      "external_message_id": str(number)}],
    })


@pytest.mark.parametrize("empty_backend", ["postgresql"], indirect=True)
async def test_two_workers_on_one_postgresql_outbox_never_send_a_call_twice(
    backend: Backend, greenflash_standin: GreenflashStandIn
) -> None:
    storage = backend.storage()
    await storage.outbox.add([message_call(number) for number in range(300)])
    greenflash_standin.latency = 0.005
    env = process_env_for(greenflash_standin, backend)
    try:
        logs = await asyncio.gather(*[finished(await worker(env)) for _ in range(2)])
    finally:
        await storage.close()
    sent = ids(greenflash_standin, "/messages", "externalMessageId")
    assert sent == Counter({str(number): 1 for number in range(300)})
    assert all("greenflash closed: sent=0 " not in log for log in logs), "both took part"


async def test_a_worker_killed_between_the_send_and_the_delete_resends_without_a_duplicate(
    backend: Backend, greenflash_standin: GreenflashStandIn
) -> None:
    """Greenflash stores the call and holds its answer; the worker is killed meanwhile,
    its row still claimed. Once the lease runs out, the next worker sends it again and
    Greenflash skips the message it has."""
    storage = backend.storage()
    await storage.outbox.add([message_call(1)])
    greenflash_standin.answer_late_next(60, path="/messages")
    env = process_env_for(greenflash_standin, backend) | {"GREENFLASH_TIMEOUT": "3"}
    first = await worker(env)
    try:
        await greenflash_standin.wait_for_accepted("/messages", 1, timeout=20)
    finally:
        await killed(first)
    second = await worker(process_env_for(greenflash_standin, backend))
    try:
        await finished(second)
        left = await storage.outbox.summary()
    finally:
        await storage.close()
    assert len(greenflash_standin.accepted_for("/messages")) == 2, "sent again"
    assert [m["externalMessageId"] for m in greenflash_standin.stored_messages()] == ["1"]
    assert (left.pending, left.dead) == (0, 0)


def process_env_for(greenflash: GreenflashStandIn, backend: Backend) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "GREENFLASH_API_KEY": "gf-key",
            "GREENFLASH_BASE_URL": greenflash.base_url, **FAST, **backend.env()}
