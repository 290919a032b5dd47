"""Jinja2 templates of automations' actions, rendered in a sandbox over the triggering event.

The sandbox keeps a template from reaching Python internals (attributes starting with `_`,
unsafe callables) and bounds `range()`; the rendered text is bounded too. A template that does
not parse is refused when the automation is saved; one that fails while rendering fails its
action with the reason, never the evaluator.
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

MAX_RENDERED_CHARS = 1_000_000

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


class TemplateFailed(Exception):
    """A template could not be rendered."""


def syntax_problem(source: str) -> str | None:
    """Why `source` is not a valid template, or None."""
    try:
        _ENV.parse(source)
    except TemplateError as error:
        return f"bad template: {error}"
    return None


def render(source: str, context: dict[str, Any]) -> str:
    try:
        text = _ENV.from_string(source).render(context)
    except TemplateError as error:
        raise TemplateFailed(f"template error: {error}") from None
    except Exception as error:  # a filter raising on a wrong type, a division by zero...
        raise TemplateFailed(f"template error: {type(error).__name__}: {error}") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateFailed(f"the rendered template is over {MAX_RENDERED_CHARS} characters")
    return text


def render_values(value: Any, context: dict[str, Any]) -> Any:
    """Every string inside a JSON value rendered as a template (parameters of a run)."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, dict):
        return {key: render_values(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_values(item, context) for item in value]
    return value


def value_problems(value: Any, where: str) -> list[str]:
    """The syntax problems of every string inside a JSON value, each naming where it is."""
    if isinstance(value, str):
        problem = syntax_problem(value)
        return [f"{where}: {problem}"] if problem else []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in value_problems(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in value_problems(item, f"{where}.{i}")]
    return []
