"""`@task`: a function whose calls inside a flow are tracked task runs.

Outside a flow a task is just its function. Inside a flow, a call runs it through the task
engine (retries, timeouts, caching, hooks) and `submit`/`map` run it in the flow's task runner.
Neither httpx nor pydantic is loaded by this module: they load when a flow first runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from headrace.caching import DEFAULT, NO_CACHE, CacheContext, CacheKeyFnPolicy, CachePolicy
from headrace.caching import task_input_hash as task_input_hash  # as `prefect.tasks` offers it
from headrace.context import FlowRunContext, flow_run_context
from headrace.engine.task_dispatch import ReturnType, arun_task, run_task, submit_task
from headrace.futures import FutureList, HeadraceFuture, unmapped
from headrace.hooks import Hook, as_list
from headrace.not_offered import TASK_KEYWORDS, refuse_keywords
from headrace.parameters import bind, call_args
from headrace.result_storage import check_storage
from headrace.results import ResultSerializer, check_serializer
from headrace.retries import RetryDelay, validate_retry_options
from headrace.retries import exponential_backoff as exponential_backoff  # as `prefect.tasks`
from headrace.run_names import RunName, check_run_name
from headrace.transactions import TransactionHook

if TYPE_CHECKING:
    from pathlib import Path

    from headrace.reporter import TaskRunRecord
    from headrace.states import State

P = ParamSpec("P")
R = TypeVar("R")

CacheKeyFn = Callable[["CacheContext", dict[str, Any]], "str | None"]
RetryConditionFn = Callable[["Task[..., Any]", "TaskRunRecord", "State[Any]"], bool]


class Task(Generic[P, R]):
    """A function tracked as task runs when called inside a flow."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        task_run_name: RunName | None = None,
        tags: Iterable[str] | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay = 0,
        retry_jitter_factor: float | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        timeout_seconds: float | None = None,
        cache_key_fn: CacheKeyFn | None = None,
        cache_policy: CachePolicy | None = None,
        cache_expiration: dt.timedelta | None = None,
        refresh_cache: bool = False,
        persist_result: bool | None = None,
        result_serializer: ResultSerializer | None = None,
        result_storage: str | Path | None = None,
        result_storage_key: str | None = None,
        log_prints: bool | None = None,
        on_completion: Hook | Sequence[Hook] | None = None,
        on_failure: Hook | Sequence[Hook] | None = None,
        on_running: Hook | Sequence[Hook] | None = None,
        on_commit: TransactionHook | Sequence[TransactionHook] | None = None,
        on_rollback: TransactionHook | Sequence[TransactionHook] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError("@task decorates a function")
        validate_retry_options(retries, retry_delay_seconds, retry_jitter_factor)
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
        if result_serializer is not None:
            check_serializer(result_serializer)
        check_storage(result_storage, result_storage_key)
        if cache_key_fn is not None and cache_policy is not None:
            raise ValueError("give cache_key_fn or cache_policy, not both")
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or inspect.getdoc(fn)
        self.version = version
        check_run_name(task_run_name, "task_run_name")
        self.task_run_name = task_run_name
        self.tags = frozenset(tags or ())
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_jitter_factor = retry_jitter_factor
        self.retry_condition_fn = retry_condition_fn
        self.timeout_seconds = timeout_seconds
        self.cache_key_fn = cache_key_fn
        self.cache_policy = cache_policy
        self.cache_expiration = cache_expiration
        self.refresh_cache = refresh_cache
        self.persist_result = persist_result
        self.result_serializer = result_serializer
        self.result_storage = result_storage
        self.result_storage_key = result_storage_key
        self.log_prints = log_prints
        self.on_completion = as_list(on_completion)
        self.on_failure = as_list(on_failure)
        self.on_running = as_list(on_running)
        # Named as in Prefect: `on_commit`/`on_rollback` are also decorators adding a hook.
        self.on_commit_hooks: list[TransactionHook] = as_list(on_commit)
        self.on_rollback_hooks: list[TransactionHook] = as_list(on_rollback)
        self.task_key = f"{fn.__module__}.{fn.__qualname__}"
        self.isasync = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as a reference to its function plus its options (a task call travels to
        # task runners in other processes): the function by module and qualified name, which
        # the decorator's module-level name reaches; otherwise the function as the pickler sees
        # it. A script's own function (`__main__`) goes as itself too: cloudpickle (the process
        # pool, Dask, Ray) then carries it by value with the globals it reads, as Prefect does,
        # instead of re-running the script's module-level code in the other process.
        fn = self.fn
        ref: tuple[str, str] | Callable[..., Any] = (
            fn
            if fn.__module__ == "__main__"
            or "<locals>" in fn.__qualname__
            or _lookup(fn.__module__, fn.__qualname__) is not fn
            else (fn.__module__, fn.__qualname__)
        )
        # Transaction hooks run on the flow's side only: they need not (and may not) pickle.
        options = {k: v for k, v in self._options().items() if k not in _ATTRIBUTES}
        return _rebuild_task, (ref, options)

    def with_options(self, **options: Any) -> Task[P, R]:
        """A copy of this task with some options changed, e.g. `fetch.with_options(retries=5)`."""
        refuse_keywords(options, TASK_KEYWORDS, f"{self.name}.with_options")
        current = self._options()
        unknown = set(options) - set(current)
        if unknown:
            raise TypeError(f"unknown task options: {sorted(unknown)}")
        return type(self)(self.fn, **{**current, **options})

    def _options(self) -> dict[str, Any]:
        names = list(inspect.signature(Task.__init__).parameters)[2:]
        return {name: getattr(self, _ATTRIBUTES.get(name, name)) for name in names}

    def on_commit(self, hook: TransactionHook) -> TransactionHook:
        """`@my_task.on_commit`: run `hook(txn)` when a run of this task commits."""
        self.on_commit_hooks.append(hook)
        return hook

    def on_rollback(self, hook: TransactionHook) -> TransactionHook:
        """`@my_task.on_rollback`: run `hook(txn)` when a run of this task is rolled back."""
        self.on_rollback_hooks.append(hook)
        return hook

    def cache_policy_in_effect(self) -> CachePolicy | None:
        if self.cache_key_fn is not None:
            return CacheKeyFnPolicy(self.cache_key_fn)
        if self.persist_result is False:
            return None
        if self.cache_policy is None:
            if self.result_storage_key is not None:
                return None  # as in Prefect 3: the formatted storage key is the cache key
            if self.persists_results():
                return DEFAULT  # as in Prefect 3: persisted results are reused within a run
        return self.cache_policy

    def persists_results(self) -> bool:
        """Whether results are stored: `persist_result`, else (as in Prefect 3) whenever a
        cache policy, a key function or a result option was given."""
        if self.persist_result is not None:
            return self.persist_result
        return (
            (self.cache_policy is not None and self.cache_policy is not NO_CACHE)
            or self.cache_key_fn is not None
            or self.result_storage_key is not None
            or self.result_storage is not None
            or self.result_serializer is not None
        )

    # -- arguments ----------------------------------------------------------------------------

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        return bind(self._signature, args, kwargs, f"task {self.name!r}")

    def call_args(self, parameters: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        return call_args(self._signature, parameters)

    # -- calling ------------------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Inside a flow: a tracked task run (pass `return_state=True` for its State)."""
        flow_ctx = flow_run_context.get()
        if flow_ctx is None:
            kwargs.pop("return_state", None)
            return self.fn(*args, **kwargs)  # outside a flow, a task is its function
        return_type: ReturnType = "state" if kwargs.pop("return_state", False) else "result"
        wait_for: Iterable[Any] | None = kwargs.pop("wait_for", None)  # type: ignore[assignment]
        parameters = self.bind(args, kwargs)
        if self.isasync:
            return arun_task(  # type: ignore[return-value]
                self, parameters, flow_ctx, return_type=return_type, wait_for=wait_for
            )
        return run_task(  # type: ignore[no-any-return]
            self, parameters, flow_ctx, return_type=return_type, wait_for=wait_for
        )

    def submit(
        self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any
    ) -> HeadraceFuture[R]:
        """Run in the flow's task runner; returns a future at once."""
        return submit_task(self, self.bind(args, kwargs), _require_flow(self, "submit"), wait_for)

    def map(
        self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any
    ) -> FutureList[R]:
        """One submitted run per item of the iterable arguments (zipped; `unmapped(x)` is passed
        whole to every run)."""
        flow_ctx = _require_flow(self, "map")
        calls = _mapped_calls(self.bind(args, kwargs))
        return FutureList(submit_task(self, params, flow_ctx, wait_for) for params in calls)


# Options kept under another attribute name than their keyword's.
_ATTRIBUTES = {"on_commit": "on_commit_hooks", "on_rollback": "on_rollback_hooks"}


def _lookup(module: str, qualname: str) -> Callable[..., Any] | None:
    """The function `module.qualname` names (a task there stands for its function)."""
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    fn = found.fn if isinstance(found, Task) else found
    return fn if callable(fn) else None


def _rebuild_task(
    ref: tuple[str, str] | Callable[..., Any], options: dict[str, Any]
) -> Task[..., Any]:
    if isinstance(ref, tuple):
        fn = _lookup(*ref)
        if fn is None:
            raise ImportError(f"cannot find the task function {ref[0]}.{ref[1]}")
    else:
        fn = ref
    return Task(fn, **options)


def _require_flow(task: Task[..., Any], what: str) -> FlowRunContext:
    flow_ctx = flow_run_context.get()
    if flow_ctx is None:
        raise RuntimeError(f"{task.name}.{what}() works only inside a flow")
    return flow_ctx


def _mapped_calls(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    iterated: dict[str, list[Any]] = {}
    fixed: dict[str, Any] = {}
    for name, value in parameters.items():
        if isinstance(value, unmapped):
            fixed[name] = value.value
        elif isinstance(value, str | bytes) or not isinstance(value, Iterable):
            fixed[name] = value
        else:
            iterated[name] = list(value)
    if not iterated:
        raise ValueError("map() needs at least one iterable argument (wrap constants in unmapped)")
    lengths = {name: len(values) for name, values in iterated.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"map() arguments differ in length: {lengths}")
    count = next(iter(lengths.values()))
    return [{**fixed, **{n: v[i] for n, v in iterated.items()}} for i in range(count)]


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    task_run_name: RunName | None = None,
    tags: Iterable[str] | None = None,
    retries: int = 0,
    retry_delay_seconds: RetryDelay = 0,
    retry_jitter_factor: float | None = None,
    retry_condition_fn: RetryConditionFn | None = None,
    timeout_seconds: float | None = None,
    cache_key_fn: CacheKeyFn | None = None,
    cache_policy: CachePolicy | None = None,
    cache_expiration: dt.timedelta | None = None,
    refresh_cache: bool = False,
    persist_result: bool | None = None,
    result_serializer: ResultSerializer | None = None,
    result_storage: str | Path | None = None,
    result_storage_key: str | None = None,
    log_prints: bool | None = None,
    on_completion: Hook | Sequence[Hook] | None = None,
    on_failure: Hook | Sequence[Hook] | None = None,
    on_running: Hook | Sequence[Hook] | None = None,
    on_commit: TransactionHook | Sequence[TransactionHook] | None = None,
    on_rollback: TransactionHook | Sequence[TransactionHook] | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a task: `@task` or `@task(retries=3, ...)`."""
    refuse_keywords(options, TASK_KEYWORDS, "@task")
    if fn is None:
        return lambda f: Task(f, **options)
    return Task(fn, **options)
