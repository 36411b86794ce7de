"""Which Greenflash product a conversation belongs to, from the committed ``products.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PRODUCTS_FILE = Path(__file__).with_name("products.toml")

_TOP_LEVEL = ("default_product_id",)


def _misplaced(key: str) -> str:
    """In TOML every ``key = value`` after a ``[table]`` header belongs to that table, so a
    line appended at the end of the file lands in ``[guild_products]``."""
    return (
        f"{key} is inside the [guild_products] table (every line after a [table] header "
        f"belongs to that table): move it above the [guild_products] table"
    )


@dataclass(frozen=True, slots=True)
class ProductConfig:
    default_product_id: str | None = None
    guild_products: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = PRODUCTS_FILE) -> ProductConfig:
        """Read the file; a malformed file is a start-up error (ValueError), never a guess.
        Messages leave the file's name to the caller, which names it once."""
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        default = str(data.get("default_product_id") or "").strip() or None
        table = data.get("guild_products") or {}
        if not isinstance(table, dict):
            raise ValueError("guild_products must be a table: [guild_products]")
        guilds: dict[int, str] = {}
        for guild_id, product_id in table.items():
            if guild_id in _TOP_LEVEL:
                raise ValueError(_misplaced(guild_id))
            if not str(guild_id).isdigit():
                raise ValueError(
                    f"guild_products entry {guild_id!r} is not a guild id: entries there are "
                    f'"<guild id>" = "<product id>"'
                )
            if not isinstance(product_id, str) or not product_id.strip():
                raise ValueError(f"guild_products entry {guild_id!r} needs a product id")
            guilds[int(guild_id)] = product_id.strip()
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
