"""The storage settings.

They live here rather than in ``bot/config/settings.py`` so that everything about the database
(where it is, how long a read may take, how long a read is trusted) stays in one package.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from bot.config.base import EnvSettings, comma_separated, invalid
from bot.config.settings import DEFAULT_MODEL
from bot.storage.budget import Budget
from bot.storage.urls import engine_url

DEFAULT_DATABASE_PATH = "data/bot.sqlite3"
# Discord caps an autocomplete choice's value at 100 characters.
MAX_MODEL_NAME = 100


class StorageConfig(EnvSettings):
    """Where the database is and the operator's limits. The URL is a ``SecretStr``: it
    carries the database password on Heroku."""

    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    database_path: str = Field(default=DEFAULT_DATABASE_PATH, validation_alias="DATABASE_PATH")
    timeout: float = Field(default=2.0, ge=0.1, validation_alias="DATABASE_TIMEOUT")
    cache_seconds: float = Field(default=30.0, ge=0.0, validation_alias="SETTINGS_CACHE_SECONDS")
    model_allowlist: tuple[str, ...] = Field(
        default=(DEFAULT_MODEL,), validation_alias="MODEL_ALLOWLIST"
    )
    """Unset, it is ``OPENAI_MODEL`` alone (see :meth:`allowing`)."""
    daily_token_budget: int = Field(default=0, ge=0, validation_alias="DAILY_TOKEN_BUDGET")
    daily_message_budget: int = Field(default=0, ge=0, validation_alias="DAILY_MESSAGE_BUDGET")
    admin_role: str = Field(default="", validation_alias="ADMIN_ROLE")
    budget_exempt_admins: bool = Field(default=True, validation_alias="BUDGET_EXEMPT_ADMINS")
    usage_retention_days: int = Field(default=35, ge=1, validation_alias="USAGE_RETENTION_DAYS")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: SecretStr | None) -> SecretStr | None:
        """The message names the scheme only, never the URL (it holds the password)."""
        try:
            engine_url(url.get_secret_value() if url else "", DEFAULT_DATABASE_PATH)
        except ArgumentError:
            raise invalid("is not a URL (postgres://user:password@host:5432/dbname)") from None
        except ValueError as error:
            raise invalid(str(error).removeprefix("DATABASE_URL ")) from None
        return url

    @field_validator("model_allowlist", mode="before")
    @classmethod
    def _allowlist(cls, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        names = comma_separated(raw)
        if too_long := [name for name in names if len(name) > MAX_MODEL_NAME]:
            raise invalid(f"names must be at most {MAX_MODEL_NAME} characters "
                          f"(got {too_long[0][:20]!r}...)")
        return names

    def allowing(self, default_model: str) -> StorageConfig:
        """``default_model`` (the operator's ``OPENAI_MODEL``) is the whole allowlist when
        ``MODEL_ALLOWLIST`` is unset, so a bot without it behaves exactly as before."""
        if "model_allowlist" in self.model_fields_set:
            return self
        return self.model_copy(update={"model_allowlist": (default_model,)})

    @property
    def default_model(self) -> str:
        return self.model_allowlist[0]

    @property
    def default_budget(self) -> Budget:
        """The operator's daily budget per person; 0 is no limit."""
        return Budget(tokens=self.daily_token_budget or None,
                      messages=self.daily_message_budget or None)

    def engine_url(self) -> URL:
        """The SQLAlchemy URL: the one place the database password is taken out."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        return engine_url(url, self.database_path)
