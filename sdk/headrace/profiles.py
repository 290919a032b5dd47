"""Named sets of client settings, stored in $HEADRACE_HOME/profiles.toml.

    active = "prod"

    [profiles.default]

    [profiles.prod]
    api_url = "https://headrace.example.com/api"
    api_key = "hr_..."

The active profile (or, for one command, the one HEADRACE_PROFILE names) is a settings source
below the environment (see `ClientSettings`): a `HEADRACE_*` variable always wins over the
profile, the profile over the default. The file may
hold API keys, so it is written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

FILE_NAME = "profiles.toml"
DEFAULT_HOME = "~/.headrace"  # HEADRACE_HOME unless set
DEFAULT_PROFILE = "default"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ProfileError(ValueError):
    """A profile command that cannot be done; the message says what to do instead."""


class Profiles:
    # A plain class, not a dataclass: the CLI's quick commands read profiles, and `dataclasses`
    # (with `inspect`) would be most of what they import.
    def __init__(
        self, active: str = DEFAULT_PROFILE, profiles: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.active = active
        self.profiles = {DEFAULT_PROFILE: {}} if profiles is None else profiles

    def in_effect(self, selected: str | None) -> str:
        """The profile a command uses: `selected` (HEADRACE_PROFILE) when given, which must
        exist, else the active one."""
        if selected is None:
            return self.active
        if selected not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise ProfileError(
                f"HEADRACE_PROFILE names no profile {selected!r} (profiles: {known}); "
                "`headrace profile create` it or unset the variable"
            )
        return selected

    def create(self, name: str) -> None:
        if not _NAME.fullmatch(name):
            raise ProfileError(
                f"invalid profile name {name!r}: use letters, digits, '-' and '_' (at most 64)"
            )
        if name in self.profiles:
            raise ProfileError(f"profile {name!r} already exists")
        self.profiles[name] = {}

    def use(self, name: str) -> None:
        self._check_exists(name)
        self.active = name

    def delete(self, name: str) -> None:
        self._check_exists(name)
        if name == self.active:
            raise ProfileError(
                f"profile {name!r} is the active one; `headrace profile use` another first"
            )
        del self.profiles[name]

    def _check_exists(self, name: str) -> None:
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise ProfileError(f"no profile named {name!r} (profiles: {known})")


def profiles_path(home: Path) -> Path:
    return home.expanduser() / FILE_NAME


def load(home: Path) -> Profiles:
    """The profiles under `home`; a missing file is one empty, active "default" profile."""
    path = profiles_path(home)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Profiles()
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(f"cannot read {path}: {error}") from None
    import tomllib  # only with a file to parse: `import headrace` and quick commands skip it

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"cannot read {path}: {error}") from None
    profiles = {
        str(name): {str(k): str(v) for k, v in values.items()}
        for name, values in data.get("profiles", {}).items()
        if isinstance(values, dict)
    }
    return Profiles(active=str(data.get("active", DEFAULT_PROFILE)), profiles=profiles)


def save(home: Path, profiles: Profiles) -> None:
    """Write the file atomically (a crash leaves the old one), owner-only."""
    import tempfile  # only here: reading profiles does not pay for it

    path = profiles_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".profiles-")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(to_toml(profiles))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def to_toml(profiles: Profiles) -> str:
    """TOML by hand: names are bare keys (checked on create) and every value is a string,
    for which a JSON string is also a valid TOML basic string."""
    lines = [f"active = {_string(profiles.active)}"]
    for name, values in profiles.profiles.items():
        lines += ["", f"[profiles.{_string(name)}]"]
        lines += [f"{key} = {_string(value)}" for key, value in sorted(values.items())]
    return "\n".join(lines) + "\n"


def _string(value: str) -> str:
    # Raw UTF-8 (TOML has no surrogate-pair escapes); DEL is the one control character JSON
    # leaves unescaped and TOML refuses.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
