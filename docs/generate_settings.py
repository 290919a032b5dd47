"""Print docs/settings.md from the settings classes (the page says how to run it).

It lives beside the docs rather than in a package because it reads the settings of all three
packages (server, client, worker), and none of them may import the others' in that direction.
tests/unit/test_generated_docs.py fails when docs/settings.md is not what this prints.
"""

from __future__ import annotations

import types
import typing

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from headrace.settings import ClientSettings
from headrace_service.settings import ServerSettings
from headrace_worker.settings import WorkerSettings

SECTIONS: list[tuple[str, type[BaseSettings], str]] = [
    (
        "Server",
        ServerSettings,
        "Read by `headrace server start` and the other `headrace server ...` commands.",
    ),
    (
        "Client",
        ClientSettings,
        "Read by scripts that use `@flow`/`@task`, by the CLI and by workers to reach the API.",
    ),
    ("Worker", WorkerSettings, "Read by `headrace worker start`."),
]

HEADER = """# Settings

Every setting is an environment variable. This page is generated from the settings classes by
`python docs/generate_settings.py > docs/settings.md`; a test fails when it is out of date, so
edit the `description=` of the field, not this page.

Booleans accept `true`/`false`/`1`/`0`; durations are in seconds.

Client settings can also be stored in named profiles in `$HEADRACE_HOME/profiles.toml`:
`headrace profile create prod`, `headrace profile use prod`, `headrace config set
api_url=https://headrace.example.com/api api_key=hr_...`. An environment variable wins over the
active profile, which wins over the default; `headrace config view` shows each client setting,
its value (API keys masked) and where it came from (`env`, `profile` or `default`).
`HEADRACE_PROFILE=staging headrace ...` uses another profile for one command without changing
the active one (`config set` then writes to that profile).
"""


def type_name(annotation: object) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        names = [type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names) + (
            " (optional)" if type(None) in typing.get_args(annotation) else ""
        )
    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(f"`{value}`" for value in typing.get_args(annotation))
    if annotation is SecretStr:
        return "secret string"
    if isinstance(annotation, type):
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__.lower()
        )
    return str(annotation)


def default_text(field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def section(title: str, settings_class: type[BaseSettings], intro: str) -> str:
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    lines = [f"## {title}", "", intro, "", "| Variable | Type | Default | Description |"]
    lines.append("| --- | --- | --- | --- |")
    for name, field in settings_class.model_fields.items():
        variable = (prefix + name).upper()
        lines.append(
            f"| `{variable}` | {type_name(field.annotation)} | {default_text(field)} | "
            f"{cell(field.description or '')} |"
        )
    return "\n".join(lines) + "\n"


def settings_markdown() -> str:
    return "\n".join([HEADER, *(section(*s) for s in SECTIONS)])


if __name__ == "__main__":
    print(settings_markdown(), end="")
