"""Reading every configuration source once, for the bot, ``doctor`` and ``invite`` alike."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bot.cli.preflight import StartupSettings
from bot.config.products import PRODUCTS_FILE, ProductConfig
from bot.config.settings import Settings, SettingsError
from bot.greenflash_client import GreenflashSettings
from bot.storage import StorageConfig

WHERE_SETTINGS_GO = (
    "set them in .env (copy .env.example to .env and fill it in) "
    "or, on Heroku, as config vars (heroku config:set NAME=value)"
)


class Configuration(NamedTuple):
    settings: Settings
    greenflash: GreenflashSettings
    products: ProductConfig
    startup: StartupSettings
    storage: StorageConfig


def shown_path(path: Path) -> str:
    """The products file as the operator sees it in the checkout (``bot/config/products.toml``)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_configuration(products_file: Path = PRODUCTS_FILE) -> Configuration:
    """All problems from all sources gathered into one :class:`SettingsError`."""
    problems: list[str] = []
    settings = greenflash_settings = products = startup = storage = None
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        problems += error.problems
    try:
        storage = StorageConfig.from_env(
            default_model=settings.model if settings else Settings.model
        )
    except SettingsError as error:
        problems += error.problems
    try:
        greenflash_settings = GreenflashSettings.from_env()
    except SettingsError as error:
        problems += error.problems
    try:
        startup = StartupSettings.from_env()
    except SettingsError as error:
        problems += error.problems
    try:
        products = ProductConfig.load(products_file)
    except ValueError as error:  # tomllib.TOMLDecodeError is a ValueError
        problems.append(f"{shown_path(products_file)}: {error}")
    if (problems or settings is None or greenflash_settings is None or products is None
            or startup is None or storage is None):
        raise SettingsError(problems)
    return Configuration(settings, greenflash_settings, products, startup, storage)
