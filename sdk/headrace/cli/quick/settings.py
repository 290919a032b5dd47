"""The client settings a quick command needs, read without pydantic-settings (about a third of
the typed client's import time).

Read as `ClientSettings` reads them: `HEADRACE_*` variables (names in any case), then the
profile in effect, then the defaults. Only plain values are read here; for anything this reader
would have to interpret the way pydantic does (an unusual boolean, a setting it does not read, a
profile it cannot load...) it answers None, and the command takes the typed path, whose
settings give the canonical error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from headrace.api_tls import refuse_key_in_clear
from headrace.api_urls import DEFAULT_API_URL, parse_api_urls
from headrace.errors import SettingsError
from headrace.profiles import DEFAULT_HOME, ProfileError, load

# Every field of `ClientSettings` (a test checks it): a variable or a profile value for one of
# them that this reader does not read may be invalid, which only the typed settings can tell.
CLIENT_FIELDS = frozenset(
    {
        "api_url",
        "api_key",
        "api_ca_file",
        "allow_insecure_http",
        "home",
        "profile",
        "client_timeout_seconds",
        "client_retries",
        "bundle_max_bytes",
        "bundle_max_unpacked_bytes",
        "concurrency_slot_lease_seconds",
        "result_max_bytes",
    }
)
READ = frozenset(
    {"api_url", "api_key", "api_ca_file", "allow_insecure_http", "client_timeout_seconds"}
)
_PREFIX = "headrace_"
# The words pydantic reads as a boolean (in any case); any other value is left to it.
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_PLAIN_SECONDS = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")
DEFAULT_TIMEOUT_SECONDS = 30.0


class QuickSettings(NamedTuple):  # not a dataclass: `dataclasses` imports `inspect`
    api_urls: list[str]
    api_key: str | None
    ca_file: Path | None
    timeout_seconds: float


def quick_settings() -> QuickSettings | None:
    """The settings, or None when the typed settings must decide."""
    env = _variables()
    if env is None or not env.keys() <= READ | {"home", "profile"}:
        return None
    home, selected = env.get("home"), env.get("profile")
    if home == "":
        return None
    try:
        profiles = load(Path(home or DEFAULT_HOME))
        in_profile = profiles.profiles.get(profiles.in_effect(selected or None), {})
    except ProfileError:
        return None
    values = {k: v for k, v in in_profile.items() if k in CLIENT_FIELDS - {"home", "profile"}}
    if not values.keys() <= READ:
        return None
    return _settings({**values, **env})


def _variables() -> dict[str, str] | None:
    # pydantic-settings matches variable names in any case; two spellings of one: let it choose.
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        key = name.lower()
        if key.startswith(_PREFIX) and key[len(_PREFIX) :] in CLIENT_FIELDS:
            if key[len(_PREFIX) :] in found:
                return None
            found[key[len(_PREFIX) :]] = value
    return found


def _settings(values: dict[str, str]) -> QuickSettings | None:
    insecure = values.get("allow_insecure_http", "false").lower()
    seconds = values.get("client_timeout_seconds", str(DEFAULT_TIMEOUT_SECONDS))
    ca_file = values.get("api_ca_file")
    if insecure not in _TRUE | _FALSE or not _PLAIN_SECONDS.fullmatch(seconds) or ca_file == "":
        return None
    try:
        api_urls = parse_api_urls(values.get("api_url", DEFAULT_API_URL))
        refuse_key_in_clear(api_urls, values.get("api_key"), insecure in _TRUE)
    except (ValueError, SettingsError):
        return None
    if float(seconds) <= 0:
        return None
    return QuickSettings(
        api_urls=api_urls,
        api_key=values.get("api_key"),
        ca_file=None if ca_file is None else Path(ca_file),
        timeout_seconds=float(seconds),
    )
