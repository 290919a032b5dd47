"""Cache policies: what makes two task runs "the same", so the second reuses the first's result.

A policy turns a task run into a key (or None: do not cache). Policies add up with `+`:
`INPUTS + TASK_SOURCE` caches per inputs and per version of the task's code.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headrace.parameters import json_safe


@dataclass(frozen=True)
class CacheContext:
    """What a cache policy or a `cache_key_fn` is told about the task run."""

    task_key: str
    task_name: str
    fn: Callable[..., Any]
    flow_run_id: uuid.UUID | None
    # A hash of the flow run's parameters (None: no parameters, or none that hash).
    flow_parameters_key: str | None = None
    # As Prefect's context offers them to a `cache_key_fn`: `context.task.name`,
    # `context.task_run.id` / `.name` / `.flow_run_id`.
    task: Any = None
    task_run: Any = None


class UncacheableInputs(ValueError):
    """The inputs cannot be hashed into a cache key."""


class CachePolicy:
    """Base of cache policies: `compute_key` returns a key, or None for "do not cache".

    `a + b` keys on both; `policy - "name"` leaves the argument `name` out of the inputs it
    hashes (a no-op for a policy that does not hash inputs)."""

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        if isinstance(other, _NoCache):
            return self
        return CompoundCachePolicy(_parts(self) + _parts(other))

    def __sub__(self, name: str) -> CachePolicy:
        _require_name(name)
        return self


def _parts(policy: CachePolicy) -> tuple[CachePolicy, ...]:
    return policy.policies if isinstance(policy, CompoundCachePolicy) else (policy,)


def _require_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"only an argument's name can be taken out of a cache policy, not {name!r}")


class CompoundCachePolicy(CachePolicy):
    """Several policies at once: a key made of all their keys."""

    def __init__(self, policies: tuple[CachePolicy, ...]) -> None:
        self.policies = policies

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        keys = [p.compute_key(context, inputs) for p in self.policies]
        present = [k for k in keys if k is not None]
        return hash_objects(context.task_key, *present) if present else None

    def __sub__(self, name: str) -> CachePolicy:
        _require_name(name)
        return CompoundCachePolicy(tuple(p - name for p in self.policies))

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.policies)


class Inputs(CachePolicy):
    """Keyed on the task's arguments (less the `exclude`d ones)."""

    def __init__(self, exclude: tuple[str, ...] = ()) -> None:
        self.exclude = exclude

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        kept = (
            {k: v for k, v in inputs.items() if k not in self.exclude} if self.exclude else inputs
        )
        return hash_objects(context.task_key, kept)

    def __sub__(self, name: str) -> CachePolicy:
        _require_name(name)
        return Inputs((*self.exclude, name))

    def __repr__(self) -> str:
        return "INPUTS" + "".join(f" - {name!r}" for name in self.exclude)


class TaskSource(CachePolicy):
    """Keyed on the task function's source code: a changed function misses."""

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        try:
            source = inspect.getsource(context.fn)
        except (OSError, TypeError):
            # No source file (e.g. defined in a REPL): the bytecode is the next best version.
            source = repr(getattr(context.fn, "__code__", context.fn).co_code)  # type: ignore[union-attr]
        return hash_objects(context.task_key, source)

    def __repr__(self) -> str:
        return "TASK_SOURCE"


class FlowParameters(CachePolicy):
    """Keyed on the parameters of the flow run the task runs in."""

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        return context.flow_parameters_key

    def __repr__(self) -> str:
        return "FLOW_PARAMETERS"


class RunId(CachePolicy):
    """Keyed on the flow run: a hit only within the same flow run."""

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        return None if context.flow_run_id is None else hash_objects(str(context.flow_run_id))

    def __repr__(self) -> str:
        return "RUN_ID"


class _NoCache(CachePolicy):
    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        return None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return other

    def __repr__(self) -> str:
        return "NO_CACHE"


class CacheKeyFnPolicy(CachePolicy):
    """A `cache_key_fn(context, parameters)` as a policy; its key is used as given."""

    def __init__(self, cache_key_fn: Callable[[CacheContext, dict[str, Any]], str | None]) -> None:
        self.cache_key_fn = cache_key_fn

    def compute_key(self, context: CacheContext, inputs: dict[str, Any]) -> str | None:
        key = self.cache_key_fn(context, inputs)
        return None if key is None else str(key)  # e.g. a sum of the inputs: a key all the same

    def __repr__(self) -> str:
        return f"cache_key_fn={getattr(self.cache_key_fn, '__name__', self.cache_key_fn)!r}"


INPUTS: CachePolicy = Inputs()
TASK_SOURCE: CachePolicy = TaskSource()
FLOW_PARAMETERS: CachePolicy = FlowParameters()
RUN_ID: CachePolicy = RunId()
NO_CACHE: CachePolicy = _NoCache()
NONE: CachePolicy = NO_CACHE
# What a task with persisted results and no policy of its own is cached by (as in Prefect 3):
# the same arguments and code, within the same flow run.
DEFAULT: CachePolicy = INPUTS + TASK_SOURCE + RUN_ID


def flow_parameters_key(parameters: dict[str, Any]) -> str | None:
    """The key FLOW_PARAMETERS gives the task runs of a flow run with these parameters."""
    if not parameters:
        return None
    try:
        return hash_objects(parameters)
    except UncacheableInputs:
        return None


def task_input_hash(context: CacheContext, arguments: dict[str, Any]) -> str | None:
    """A `cache_key_fn` keyed on the task and its inputs (as in Prefect)."""
    return hash_objects(context.task_key, arguments)


def hash_objects(*objects: Any) -> str:
    """A stable hash of JSON-able data; other values are hashed through pickle."""
    digest = hashlib.sha256()
    for obj in objects:
        try:
            payload = json.dumps(obj, sort_keys=True, default=_json_default).encode()
        except (TypeError, ValueError):
            try:
                payload = pickle.dumps(obj, protocol=4)
            except Exception as exc:
                raise UncacheableInputs(f"cannot hash {type(obj).__name__} into a key") from exc
        digest.update(payload)
        digest.update(b"\x00")
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    safe = json_safe(value)
    if isinstance(safe, str) and safe == repr(value) and " at 0x" in safe:
        # A repr with a memory address differs on every run: such a key would never hit.
        raise TypeError(f"{type(value).__name__} has no stable representation")
    return safe
