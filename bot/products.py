"""Which Greenflash product a conversation belongs to, from the committed ``products.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PRODUCTS_FILE = Path(__file__).with_name("products.toml")


@dataclass(frozen=True, slots=True)
class ProductConfig:
    default_product_id: str | None = None
    guild_products: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = PRODUCTS_FILE) -> ProductConfig:
        """Read the file; a malformed file is a start-up error (ValueError), never a guess."""
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        default = str(data.get("default_product_id") or "").strip() or None
        guilds: dict[int, str] = {}
        for guild_id, product_id in (data.get("guild_products") or {}).items():
            if not str(guild_id).isdigit() or not str(product_id).strip():
                raise ValueError(f"{path.name}: guild_products entry {guild_id!r} is not valid")
            guilds[int(guild_id)] = str(product_id).strip()
        return cls(default_product_id=default, guild_products=guilds)

    @property
    def configured(self) -> bool:
        return bool(self.default_product_id or self.guild_products)

    def product_for(self, guild_id: int | None) -> str | None:
        """DMs have no guild and go to the default product."""
        if guild_id is not None and guild_id in self.guild_products:
            return self.guild_products[guild_id]
        return self.default_product_id

    def all_ids(self) -> set[str]:
        ids = set(self.guild_products.values())
        if self.default_product_id:
            ids.add(self.default_product_id)
        return ids
