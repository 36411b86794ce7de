"""Attachment settings: defaults, bounds derived from Discord's and OpenAI's limits, VISION."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.attachments.config import (
    OPENAI_IMAGE_BYTES_PER_REQUEST,
    AttachmentSettings,
    VisionMode,
    model_sees_images,
)
from bot.config.base import SettingsError, read_settings
from bot.config.environment import load_configuration
from tests.helpers import use_environment


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], AttachmentSettings]:
    def read(environ: dict[str, str]) -> AttachmentSettings:
        use_environment(monkeypatch, environ)
        return read_settings(AttachmentSettings)
    return read


Read = Callable[[dict[str, str]], AttachmentSettings]


def test_defaults_fit_openais_image_bytes_per_request(read: Read) -> None:
    settings = read({})
    assert settings == AttachmentSettings()
    assert settings.max_images * settings.max_bytes <= OPENAI_IMAGE_BYTES_PER_REQUEST
    assert settings.vision is VisionMode.AUTO


def test_every_setting_is_read(read: Read) -> None:
    settings = read({
        "ATTACHMENT_MAX_BYTES": "2000000", "ATTACHMENT_MAX_IMAGES": "3",
        "ATTACHMENT_TEXT_MAX_CHARS": "500", "ATTACHMENT_TIMEOUT": "4.5", "VISION": "Off",
    })
    assert settings == AttachmentSettings(max_bytes=2_000_000, max_images=3, text_max_chars=500,
                                         timeout=4.5, vision=VisionMode.OFF)
    assert not settings.vision_for("gpt-4o")


def test_all_problems_are_reported_together(read: Read) -> None:
    with pytest.raises(SettingsError) as raised:
        read({
            "VISION": "maybe", "ATTACHMENT_TIMEOUT": "0", "ATTACHMENT_MAX_IMAGES": "10",
            "ATTACHMENT_MAX_BYTES": "20000000",
        })
    problems = raised.value.problems
    assert any(problem.startswith("VISION must be one of auto, on, off") for problem in problems)
    assert any(problem.startswith("ATTACHMENT_TIMEOUT must be at least") for problem in problems)


def test_the_images_of_one_request_fit_openais_limit(read: Read) -> None:
    with pytest.raises(SettingsError) as raised:
        read({"ATTACHMENT_MAX_IMAGES": "10", "ATTACHMENT_MAX_BYTES": "20000000"})
    assert raised.value.problems == [
        "ATTACHMENT_MAX_IMAGES x ATTACHMENT_MAX_BYTES must be at most 50000000 (OpenAI's image "
        "bytes per request; got 200000000)"
    ]


def test_one_image_may_not_exceed_openais_20_mb(read: Read) -> None:
    with pytest.raises(SettingsError) as raised:
        read({"ATTACHMENT_MAX_IMAGES": "1",
                                     "ATTACHMENT_MAX_BYTES": str(21 * 1024 * 1024)})
    assert raised.value.problems == [
        f"ATTACHMENT_MAX_BYTES must be between 1024 and {20 * 1024 * 1024} "
        f"(got {21 * 1024 * 1024})"
    ]
    assert read(
        {"ATTACHMENT_MAX_IMAGES": "2", "ATTACHMENT_MAX_BYTES": str(20 * 1024 * 1024)}
    ).max_bytes == 20 * 1024 * 1024


def test_problems_join_the_bots_own_start_up_line(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k",
                                  "ATTACHMENT_MAX_IMAGES": "21", "CONTEXT_MAX_CHARS": "1"})
    with pytest.raises(SettingsError) as raised:
        load_configuration()
    assert raised.value.problems == [
        "CONTEXT_MAX_CHARS must be at least 500 (got 1)",
        "ATTACHMENT_MAX_IMAGES must be between 0 and 20 (got 21)",
    ]


def test_the_configuration_carries_the_attachment_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_environment(monkeypatch, {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "VISION": "on",
                                  "ATTACHMENT_MAX_IMAGES": "2"})
    assert load_configuration().attachments == AttachmentSettings(max_images=2,
                                                                  vision=VisionMode.ON)


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
