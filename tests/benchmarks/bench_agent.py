"""What one ``read_channel`` round adds to a question, the model answering at once.

Run: ``python -m tests.benchmarks.bench_agent [--questions 100]``.

The real bot in this process against the three stand-ins (Discord's rate limits off, so
its own pacing does not hide the loop's cost): the same question is answered either
straight away (the model answers without calling a tool) or after one round in which the
model calls ``read_channel`` on a 20-message channel and then answers. The two kinds take
turns, so drift on the machine falls on both. A question's time runs from its
MESSAGE_CREATE leaving the Discord stand-in until the answer's text is on Discord (the
status line posted, then edited into the answer, for the tool round). Replies are not
streamed, so each costs the same Discord requests but for the status line.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from tests.benchmarks.harness import percentile, table
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import with_values
from tests.standins.discord_server import GENERAL_CHANNEL, THREAD, DiscordStandIn
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.standins.openai_tools import tool_results


def answer(body: dict[str, Any]) -> str:
    return f"answer {len(tool_results(body))}"


async def ask(stands: Stands, number: int, tools: bool) -> float:
    """Seconds from the question leaving the stand-in to its answer on Discord."""
    if tools:
        stands.openai.script_tool_calls(
            [{"name": "read_channel", "arguments": {"channel": "general thread"}}])
    text = f"question {number}"
    started = time.perf_counter()
    await stands.discord.send_message(GENERAL_CHANNEL, text, mention_bot=True)
    wanted = "answer 1" if tools else "answer 0"

    def answered() -> bool | None:
        return any(m["content"] == wanted and m["message_reference"]["message_id"]
                   for m in stands.discord.sent_messages(GENERAL_CHANNEL)[-1:]) or None

    await stands.discord.until(answered, 10.0, f"the answer to {text}")
    return time.perf_counter() - started


async def main(questions: int) -> None:
    async with (DiscordStandIn(rate_limits=False) as discord, OpenAIStandIn() as openai,
                GreenflashStandIn() as greenflash):
        stands = Stands(discord, openai, greenflash)
        for line in range(20):
            await discord.send_message(THREAD, f"history line {line}")
        openai.reply_with(answer)
        settings = with_values(bot_settings(stands), stream_replies=False,
                               cooldown_rate=1_000_000)
        timings: dict[bool, list[float]] = {False: [], True: []}
        async with running_bot(stands, settings):
            for number in range(2 * questions + 10):
                tools = number % 2 == 1
                seconds = await ask(stands, number, tools)
                if number >= 10:  # the first few warm the connections and the caches
                    timings[tools].append(seconds * 1000)
    plain, agent = timings[False], timings[True]
    rows = [
        ("no tool", len(plain), f"{percentile(plain, 50):.2f}", f"{percentile(plain, 99):.2f}",
         "1.000"),
        ("one read_channel round", len(agent), f"{percentile(agent, 50):.2f}",
         f"{percentile(agent, 99):.2f}", f"{percentile(agent, 50) / percentile(plain, 50):.3f}"),
    ]
    print(table(["question", "answers", "p50 ms", "p99 ms", "p50 / no tool"], rows))
    print(f"\nadded by the round, p50: "
          f"{percentile(agent, 50) - percentile(plain, 50):.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100, help="of each kind")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.questions))
