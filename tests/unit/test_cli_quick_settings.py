"""The quick commands read the client settings as `ClientSettings` does, or leave them to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from headrace.api_urls import parse_api_urls
from headrace.cli.quick.settings import CLIENT_FIELDS, quick_settings
from headrace.profiles import ProfileError
from headrace.settings import ClientSettings

PROFILES = """
active = "prod"

[profiles.default]

[profiles.prod]
api_url = "http://127.0.0.1:4300/api"
api_key = "hr_prod"

[profiles.odd]
client_retries = "lots"
"""

# HEADRACE_* variables (besides HEADRACE_HOME, a folder with the profiles above).
CASES = [
    {},
    {"HEADRACE_PROFILE": "default"},
    {"HEADRACE_PROFILE": ""},
    {"HEADRACE_PROFILE": "missing"},
    {"HEADRACE_PROFILE": "odd"},
    {"HEADRACE_API_URL": "http://a:1/api/, http://b:2/api"},
    {"HEADRACE_API_URL": "ftp://a/api"},
    {"HEADRACE_API_URL": "http://a,,http://b"},
    {"headrace_api_url": "http://lower:1/api"},
    {"HEADRACE_API_KEY": ""},
    {"HEADRACE_API_KEY": "hr_x", "HEADRACE_API_URL": "http://10.0.0.1/api"},
    {
        "HEADRACE_API_KEY": "hr_x",
        "HEADRACE_API_URL": "http://10.0.0.1/api",
        "HEADRACE_ALLOW_INSECURE_HTTP": "Yes",
    },
    {"HEADRACE_ALLOW_INSECURE_HTTP": "maybe"},
    {"HEADRACE_API_CA_FILE": "/etc/ca.pem", "HEADRACE_API_URL": "https://h/api"},
    {"HEADRACE_API_CA_FILE": ""},
    {"HEADRACE_CLIENT_TIMEOUT_SECONDS": "2.5"},
    {"HEADRACE_CLIENT_TIMEOUT_SECONDS": "1e3"},
    {"HEADRACE_CLIENT_TIMEOUT_SECONDS": "soon"},
    {"HEADRACE_CLIENT_RETRIES": "3"},
    {"HEADRACE_CLIENT_RETRIES": "many"},
    {"HEADRACE_LOG_LEVEL": "debug"},
]


def test_the_fields_are_those_of_client_settings() -> None:
    assert set(ClientSettings.model_fields) == CLIENT_FIELDS


@pytest.mark.parametrize("variables", CASES, ids=[str(sorted(case.items())) for case in CASES])
def test_quick_settings_are_the_typed_ones_or_none(
    variables: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "profiles.toml").write_text(PROFILES)
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    quick = quick_settings()
    try:
        typed = ClientSettings()
    except (ValidationError, ProfileError):
        assert quick is None  # the typed path words the error
        return
    if quick is None:
        return  # left to the typed settings, which accept it
    assert quick.api_urls == parse_api_urls(typed.api_url)
    assert quick.api_key == typed.api_key
    assert quick.ca_file == typed.api_ca_file
    assert quick.timeout_seconds == typed.client_timeout_seconds


def test_the_usual_settings_are_read_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "profiles.toml").write_text(PROFILES)
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    from_profile = quick_settings()
    assert from_profile is not None and from_profile.api_key == "hr_prod"
    monkeypatch.setenv("HEADRACE_API_URL", "http://127.0.0.1:9/api")
    from_variable = quick_settings()
    assert from_variable is not None and from_variable.api_urls == ["http://127.0.0.1:9/api"]


def test_without_headrace_home_the_profiles_are_in_the_default_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".headrace").mkdir()
    (tmp_path / ".headrace" / "profiles.toml").write_text(PROFILES)
    monkeypatch.delenv("HEADRACE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    quick = quick_settings()
    assert quick is not None and quick.api_key == ClientSettings().api_key == "hr_prod"
