"""A flow's parameters: binding call arguments, validation from type hints, the JSON schema, and
making values JSON-safe for the API. pydantic is imported here lazily, when a flow runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import inspect
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from headrace.exceptions import ParameterError


def bind(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """Call arguments as a `{name: value}` dict, defaults filled in."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None
    bound.apply_defaults()
    return bound.arguments


def call_args(
    signature: inspect.Signature, parameters: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments that reproduce a `bind` result."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    params = signature.parameters.values()
    # Before a *args, arguments must be positional, or they would collide with it.
    has_var_positional = any(p.kind is p.VAR_POSITIONAL for p in params)
    for name, param in signature.parameters.items():
        if name not in parameters:
            continue
        value = parameters[name]
        if param.kind is param.VAR_POSITIONAL:
            args.extend(value)
        elif param.kind is param.VAR_KEYWORD:
            kwargs.update(value)
        elif param.kind is param.POSITIONAL_ONLY or (
            has_var_positional and param.kind is param.POSITIONAL_OR_KEYWORD
        ):
            args.append(value)
        else:
            kwargs[name] = value
    return args, kwargs


def evaluated_signature(fn: Callable[..., Any]) -> inspect.Signature:
    """`fn`'s signature with string hints (`from __future__ import annotations` in the user's
    module) evaluated in its module, so pydantic sees `SecretStr`, not an unknown name."""
    try:
        return inspect.signature(fn, eval_str=True)
    except (NameError, AttributeError, SyntaxError, TypeError):
        # A hint naming something imported only under TYPE_CHECKING: pydantic reads the strings.
        return inspect.signature(fn)


class ParameterModel:
    """A pydantic model made from a function's signature, built once per flow."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        # Here: pydantic loads when parameters are first validated, not at `import headrace`.
        from pydantic import ConfigDict, Field, create_model

        self.fn = fn
        descriptions = docstring_descriptions(fn.__doc__ or "")
        fields: dict[str, Any] = {}
        for name, param in evaluated_signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = Any if param.annotation is param.empty else param.annotation
            default = ... if param.default is param.empty else param.default
            fields[name] = (
                annotation,
                Field(default=default, description=descriptions.get(name)),
            )
        self.model = create_model(
            f"{fn.__name__}_parameters",
            __config__=ConfigDict(arbitrary_types_allowed=True),
            **fields,
        )

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Coerce values to their type hints; a `ParameterError` names each bad parameter."""
        # Here: pydantic loads when parameters are first validated, not at `import headrace`.
        from pydantic import ValidationError

        known = {k: v for k, v in parameters.items() if k in self.model.model_fields}
        try:
            model = self.model.model_validate(known)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                got = error.get("input")
                problems.append(f"parameter {where!r}: {error['msg']} (got {got!r})")
            raise ParameterError(
                f"invalid parameters for flow {_qualname(self.fn)!r}: " + "; ".join(problems)
            ) from None
        validated = dict(parameters)
        validated.update({name: getattr(model, name) for name in known})
        return validated

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self.model.model_json_schema()
        schema["title"] = "Parameters"
        return schema


_ARGS_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params):\s*$", re.MULTILINE)
_GOOGLE_ARG = re.compile(r"^\s+(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_ARG = re.compile(r":param\s+(?:[^:]+\s)?(\w+):\s*(.*)")


def docstring_descriptions(doc: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style `Args:` section or Sphinx `:param x:` lines."""
    doc = inspect.cleandoc(doc)
    found: dict[str, str] = {m.group(1): m.group(2).strip() for m in _SPHINX_ARG.finditer(doc)}
    section = _ARGS_SECTION.search(doc)
    if section is None:
        return found
    current: str | None = None
    arg_indent: int | None = None
    for line in doc[section.end() :].splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break  # the next section
        if arg_indent is None:
            arg_indent = indent
        match = _GOOGLE_ARG.match(line)
        if match and indent == arg_indent:
            current = match.group(1).lstrip("*")
            found[current] = match.group(3).strip()
        elif current is not None:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found


def json_safe(value: Any, _depth: int = 0) -> Any:
    """A JSON-compatible copy of `value`: what can be said in JSON is kept, the rest is `repr`."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
        )
    if _depth > 20:
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [json_safe(v, _depth + 1) for v in items]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal | PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value, _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value), _depth + 1)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return json_safe(dump(mode="json"), _depth + 1)
        except Exception:
            pass
    return repr(value)


def _qualname(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))
