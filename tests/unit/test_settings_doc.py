"""docs/settings.md is generated from the settings classes and must be up to date."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from headrace.settings import ClientSettings
from headrace_service.settings import ServerSettings
from headrace_worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "python docs/generate_settings.py > docs/settings.md"


def test_docs_settings_md_is_what_the_generator_prints() -> None:
    # A subprocess with no HEADRACE_* variables: the page shows defaults, never this machine's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    generated = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "generate_settings.py")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    on_disk = (ROOT / "docs" / "settings.md").read_text()
    assert generated == on_disk, f"docs/settings.md is out of date; run: {REGENERATE}"


def test_every_setting_is_on_the_page_with_a_description() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    for settings_class in (ServerSettings, ClientSettings, WorkerSettings):
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        for name, field in settings_class.model_fields.items():
            assert field.description, f"{settings_class.__name__}.{name} has no description"
            assert f"`{(prefix + name).upper()}`" in page
