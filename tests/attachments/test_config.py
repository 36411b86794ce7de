"""Attachment settings: defaults, bounds derived from Discord's and OpenAI's limits, VISION."""

from __future__ import annotations

import pytest

from bot.attachments.config import (
    OPENAI_IMAGE_BYTES_PER_REQUEST,
    AttachmentSettings,
    VisionMode,
    model_sees_images,
)
from bot.config.settings import EnvReader, Settings, SettingsError


def read(environ: dict[str, str]) -> AttachmentSettings:
    env = EnvReader(environ)
    settings = AttachmentSettings.from_env(env)
    env.raise_if_problems()
    return settings


def test_defaults_fit_openais_image_bytes_per_request() -> None:
    settings = read({})
    assert settings == AttachmentSettings()
    assert settings.max_images * settings.max_bytes <= OPENAI_IMAGE_BYTES_PER_REQUEST
    assert settings.vision is VisionMode.AUTO


def test_every_setting_is_read() -> None:
    settings = read({
        "ATTACHMENT_MAX_BYTES": "2000000", "ATTACHMENT_MAX_IMAGES": "3",
        "ATTACHMENT_TEXT_MAX_CHARS": "500", "ATTACHMENT_TIMEOUT": "4.5", "VISION": "Off",
    })
    assert settings == AttachmentSettings(2_000_000, 3, 500, 4.5, VisionMode.OFF)
    assert not settings.vision_for("gpt-4o")


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(SettingsError) as raised:
        read({
            "VISION": "maybe", "ATTACHMENT_TIMEOUT": "0", "ATTACHMENT_MAX_IMAGES": "10",
            "ATTACHMENT_MAX_BYTES": "20000000",
        })
    problems = raised.value.problems
    assert any(problem.startswith("VISION must be auto, on or off") for problem in problems)
    assert any(problem.startswith("ATTACHMENT_TIMEOUT must be at least") for problem in problems)
    assert any("50000000" in problem for problem in problems)


def test_one_image_may_not_exceed_openais_20_mb() -> None:
    with pytest.raises(SettingsError) as raised:
        read({"ATTACHMENT_MAX_IMAGES": "1",
                                     "ATTACHMENT_MAX_BYTES": str(21 * 1024 * 1024)})
    assert raised.value.problems == [
        f"ATTACHMENT_MAX_BYTES must be at most {20 * 1024 * 1024} (OpenAI's limit per image; "
        f"got {21 * 1024 * 1024})"
    ]
    assert read(
        {"ATTACHMENT_MAX_IMAGES": "2", "ATTACHMENT_MAX_BYTES": str(20 * 1024 * 1024)}
    ).max_bytes == 20 * 1024 * 1024


def test_problems_join_the_bots_own_start_up_line() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k",
                           "ATTACHMENT_MAX_IMAGES": "21", "CONTEXT_MAX_CHARS": "1"})
    problems = raised.value.problems
    assert any(problem.startswith("ATTACHMENT_MAX_IMAGES must be at most 20")
               for problem in problems)
    assert any(problem.startswith("CONTEXT_MAX_CHARS") for problem in problems)


def test_the_bots_settings_carry_the_attachment_settings() -> None:
    settings = Settings.from_env({"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "VISION": "on",
                                  "ATTACHMENT_MAX_IMAGES": "2"})
    assert settings.attachments == AttachmentSettings(max_images=2, vision=VisionMode.ON)


@pytest.mark.parametrize(("model", "sees"), [
    ("gpt-4o-mini", True), ("gpt-4o", True), ("gpt-4o-2024-08-06", True),
    ("chatgpt-4o-latest", True), ("gpt-4.1-nano", True), ("gpt-4-turbo", True),
    ("gpt-5", True), ("gpt-5-mini", True), ("o1", True), ("o3", True), ("o4-mini", True),
    ("gpt-3.5-turbo", False), ("gpt-4", False), ("gpt-4-0613", False), ("o1-mini", False),
    ("o3-mini", False), ("gpt-4o-audio-preview", False), ("gpt-4o-mini-realtime-preview", False),
    ("llama3.1:8b", False), ("o1x", False),
])
def test_vision_auto_follows_the_model(model: str, sees: bool) -> None:
    assert model_sees_images(model) is sees
    assert AttachmentSettings().vision_for(model) is sees
    assert AttachmentSettings(vision=VisionMode.ON).vision_for(model)
