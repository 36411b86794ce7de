"""Reading every configuration source once, for the bot, ``doctor`` and ``invite`` alike."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bot.agent.config import AgentSettings
from bot.attachments.config import AttachmentSettings
from bot.cli.preflight import StartupSettings
from bot.config.base import Problems
from bot.config.products import PRODUCTS_FILE, ProductConfig
from bot.config.settings import Settings
from bot.greenflash_client import GreenflashSettings
from bot.knowledge.config import KnowledgeSettings
from bot.runtime.logs import LogSettings
from bot.storage import StorageConfig

WHERE_SETTINGS_GO = (
    "set them in .env (copy .env.example to .env and fill it in) "
    "or, on Heroku, as config vars (heroku config:set NAME=value)"
)

class Configuration(NamedTuple):
    settings: Settings
    attachments: AttachmentSettings
    greenflash: GreenflashSettings
    products: ProductConfig
    startup: StartupSettings
    storage: StorageConfig
    logs: LogSettings
    agent: AgentSettings
    knowledge: KnowledgeSettings


def shown_path(path: Path) -> str:
    """The products file as the operator sees it in the checkout (``bot/config/products.toml``)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_configuration(products_file: Path = PRODUCTS_FILE) -> Configuration:
    """All problems from all sources gathered into one :class:`SettingsError`."""
    problems = Problems()
    settings = problems.read(Settings)
    configuration = Configuration(
        settings=settings,
        attachments=problems.read(AttachmentSettings),
        greenflash=problems.read(GreenflashSettings),
        products=ProductConfig(),
        startup=problems.read(StartupSettings),
        storage=problems.read(StorageConfig).allowing(settings.model),
        logs=problems.read(LogSettings),
        agent=problems.read(AgentSettings),
        knowledge=problems.read(KnowledgeSettings),
    )
    try:
        configuration = configuration._replace(products=ProductConfig.load(products_file))
    except ValueError as error:  # tomllib.TOMLDecodeError is a ValueError
        problems.found.append(f"{shown_path(products_file)}: {error}")
    problems.check()
    return configuration
