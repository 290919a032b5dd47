"""`headrace profile ...`: named sets of client settings in $HEADRACE_HOME/profiles.toml."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import table
from headrace.profiles import ProfileError, Profiles, load, profiles_path, save
from headrace.settings import client_home, selected_profile

app = typer.Typer(help=group_help("profile"), no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="Profile name.", show_default=False)]


def read_profiles() -> Profiles:
    try:
        return load(client_home())
    except ProfileError as error:
        fail(str(error))


def profile_in_effect(profiles: Profiles) -> str:
    """The profile this command uses: HEADRACE_PROFILE's, else the active one."""
    try:
        return profiles.in_effect(selected_profile())
    except ProfileError as error:
        fail(str(error))


@contextmanager
def editing() -> Iterator[Profiles]:
    """The profiles, saved when the block ends; a refused change is a one-line error."""
    profiles = read_profiles()
    try:
        yield profiles
    except ProfileError as error:
        fail(str(error))
    save(client_home(), profiles)


@app.command("create")
def create(name: Name) -> None:
    """Create an empty profile (`headrace profile use` makes it the active one)."""
    with editing() as profiles:
        profiles.create(name)
    print(f"created profile {name!r} in {profiles_path(client_home())}")


@app.command("use")
def use(name: Name) -> None:
    """Make a profile the active one."""
    with editing() as profiles:
        profiles.use(name)
    print(f"using profile {name!r}")
    selected = selected_profile()
    if selected is not None and selected != name:
        print(f"note: HEADRACE_PROFILE={selected} overrides it while it is set")


@app.command("ls")
def ls() -> None:
    """List the profiles; * marks the one in effect (HEADRACE_PROFILE's, else the active one)."""
    profiles = read_profiles()
    current = profile_in_effect(profiles)
    rows = [
        ("*" if name == current else "", name, ", ".join(sorted(values)))
        for name, values in sorted(profiles.profiles.items())
    ]
    table(["Active", "Name", "Settings"], rows)


@app.command("delete")
def delete(name: Name) -> None:
    """Delete a profile (not the active one)."""
    with editing() as profiles:
        profiles.delete(name)
    print(f"deleted profile {name!r}")
