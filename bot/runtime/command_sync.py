"""Sync slash commands only when they changed.

Discord rate-limits command uploads (200 creates a day per application) and a bulk upload
makes clients refetch commands, so re-uploading on every worker restart is both wasteful and
a way to get locked out during a crash loop. We compare what Discord has with what the tree
would upload, field by field, and upload only on a difference.
"""

from __future__ import annotations

import logging
from typing import Any

from discord import app_commands

log = logging.getLogger(__name__)

_COMPARED = (
    "name",
    "description",
    "type",
    "options",
    "choices",
    "required",
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "autocomplete",
    "channel_types",
    "nsfw",
    "contexts",
    "integration_types",
    "default_member_permissions",
)
# What Discord fills in when a field is left out or null (Application Command Object):
# discord.py sends ``contexts``/``integration_types`` as null unless a command sets them,
# and Discord answers with all three interaction contexts and the application's installation
# contexts (guild install). Compared without these, the copies never match and every
# restart would upload again.
_DEFAULTS: dict[str, Any] = {
    "required": False,
    "autocomplete": False,
    "nsfw": False,
    "type": 1,
    "contexts": [0, 1, 2],
    "integration_types": [0],
}


def normalise(payload: Any) -> Any:
    """Reduce a command payload to the fields users see, with Discord's defaults filled in."""
    if isinstance(payload, list):
        return sorted((normalise(item) for item in payload), key=repr)
    if not isinstance(payload, dict):
        return payload
    result = {}
    for key in _COMPARED:
        value = payload.get(key)
        if value is None:
            value = _DEFAULTS.get(key)
        if value not in (None, [], {}) or key in _DEFAULTS:
            result[key] = normalise(value)
    return result


async def sync_if_changed(tree: app_commands.CommandTree) -> bool:
    """Upload the global commands when Discord's copy differs; returns whether it did."""
    client = tree.client
    application_id = client.application_id
    if application_id is None:
        return False
    local = [command.to_dict(tree) for command in tree.get_commands()]
    remote = await client.http.get_global_commands(application_id)
    if normalise(local) == normalise(remote):
        log.info("slash commands unchanged (%d); not syncing", len(local))
        return False
    await tree.sync()
    log.info("slash commands synced (%d)", len(local))
    return True
