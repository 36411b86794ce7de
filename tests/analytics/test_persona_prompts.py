"""Personas reach Greenflash as versioned prompts: the real bot, an admin's ``/persona set``,
and the Greenflash stand-in's record of each message call's ``systemPrompt``."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.client import ChatBot
from bot.storage.channels import PERSONA_HEADING
from tests.bot_harness import Stands
from tests.helpers import DEFAULT_PROMPT_OBJECT, SYSTEM_PROMPT, answers_to, until
from tests.standins.discord_world import BOB, GENERAL_CHANNEL, GUILD_A, THREAD

PIRATE = "You are a pirate. Say arr."
BUTLER = "You are a butler. Be formal."


def persona_prompt(text: str) -> dict[str, Any]:
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return {
        "externalPromptId": f"persona:{GUILD_A}:{digest}",
        "components": [
            {"type": "system", "name": "system_prompt", "content": SYSTEM_PROMPT},
            {"type": "system", "name": "persona", "content": f"{PERSONA_HEADING}\n{text}"},
        ],
    }


async def ask(stands: Stands, channel_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bob asks; returns the prompt objects Greenflash got with the question and the
    answer."""
    sent = await stands.discord.send_message(channel_id, "who are you?", author=BOB,
                                             mention_bot=True)
    (reply, *_) = await until(lambda: answers_to(stands.discord, sent["id"]), "the answer",
                              changed=stands.discord.next_change)

    def both() -> list[dict[str, Any]] | None:
        found = [stands.greenflash.system_prompt_of(m) for m in (sent["id"], reply["id"])]
        return [entry for entry in found if entry] if all(found) else None

    found = await until(both, "both halves logged with their prompt")
    question, answer = ({key: entry[key] for key in ("externalPromptId", "components")}
                        for entry in found)
    return question, answer


async def set_persona(stands: Stands, text: str) -> None:
    interaction = await stands.discord.slash_command("persona set", {"text": text})
    await interaction.wait_for_callback()


async def test_each_persona_is_a_prompt_of_its_own_and_a_changed_one_a_new_one(
    stands: Stands, bot: ChatBot
) -> None:
    default = await ask(stands, GENERAL_CHANNEL)
    await set_persona(stands, PIRATE)
    pirate = await ask(stands, GENERAL_CHANNEL)
    in_thread = await ask(stands, THREAD)
    await set_persona(stands, BUTLER)
    butler = await ask(stands, GENERAL_CHANNEL)

    assert default == (DEFAULT_PROMPT_OBJECT, DEFAULT_PROMPT_OBJECT)
    assert pirate == (persona_prompt(PIRATE), persona_prompt(PIRATE))
    assert in_thread == pirate, "a thread's messages carry its parent's persona prompt"
    assert butler == (persona_prompt(BUTLER), persona_prompt(BUTLER))
    assert bot.analytics.stats.failed == 0
    stored = {prompt["externalPromptId"]: prompt for prompt in stands.greenflash.prompts.values()}
    assert set(stored) == {DEFAULT_PROMPT_OBJECT["externalPromptId"],
                           persona_prompt(PIRATE)["externalPromptId"],
                           persona_prompt(BUTLER)["externalPromptId"]}
