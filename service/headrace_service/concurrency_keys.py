"""A deployment's concurrency key: a jinja template over the run's parameters, rendered once
when the run is created (`{{ parameters.customer }}`). The claim then counts the deployment's
concurrency_limit per rendered value instead of per deployment.

Templates are user input rendered on the server, so they are checked twice over: jinja's
sandbox, and a short list of allowed syntax (names, attribute and item lookups, constants,
`~` joins, a few text filters). No loops, calls, arithmetic or macros: rendering one takes time
proportional to its (bounded) length and the parameters it reads.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from headrace.schemas.deployments import MAX_CONCURRENCY_KEY as MAX_KEY_TEMPLATE

MAX_KEY_VALUE = 200
ROOT = "parameters"
FILTERS = frozenset({"lower", "upper", "trim", "string", "truncate"})
_ALLOWED = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Const,
    nodes.Concat,
    nodes.Filter,
)

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class KeyTemplateError(ValueError):
    """The template cannot be used; the message says why, for the user."""


def parameter_names(template: str) -> list[str]:
    """The parameters the template reads (`parameters.X` / `parameters["X"]`), in order."""
    names: list[str] = []
    tree = _ENV.parse(template)
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name == ROOT:
            names.append(attr.attr)
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == ROOT
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            names.append(item.arg.value)
    return list(dict.fromkeys(names))


def check_template(template: str, parameter_schema: dict[str, Any]) -> None:
    """Raise KeyTemplateError if the template is not one we render: bad syntax, syntax outside
    the allowed list, a name other than `parameters`, or a parameter the flow does not take."""
    if not template.strip():
        raise KeyTemplateError("is empty; give a template such as '{{ parameters.customer }}'")
    if len(template) > MAX_KEY_TEMPLATE:
        raise KeyTemplateError(f"is longer than {MAX_KEY_TEMPLATE} characters")
    try:
        tree = _ENV.parse(template)
    except TemplateError as exc:
        raise KeyTemplateError(f"is not a valid template: {exc}") from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED):
            raise KeyTemplateError(
                f"uses {type(node).__name__}, which a key template may not; use "
                "'{{ parameters.NAME }}', '~' to join, and the filters "
                + ", ".join(sorted(FILTERS))
            )
        if isinstance(node, nodes.Name) and node.name != ROOT:
            raise KeyTemplateError(f"names {node.name!r}; only 'parameters' can be used")
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise KeyTemplateError(
                f"uses the filter {node.name!r}; allowed: " + ", ".join(sorted(FILTERS))
            )
    known = parameter_schema.get("properties")
    if isinstance(known, dict) and known:
        for name in parameter_names(template):
            if name not in known:
                raise KeyTemplateError(
                    f"reads parameters.{name}, which the flow does not take "
                    f"(its parameters: {', '.join(sorted(known))})"
                )


class KeyRenderError(ValueError):
    """The template failed for these parameters; `parameter` is the one to fix, if known."""

    def __init__(self, message: str, parameter: str | None) -> None:
        super().__init__(message)
        self.parameter = parameter


def render_key(template: str, parameters: dict[str, Any]) -> str:
    """The key value for a run with these parameters."""
    names = parameter_names(template)
    for name in names:
        if name not in parameters:
            raise KeyRenderError(
                f"the deployment's concurrency_key {template!r} needs the parameter {name!r}",
                name,
            )
    culprit = names[0] if len(names) == 1 else None
    try:
        value = _ENV.from_string(template).render(parameters=parameters)
    except Exception as exc:  # any failure of user input is the user's to fix
        raise KeyRenderError(
            f"the deployment's concurrency_key {template!r} failed: {exc}", culprit
        ) from None
    if len(value) > MAX_KEY_VALUE:
        raise KeyRenderError(
            f"the deployment's concurrency_key {template!r} renders to "
            f"{len(value)} characters, more than {MAX_KEY_VALUE}",
            culprit,
        )
    return value


def scheduled_key(template: str | None, parameters: dict[str, Any]) -> str | None:
    """The key of a run the scheduler creates. Nobody is there to answer a 422, and its
    parameters were checked when the schedule was saved; if the template still fails, the run
    counts with the deployment's runs that have no key value."""
    if template is None:
        return None
    try:
        return render_key(template, parameters)
    except KeyRenderError:
        return None
