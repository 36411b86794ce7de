"""The bot's own settings (Discord, the model, conversation limits), read once at start-up.

Attachments, storage, Greenflash, start-up checks and logs have their own models in their
own packages; :mod:`bot.config.environment` reads them all together. Greenflash settings
are deliberately absent here: the integration plan keeps every Greenflash environment
lookup in ``bot/greenflash_client.py``.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from openai.types.shared.reasoning_effort import ReasoningEffort
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.config.base import EnvSettings, comma_separated, invalid, one_of

DEFAULT_MODEL = "gpt-4o-mini"

REASONING_EFFORTS: tuple[str, ...] = tuple(
    value for arg in get_args(ReasoningEffort) for value in get_args(arg)
)
"""The values the installed openai SDK accepts for ``reasoning_effort``."""

TOKEN_PARAMETERS = ("auto", "max_completion_tokens", "max_tokens")
TOOLS_MODES = ("auto", "on", "off")
_CHOICES = {
    "reasoning_effort": REASONING_EFFORTS,
    "token_parameter": TOKEN_PARAMETERS,
    "tools": TOOLS_MODES,
}
"""Fields that take one of a few words, in any case."""

BOT_REQUEST_FIELDS = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "reasoning_effort",
})
"""Fields the bot sets itself; OPENAI_EXTRA_BODY may not override them (the SDK merges
``extra_body`` over the request, so an override would silently change the bot's request)."""

THREAD_ARCHIVE_MINUTES = (60, 1440, 4320, 10080)
"""The only ``auto_archive_duration`` values Discord accepts (Channels resource, "Start
Thread from Message"); anything else is a 400."""

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a Discord server. Answer concisely and use Discord "
    "markdown. Several people may talk to you in one channel; each of their messages starts "
    "with their name."
)


def discord_ids(raw: Any) -> Any:
    """``"1, 2 3"`` → ``{1, 2, 3}``: commas or spaces between ids, as people paste them."""
    if not isinstance(raw, str):
        return raw
    parts = comma_separated(raw.replace(" ", ","))
    if bad := [part for part in parts if not (part.isascii() and part.isdigit())]:
        raise invalid(f"must be comma-separated Discord ids (got {bad[0]!r})")
    return frozenset(int(part) for part in parts)


class DiscordLogin(EnvSettings):
    """What logging in to Discord needs: ``invite`` reads only this."""

    discord_token: SecretStr = Field(validation_alias="DISCORD_TOKEN")


