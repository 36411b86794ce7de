"""The storage settings, read from the environment with the bot's :class:`EnvReader`.

They live here rather than in ``bot/config/settings.py`` so that everything about the database
(where it is, how long a read may take, how long a read is trusted) stays in one package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config.settings import EnvReader
from bot.storage.budget import Budget
from bot.storage.urls import engine_url

DEFAULT_DATABASE_PATH = "data/bot.sqlite3"
# Discord caps an autocomplete choice's value at 100 characters.
MAX_MODEL_NAME = 100


@dataclass(frozen=True)
class StorageConfig:
    """Where the database is and the operator's limits. ``repr`` never shows the URL,
    which carries the database password on Heroku."""

    database_url: str = field(default="", repr=False)
    database_path: str = DEFAULT_DATABASE_PATH
    timeout: float = 2.0
    cache_seconds: float = 30.0
    model_allowlist: tuple[str, ...] = ("gpt-4o-mini",)
    default_budget: Budget = field(default_factory=Budget)
    admin_role: str = ""
    budget_exempt_admins: bool = True
    usage_retention_days: int = 35

    @property
    def default_model(self) -> str:
        return self.model_allowlist[0]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, default_model: str = "gpt-4o-mini"
    ) -> StorageConfig:
        """``default_model`` (the operator's ``OPENAI_MODEL``) is the whole allowlist when
        ``MODEL_ALLOWLIST`` is unset, so a bot without it behaves exactly as before."""
        env = EnvReader(environ)
        allowlist = tuple(
            dict.fromkeys(
                name.strip() for name in env.text("MODEL_ALLOWLIST", "").split(",") if name.strip()
            )
        ) or (default_model,)
        too_long = [name for name in allowlist if len(name) > MAX_MODEL_NAME]
        if too_long:
            env.problems.append(
                f"MODEL_ALLOWLIST names must be at most {MAX_MODEL_NAME} characters "
                f"(got {too_long[0][:20]!r}...)"
            )
        database_url = env.secret("DATABASE_URL", required=False)
        try:
            engine_url(database_url, DEFAULT_DATABASE_PATH)
        except ValueError as error:
            env.problems.append(str(error))
        config = cls(
            database_url=database_url,
            database_path=env.text("DATABASE_PATH", cls.database_path),
            timeout=env.number("DATABASE_TIMEOUT", cls.timeout, minimum=0.1),
            cache_seconds=env.number("SETTINGS_CACHE_SECONDS", cls.cache_seconds),
            model_allowlist=allowlist,
            default_budget=Budget(
                tokens=env.integer("DAILY_TOKEN_BUDGET", 0) or None,
                messages=env.integer("DAILY_MESSAGE_BUDGET", 0) or None,
            ),
            admin_role=env.text("ADMIN_ROLE", ""),
            budget_exempt_admins=env.flag("BUDGET_EXEMPT_ADMINS", cls.budget_exempt_admins),
            usage_retention_days=env.integer(
                "USAGE_RETENTION_DAYS", cls.usage_retention_days, minimum=1
            ),
        )
        env.raise_if_problems()
        return config
