"""What the agent may use: how many rounds, how long a tool may take, the web search
backend. ``TOOLS`` itself (whether the model is offered tools at all) is a model setting in
:class:`bot.config.settings.Settings`, beside the other request-shape switches."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.config.base import EnvSettings, invalid, one_of

WEB_SEARCH_BACKENDS = ("off", "searxng", "brave")


class AgentSettings(EnvSettings):
    max_steps: int = Field(default=4, ge=1, le=10, validation_alias="TOOL_MAX_STEPS")
    tool_timeout: float = Field(default=20.0, ge=1.0, le=120.0,
                                validation_alias="TOOL_TIMEOUT_SECONDS")
    web_search: str = Field(default="off", validation_alias="WEB_SEARCH")
    searxng_url: str | None = Field(default=None, validation_alias="SEARXNG_URL")
    brave_api_key: SecretStr | None = Field(default=None, validation_alias="BRAVE_API_KEY")
    page_max_bytes: int = Field(default=2 * 1024 * 1024, ge=10_000,
                                validation_alias="PAGE_MAX_BYTES")

    @field_validator("web_search", mode="before")
    @classmethod
    def _web_search(cls, raw: Any) -> Any:
        return one_of(raw, WEB_SEARCH_BACKENDS)

    @field_validator("searxng_url")
    @classmethod
    def _searxng_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise invalid("must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _backend_configured(self) -> AgentSettings:
        """A backend without its address or key would fail on the first question; say so at
        start-up instead."""
        if self.web_search == "searxng" and self.searxng_url is None:
            raise invalid("WEB_SEARCH=searxng needs SEARXNG_URL")
        if self.web_search == "brave" and self.brave_api_key is None:
            raise invalid("WEB_SEARCH=brave needs BRAVE_API_KEY")
        return self
