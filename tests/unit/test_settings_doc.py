"""docs/settings.md is generated from the settings classes and must be up to date."""

from __future__ import annotations

from pathlib import Path

from headrace.settings import ClientSettings
from headrace_service.settings import ServerSettings
from headrace_worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_on_the_page_with_a_description() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    for settings_class in (ServerSettings, ClientSettings, WorkerSettings):
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        for name, field in settings_class.model_fields.items():
            assert field.description, f"{settings_class.__name__}.{name} has no description"
            assert f"`{(prefix + name).upper()}`" in page
