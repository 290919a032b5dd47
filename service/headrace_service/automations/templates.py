"""Jinja2 templates of automations' actions and inbound webhooks, rendered in a sandbox.

The sandbox keeps a template from reaching Python internals (attributes starting with `_`,
unsafe callables). A template is also bounded in work: every `range()` of one rendering draws
from one budget of items (so nested loops cannot multiply), `*` and `**` cannot build huge
values, and the rendered text has a maximum size. A template that does not parse is refused
when it is saved; one that fails while rendering fails its action (or its request) with the
reason, never the evaluator.
"""

from __future__ import annotations

import contextvars
import operator
from typing import Any

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_RENDERED_CHARS = 1_000_000
# Items all the range() calls of one rendering may produce together.
RANGE_BUDGET = 100_000
MAX_EXPONENT = 1000

_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    budget = _budget.get([RANGE_BUDGET])
    budget[0] -= len(numbers)
    if budget[0] < 0:
        raise SecurityError(f"range(): a template may loop over {RANGE_BUDGET} items in all")
    return numbers


class BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"**: exponents are at most {MAX_EXPONENT}")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if sized and len(seq) * times > MAX_RENDERED_CHARS:
                raise SecurityError(f"*: the result would be over {MAX_RENDERED_CHARS} items")
        return operator.mul(left, right)


_ENV = BoundedSandbox(autoescape=False, keep_trailing_newline=True)
_ENV.globals["range"] = _bounded_range


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
    token = _budget.set([RANGE_BUDGET])
    try:
        text = _ENV.from_string(source).render(context)
    except TemplateError as error:
        raise TemplateFailed(f"template error: {error}") from None
    except Exception as error:  # a filter raising on a wrong type, a division by zero...
        raise TemplateFailed(f"template error: {type(error).__name__}: {error}") from None
    finally:
        _budget.reset(token)
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
