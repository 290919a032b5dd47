"""`headrace config ...`: the client settings in effect and the active profile's values."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import print_json, table
from headrace.cli.profile import editing, profile_in_effect, read_profiles
from headrace.settings import NOT_IN_PROFILES, ClientSettings, settings_error_message

app = typer.Typer(help=group_help("config"), no_args_is_help=True)
PREFIX = "HEADRACE_"


def variable(name: str) -> str:
    return PREFIX + name.upper()


def setting_name(key: str) -> str:
    """`api_url`, `API_URL` or `HEADRACE_API_URL` -> `api_url`; an unknown key exits 2."""
    name = key.strip().lower().removeprefix(PREFIX.lower())
    if name not in ClientSettings.model_fields:
        known = ", ".join(variable(n) for n in ClientSettings.model_fields)
        fail(f"unknown setting {key!r}; client settings: {known}")
    if name in NOT_IN_PROFILES:
        fail(f"{variable(name)} picks the profiles: set it in the environment instead")
    return name


def masked(name: str, value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if name.endswith("key"):  # API keys: enough to tell two apart, never usable
        return text[:3] + "..." + text[-4:] if len(text) > 12 else "****"
    return text


def checked(name: str, value: str) -> str:
    """The value as stored (a string), once the setting's type and bounds accept it."""
    field = ClientSettings.model_fields[name]
    try:
        TypeAdapter(field.rebuild_annotation()).validate_python(value)
    except ValidationError as error:
        reason = error.errors()[0]["msg"].removeprefix("Value error, ")
        fail(f"invalid value {value!r} for {variable(name)}: {reason}")
    return value


def in_environment(name: str) -> bool:
    return variable(name) in {key.upper() for key in os.environ}


@app.command("view")
def view(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each client setting, its value (API keys masked) and where it came from."""
    profiles = read_profiles()
    current = profile_in_effect(profiles)
    from_profile = profiles.profiles.get(current, {})
    try:
        settings = ClientSettings()
    except ValidationError as error:
        fail(f"{settings_error_message(error)} (fix it with `headrace config set`)")
    rows = []
    for name in ClientSettings.model_fields:
        if in_environment(name):
            source = "env"
        elif name in from_profile and name not in NOT_IN_PROFILES:
            source = "profile"
        else:
            source = "default"
        rows.append((variable(name), masked(name, getattr(settings, name)), source))
    if as_json:
        print_json(
            {
                "profile": current,
                "settings": [dict(zip(("name", "value", "source"), r, strict=True)) for r in rows],
            }
        )
        return
    table(["Setting", "Value", "Source"], rows, title=f"profile: {current}")


@app.command("set")
def set_(
    pairs: Annotated[
        list[str], typer.Argument(help="KEY=VALUE pairs, e.g. api_url=http://host:4200/api.")
    ],
) -> None:
    """Store settings in the active profile (or the one HEADRACE_PROFILE names)."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            fail(f"expected KEY=VALUE, got {pair!r}")
        name = setting_name(key)
        values[name] = checked(name, value)
    with editing() as profiles:
        current = profile_in_effect(profiles)
        profiles.profiles.setdefault(current, {}).update(values)
    for name in values:
        print(f"set {variable(name)} in profile {current!r}")
        if in_environment(name):
            print(f"note: the environment variable {variable(name)} overrides it")


@app.command("unset")
def unset(
    keys: Annotated[list[str], typer.Argument(help="Settings to remove, e.g. api_url.")],
) -> None:
    """Remove settings from the profile in effect (back to their defaults)."""
    names = [setting_name(key) for key in keys]
    with editing() as profiles:
        current = profile_in_effect(profiles)
        stored = profiles.profiles.setdefault(current, {})
        for name in names:
            stored.pop(name, None)
    for name in names:
        print(f"unset {variable(name)} in profile {current!r}")
