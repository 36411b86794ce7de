"""Every bot setting in one typed object, read once at start-up.

Reading is split from validation so that start-up can report *every* bad variable in one
line instead of failing on the first one; an operator fixing a Heroku config should not
have to redeploy once per typo. Greenflash settings are deliberately absent: the
integration plan keeps all Greenflash environment lookups in ``bot/greenflash_client.py``,
which reuses :class:`EnvReader` for the same error reporting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

from openai.types.shared.reasoning_effort import ReasoningEffort

from bot.attachments.config import AttachmentSettings

T = TypeVar("T", int, float)

REASONING_EFFORTS: tuple[str, ...] = tuple(
    value for arg in get_args(ReasoningEffort) for value in get_args(arg)
)
"""The values the installed openai SDK accepts for ``reasoning_effort``."""

TOKEN_PARAMETERS = ("auto", "max_completion_tokens", "max_tokens")

BOT_REQUEST_FIELDS = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "reasoning_effort",
})
"""Fields the bot sets itself; OPENAI_EXTRA_BODY may not override them (the SDK merges
``extra_body`` over the request, so an override would silently change the bot's request)."""

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

    def _converted(self, name: str, convert: Callable[[str], T], kind: str) -> T | None:
        """The variable converted, or None when unset or (reported) unreadable."""
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError:
            self.problems.append(f"{name} must be {kind} (got {raw!r})")
            return None

    def _at_least(self, name: str, value: T | None, default: T, minimum: float) -> T:
        if value is None:
            return default
        if value < minimum:
            self.problems.append(f"{name} must be at least {minimum} (got {value})")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self._converted(name, int, "a whole number")
        return self._at_least(name, value, default, minimum)

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._converted(name, float, "a number")
        return self._at_least(name, value, default, minimum)

    def optional_number(
        self, name: str, *, minimum: float, maximum: float
    ) -> float | None:
        """A number within the API's range, or None when unset: the API's default applies."""
        value = self._converted(name, float, "a number")
        if value is not None and not minimum <= value <= maximum:
            self.problems.append(
                f"{name} must be between {minimum:g} and {maximum:g} (got {value:g})"
            )
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() not in choices:
            self.problems.append(f"{name} must be one of {', '.join(choices)} (got {raw!r})")
            return default
        return raw.lower()

    def json_object(self, name: str, *, reserved: frozenset[str]) -> dict[str, Any]:
        """A JSON object whose keys stay clear of ``reserved``."""
        raw = self._raw(name)
        if raw is None:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as error:
            self.problems.append(f"{name} must be a JSON object ({error.msg} at {error.pos})")
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{name} must be a JSON object (got {type(value).__name__})")
            return {}
        if clash := sorted(reserved & value.keys()):
            self.problems.append(
                f"{name} must not set {', '.join(clash)}: the bot sets them (use the "
                "dedicated setting)"
            )
            return {}
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
    temperature: float | None = None
    reasoning_effort: str | None = None
    token_parameter: str = "auto"
    extra_body: dict[str, Any] = field(default_factory=dict)
    openai_timeout: float = 120.0
    openai_connect_timeout: float = 5.0
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
    reply_max_messages: int = 10
    loop_stall_seconds: float = 1.0
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)

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
            temperature=env.optional_number("OPENAI_TEMPERATURE", minimum=0.0, maximum=2.0),
            reasoning_effort=env.choice("OPENAI_REASONING_EFFORT", REASONING_EFFORTS, None),
            token_parameter=env.choice(
                "OPENAI_TOKEN_PARAMETER", TOKEN_PARAMETERS, cls.token_parameter
            ) or cls.token_parameter,
            extra_body=env.json_object("OPENAI_EXTRA_BODY", reserved=BOT_REQUEST_FIELDS),
            openai_timeout=env.number("OPENAI_TIMEOUT", cls.openai_timeout, minimum=1.0),
            openai_connect_timeout=env.number(
                "OPENAI_CONNECT_TIMEOUT", cls.openai_connect_timeout, minimum=0.5
            ),
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
            reply_max_messages=env.integer(
                "REPLY_MAX_MESSAGES", cls.reply_max_messages, minimum=1
            ),
            loop_stall_seconds=env.number(
                "LOOP_STALL_SECONDS", cls.loop_stall_seconds, minimum=0.1
            ),
            attachments=AttachmentSettings.from_env(env),
        )
        env.raise_if_problems()
        return settings

    def guild_allowed(self, guild_id: int | None) -> bool:
        """DMs (no guild) are governed by ``answer_dms``, not by the guild allowlist."""
        return guild_id is None or not self.allowed_guild_ids or guild_id in self.allowed_guild_ids
