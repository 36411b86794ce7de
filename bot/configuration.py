"""Reading every configuration source once, for the bot and the doctor alike."""

from __future__ import annotations

from bot.greenflash_client import GreenflashSettings
from bot.products import ProductConfig
from bot.settings import Settings, SettingsError


def load_configuration() -> tuple[Settings, GreenflashSettings, ProductConfig]:
    """All problems from all sources gathered into one :class:`SettingsError`."""
    problems: list[str] = []
    settings = greenflash_settings = products = None
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        problems += error.problems
    try:
        greenflash_settings = GreenflashSettings.from_env()
    except SettingsError as error:
        problems += error.problems
    try:
        products = ProductConfig.load()
    except ValueError as error:  # tomllib.TOMLDecodeError is a ValueError
        problems.append(f"bot/products.toml: {error}")
    if problems or settings is None or greenflash_settings is None or products is None:
        raise SettingsError(problems)
    return settings, greenflash_settings, products
