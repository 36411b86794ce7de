"""Every bot setting in one typed object, read once at start-up.

Reading is split from validation so that start-up can report *every* bad variable in one
line instead of failing on the first one; an operator fixing a Heroku config should not
have to redeploy once per typo. Greenflash settings are deliberately absent: the
integration plan keeps all Greenflash environment lookups in ``bot/greenflash_client.py``,
which reuses :class:`EnvReader` for the same error reporting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a Discord server. Answer concisely and use Discord "
    "markdown. Several people may talk to you in one channel; each of their messages starts "
    "with their name."
)


class SettingsError(Exception):
    """Raised with every problem found, so the operator sees them all at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


class EnvReader:
    """Typed reads from an environment mapping that collect problems instead of raising."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.problems: list[str] = []

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def secret(self, name: str, *, required: bool = True) -> str:
        value = self._raw(name)
        if value is None and required:
            self.problems.append(f"{name} is missing")
        return value or ""

    def text(self, name: str, default: str) -> str:
        return self._raw(name) or default

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number (got {raw!r})")
            return default
        if value < minimum:
            self.problems.append(f"{name} must be at least {minimum} (got {value})")
            return default
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name} must be a number (got {raw!r})")
            return default
        if value < minimum:
            self.problems.append(f"{name} must be at least {minimum} (got {value})")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{name} must be true or false (got {raw!r})")
        return default

    def ids(self, name: str) -> frozenset[int]:
        raw = self._raw(name)
        if raw is None:
            return frozenset()
        parts = [part.strip() for part in raw.replace(" ", ",").split(",") if part.strip()]
        bad = [part for part in parts if not part.isdigit()]
        if bad:
            self.problems.append(f"{name} must be comma-separated Discord ids (got {bad[0]!r})")
            return frozenset()
        return frozenset(int(part) for part in parts)

    def raise_if_problems(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


@dataclass(frozen=True)
class Settings:
    """The bot's configuration. ``repr`` never shows the secrets."""

    discord_token: str = field(repr=False)
    openai_api_key: str = field(repr=False)
    model: str = "gpt-4o-mini"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_tokens: int = 800
    temperature: float = 0.7
    openai_timeout: float = 30.0
    openai_max_retries: int = 2
    stream_replies: bool = True
    answer_dms: bool = True
    message_content_intent: bool = True
    chat_channel_ids: frozenset[int] = frozenset()
    allowed_guild_ids: frozenset[int] = frozenset()
    context_max_messages: int = 20
    context_max_chars: int = 12_000
    max_prompt_chars: int = 4_000
    cooldown_rate: int = 5
    cooldown_seconds: float = 60.0
    feedback_reactions: bool = False
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    shutdown_grace_seconds: float = 20.0
    loop_stall_seconds: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = EnvReader(environ)
        shard_count = env.integer("SHARD_COUNT", 0, minimum=0) or None
        shard_ids = tuple(sorted(env.ids("SHARD_IDS"))) or None
        if shard_ids and shard_count is None:
            env.problems.append("SHARD_IDS needs SHARD_COUNT")
        if shard_ids and shard_count and max(shard_ids) >= shard_count:
            env.problems.append(f"SHARD_IDS must be below SHARD_COUNT ({shard_count})")
        settings = cls(
            discord_token=env.secret("DISCORD_TOKEN"),
            openai_api_key=env.secret("OPENAI_API_KEY"),
            model=env.text("OPENAI_MODEL", cls.model),
            system_prompt=env.text("SYSTEM_PROMPT", cls.system_prompt),
            max_tokens=env.integer("OPENAI_MAX_TOKENS", cls.max_tokens, minimum=1),
            temperature=env.number("OPENAI_TEMPERATURE", cls.temperature),
            openai_timeout=env.number("OPENAI_TIMEOUT", cls.openai_timeout, minimum=1.0),
            openai_max_retries=env.integer("OPENAI_MAX_RETRIES", cls.openai_max_retries),
            stream_replies=env.flag("STREAM_REPLIES", cls.stream_replies),
            answer_dms=env.flag("ANSWER_DMS", cls.answer_dms),
            message_content_intent=env.flag("MESSAGE_CONTENT_INTENT", cls.message_content_intent),
            chat_channel_ids=env.ids("CHAT_CHANNEL_IDS"),
            allowed_guild_ids=env.ids("ALLOWED_GUILD_IDS"),
            context_max_messages=env.integer(
                "CONTEXT_MAX_MESSAGES", cls.context_max_messages, minimum=1
            ),
            context_max_chars=env.integer("CONTEXT_MAX_CHARS", cls.context_max_chars, minimum=500),
            max_prompt_chars=env.integer("MAX_PROMPT_CHARS", cls.max_prompt_chars, minimum=100),
            cooldown_rate=env.integer("COOLDOWN_RATE", cls.cooldown_rate, minimum=1),
            cooldown_seconds=env.number("COOLDOWN_SECONDS", cls.cooldown_seconds),
            feedback_reactions=env.flag("FEEDBACK_REACTIONS", cls.feedback_reactions),
            shard_count=shard_count,
            shard_ids=shard_ids,
            shutdown_grace_seconds=env.number(
                "SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, minimum=1.0
            ),
            loop_stall_seconds=env.number(
                "LOOP_STALL_SECONDS", cls.loop_stall_seconds, minimum=0.1
            ),
        )
        env.raise_if_problems()
        return settings

    def guild_allowed(self, guild_id: int | None) -> bool:
        """DMs (no guild) are governed by ``answer_dms``, not by the guild allowlist."""
        return guild_id is None or not self.allowed_guild_ids or guild_id in self.allowed_guild_ids
