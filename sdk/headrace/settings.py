"""Settings of the SDK, the CLI and the worker: `HEADRACE_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from headrace.api_urls import DEFAULT_API_URL, normalise_api_urls
from headrace.errors import SettingsError
from headrace.profiles import DEFAULT_HOME, load

# The type of the `api_url` setting: checked and trimmed wherever it is set (env, profile).
ApiUrls = Annotated[str, AfterValidator(normalise_api_urls)]

# A small upload must not fill a worker's disk: what a code bundle may unpack to, at most.
DEFAULT_BUNDLE_MAX_UNPACKED_BYTES = 256 * 1024 * 1024


class ClientSettings(BaseSettings):
    """How a client (a script, a worker, the CLI) reaches the API."""

    model_config = SettingsConfigDict(env_prefix="HEADRACE_", extra="ignore")

    api_url: ApiUrls = Field(
        default=DEFAULT_API_URL,
        description="Base URL of the API, ending in `/api`; or the URLs of several API replicas "
        "separated by commas: requests go to one of them and move to the next when it cannot be "
        "reached or answers 503 (a worker hands the whole list to its runs' processes).",
    )
    api_key: str | None = Field(default=None, description="API key sent as a Bearer token.")
    api_ca_file: Path | None = Field(
        default=None,
        description="A CA certificate file (PEM) to verify an https API with, instead of the "
        "system's store: for a server whose certificate a private CA signed.",
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Send the API key over plain http to a host other than this one (an "
        "`http://` HEADRACE_API_URL that is not loopback). Off, such a client refuses to start: "
        "use https, or set this on a private network you trust.",
    )
    home: Path = Field(
        default=Path(DEFAULT_HOME), description="Folder for the embedded database and caches."
    )
    profile: str | None = Field(
        default=None,
        description="The profile (in $HEADRACE_HOME/profiles.toml) this process uses instead "
        "of the active one: `HEADRACE_PROFILE=staging headrace flow-run ls`.",
    )
    client_timeout_seconds: float = Field(default=30.0, description="Timeout of one API request.")
    client_retries: int = Field(
        default=3, description="Retries of an API request on connection errors and 5xx/429."
    )
    bundle_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        description="Largest code bundle `headrace deploy --upload` makes (the API caps it too).",
    )
    bundle_max_unpacked_bytes: int = Field(
        default=DEFAULT_BUNDLE_MAX_UNPACKED_BYTES,
        ge=1,
        description="Most bytes a code bundle (or a git source's checkout) may unpack to: a "
        "worker stops unpacking there and fails the run. The API reads the same variable and "
        "refuses such an upload.",
    )
    concurrency_slot_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Lease of a tag concurrency slot; a holder that dies (even SIGKILL) gives "
        "its slot back when the lease expires. Renewed at a third of it.",
    )
    result_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="Largest serialised task result stored for caching (the API caps at 64 MiB).",
    )

    def home_path(self) -> Path:
        return self.home.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, then HEADRACE_* variables, then the active profile, then the defaults.
        return (init_settings, env_settings, ProfileSettingsSource(settings_cls))


# Where the profiles live, and which one to use, cannot themselves come from a profile.
NOT_IN_PROFILES = frozenset({"home", "profile"})


class ProfileSettingsSource(PydanticBaseSettingsSource):
    """The values of the active profile in $HEADRACE_HOME/profiles.toml."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole profile at once

    def __call__(self) -> dict[str, Any]:
        home = self.current_state.get("home") or self.settings_cls.model_fields["home"].default
        profiles = load(Path(home))
        # An empty HEADRACE_PROFILE (`${HEADRACE_PROFILE}` of an unset variable) selects none.
        selected = self.current_state.get("profile") or None
        values = profiles.profiles.get(profiles.in_effect(selected), {})
        return {
            k: v
            for k, v in values.items()
            if k in self.settings_cls.model_fields and k not in NOT_IN_PROFILES
        }


class HomeSetting(BaseSettings):
    """HEADRACE_HOME and HEADRACE_PROFILE alone: where profiles live and which one to use,
    readable even when a profile is broken."""

    model_config = SettingsConfigDict(env_prefix="HEADRACE_", extra="ignore")

    home: Path = ClientSettings.model_fields["home"].default
    profile: str | None = None


def client_home() -> Path:
    return HomeSetting().home.expanduser()


def selected_profile() -> str | None:
    """The profile HEADRACE_PROFILE names for this process, if any."""
    return HomeSetting().profile or None


@lru_cache(maxsize=1)
def client_settings() -> ClientSettings:
    """The client settings; a `SettingsError` in one line naming the first bad one."""
    try:
        return ClientSettings()
    except ValidationError as error:
        raise SettingsError(settings_error_message(error)) from None


def settings_error_message(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    reason = first["msg"].removeprefix("Value error, ")
    return f"invalid HEADRACE_{name.upper()}: {reason}"
