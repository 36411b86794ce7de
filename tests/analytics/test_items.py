"""The message items Greenflash gets, over generated prompts and replies: ids travel as
strings (the integration plan: an int reaches the wire as a number), the answer is
threaded to its question, and the organization is named exactly when there is a guild."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.items import assistant_item, conversation_fields, system_prompt, user_item
from bot.conversation.exchange import Prompt, Reply, Trigger, Usage, Voice
from bot.conversation.personas import voice_of
from bot.storage import ChannelSettings

snowflakes = st.integers(min_value=1, max_value=2**63 - 1)
names = st.text(max_size=40)
moments = st.datetimes(timezones=st.just(UTC), min_value=datetime(2015, 1, 1))

prompts = st.builds(
    Prompt, text=st.text(max_size=200), message_id=snowflakes, created_at=moments,
    user_id=snowflakes, user_name=names, username=names, account_name=names,
    channel_id=snowflakes, channel_name=names, guild_id=st.none() | snowflakes,
    guild_name=st.none() | names.filter(bool), trigger=st.sampled_from(Trigger),
    truncated=st.booleans(),
)
replies = st.builds(
    Reply, text=st.text(max_size=200), message_ids=st.lists(snowflakes, min_size=1,
                                                            max_size=10).map(tuple),
    created_at=moments, model=names, latency_ms=st.integers(0, 10**6),
    usage=st.builds(Usage, st.integers(0, 10**6), st.integers(0, 10**6)),
)
voices = st.builds(Voice, model=names, system_prompt=st.text(max_size=100), persona=names)


@given(prompts, replies)
def test_the_answer_is_threaded_to_its_question_by_string_ids(
    prompt: Prompt, reply: Reply
) -> None:
    asked, answered = user_item(prompt), assistant_item(prompt, reply)
    assert asked["external_message_id"] == str(prompt.message_id)
    assert answered["external_message_id"] == str(reply.message_ids[0])
    assert answered["parent_external_message_id"] == asked["external_message_id"]
    assert (asked["role"], answered["role"]) == ("user", "assistant")
    assert answered["content"] == reply.text
    assert answered["properties"]["discord_messages"] == len(reply.message_ids)


@given(prompts, voices)
def test_the_organization_is_named_exactly_when_there_is_a_guild(
    prompt: Prompt, voice: Voice
) -> None:
    fields = conversation_fields(prompt, voice)
    assert fields.get("external_organization_id") == (
        None if prompt.guild_id is None else str(prompt.guild_id)
    )
    assert fields["external_conversation_id"] == str(prompt.channel_id)
    assert fields["external_user_id"] == str(prompt.user_id)
    assert (fields["model"], fields["system_prompt"]) == (voice.model, voice.system_prompt)
    assert ("guild_name" in fields["properties"]) == bool(prompt.guild_name)


channel_voices = st.builds(
    voice_of,
    st.builds(ChannelSettings, persona=st.none() | st.text(min_size=1, max_size=300),
              persona_channel_id=snowflakes, model=names, model_source=st.just("channel")),
    st.text(min_size=1, max_size=300), st.none() | snowflakes,
)


@given(prompts, channel_voices)
def test_a_channels_voice_is_logged_as_its_prompt_with_one_component_per_part(
    prompt: Prompt, voice: Voice
) -> None:
    """What Greenflash versions is exactly what the model got, piece by piece."""
    sent = conversation_fields(prompt, voice)["system_prompt"]
    assert sent == system_prompt(voice)
    assert isinstance(sent, dict)
    assert sent["external_prompt_id"] == voice.prompt_id
    components = list(sent["components"])
    assert [(c["type"], c["name"], c["content"]) for c in components] == [
        ("system", part.name, part.content) for part in voice.parts]
    assert "\n\n".join(c["content"] for c in components) == voice.system_prompt


@given(voices)
def test_a_voice_without_a_prompt_id_is_logged_as_flat_text(voice: Voice) -> None:
    assert system_prompt(voice) == voice.system_prompt