class Settings(DiscordLogin):
    """The bot's configuration. Secrets are ``SecretStr``: no repr or log shows them."""

    openai_api_key: SecretStr = Field(validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    model: str = Field(default=DEFAULT_MODEL, validation_alias="OPENAI_MODEL")
    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, validation_alias="SYSTEM_PROMPT")
    max_tokens: int = Field(default=800, ge=1, validation_alias="OPENAI_MAX_TOKENS")
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, validation_alias="OPENAI_TEMPERATURE"
    )
    reasoning_effort: str | None = Field(default=None, validation_alias="OPENAI_REASONING_EFFORT")
    token_parameter: str = Field(default="auto", validation_alias="OPENAI_TOKEN_PARAMETER")
    tools: str = Field(default="auto", validation_alias="TOOLS")
    extra_body: dict[str, Any] = Field(default_factory=dict, validation_alias="OPENAI_EXTRA_BODY")
    openai_timeout: float = Field(default=120.0, ge=1.0, validation_alias="OPENAI_TIMEOUT")
    openai_connect_timeout: float = Field(
        default=5.0, ge=0.5, validation_alias="OPENAI_CONNECT_TIMEOUT"
    )
    openai_max_retries: int = Field(default=2, ge=0, validation_alias="OPENAI_MAX_RETRIES")
    stream_replies: bool = Field(default=True, validation_alias="STREAM_REPLIES")
    answer_dms: bool = Field(default=True, validation_alias="ANSWER_DMS")
    message_content_intent: bool = Field(default=True, validation_alias="MESSAGE_CONTENT_INTENT")
    chat_channel_ids: frozenset[int] = Field(
        default=frozenset(), validation_alias="CHAT_CHANNEL_IDS"
    )
    allowed_guild_ids: frozenset[int] = Field(
        default=frozenset(), validation_alias="ALLOWED_GUILD_IDS"
    )
    thread_channel_ids: frozenset[int] = Field(
        default=frozenset(), validation_alias="THREAD_CHANNEL_IDS"
    )
    thread_archive_minutes: int = Field(
        default=1440, validation_alias="THREAD_AUTO_ARCHIVE_MINUTES"
    )
    context_max_messages: int = Field(default=20, ge=1, validation_alias="CONTEXT_MAX_MESSAGES")
    context_max_chars: int = Field(default=12_000, ge=500, validation_alias="CONTEXT_MAX_CHARS")
    max_prompt_chars: int = Field(default=4_000, ge=100, validation_alias="MAX_PROMPT_CHARS")
    cooldown_rate: int = Field(default=5, ge=1, validation_alias="COOLDOWN_RATE")
    cooldown_seconds: float = Field(default=60.0, ge=0.0, validation_alias="COOLDOWN_SECONDS")
    feedback_reactions: bool = Field(default=False, validation_alias="FEEDBACK_REACTIONS")
    shard_count: int | None = Field(default=None, ge=0, validation_alias="SHARD_COUNT")
    shard_ids: tuple[int, ...] | None = Field(default=None, validation_alias="SHARD_IDS")
    shutdown_grace_seconds: float = Field(
        default=20.0, ge=1.0, validation_alias="SHUTDOWN_GRACE_SECONDS"
    )
    reply_max_messages: int = Field(default=10, ge=1, validation_alias="REPLY_MAX_MESSAGES")
    loop_stall_seconds: float = Field(default=1.0, ge=0.1, validation_alias="LOOP_STALL_SECONDS")

    @field_validator(*_CHOICES, mode="before")
    @classmethod
    def _choice(cls, raw: Any, info: ValidationInfo) -> Any:
        assert info.field_name is not None
        return one_of(raw, _CHOICES[info.field_name])

    @field_validator("chat_channel_ids", "allowed_guild_ids", "thread_channel_ids", mode="before")
    @classmethod
    def _ids(cls, raw: Any) -> Any:
        return discord_ids(raw)

    @field_validator("thread_archive_minutes")
    @classmethod
    def _archive_minutes(cls, minutes: int) -> int:
        if minutes not in THREAD_ARCHIVE_MINUTES:
            allowed = ", ".join(str(value) for value in THREAD_ARCHIVE_MINUTES)
            raise invalid(f"must be one of {allowed} (the minutes Discord accepts)")
        return minutes

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, raw: Any) -> Any:
        ids = discord_ids(raw)
        return tuple(sorted(ids)) or None if isinstance(ids, frozenset) else ids

    @field_validator("shard_count")
    @classmethod
    def _no_shards_is_automatic(cls, count: int | None) -> int | None:
        return count or None

    @field_validator("extra_body", mode="before")
    @classmethod
    def _extra_body(cls, raw: Any) -> Any:
        """A JSON object whose keys stay clear of the fields the bot sets itself."""
        if not isinstance(raw, str):
            return raw
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            raise invalid(f"must be a JSON object ({error.msg} at {error.pos})") from None
        if not isinstance(value, dict):
            raise invalid(f"must be a JSON object (got {type(value).__name__})")
        if clash := sorted(BOT_REQUEST_FIELDS & value.keys()):
            raise invalid(f"must not set {', '.join(clash)}: the bot sets them (use the "
                          "dedicated setting)")
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        if self.shard_ids and self.shard_count is None:
            raise PydanticCustomError("settings", "SHARD_IDS needs SHARD_COUNT")
        if self.shard_ids and self.shard_count and max(self.shard_ids) >= self.shard_count:
            raise PydanticCustomError(
                "settings", "SHARD_IDS must be below SHARD_COUNT ({count})",
                {"count": self.shard_count},
            )
        return self

    def guild_allowed(self, guild_id: int | None) -> bool:
        """DMs (no guild) are governed by ``answer_dms``, not by the guild allowlist."""
        return guild_id is None or not self.allowed_guild_ids or guild_id in self.allowed_guild_ids
