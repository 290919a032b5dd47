"""`@flow`: a function whose every call is a flow run recorded by the API.

Neither httpx nor pydantic is loaded by this module: they load when a flow first runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from headrace.deployments import FlowSource, deploy_flow, entrypoint_path, source_folder
from headrace.engine.flow_engine import ReturnType, arun_flow, run_flow
from headrace.entrypoints import EntrypointError, load_entrypoint
from headrace.hooks import Hook, as_list
from headrace.not_offered import FLOW_KEYWORDS, refuse_keywords
from headrace.parameters import ParameterModel, bind, call_args
from headrace.result_storage import check_storage
from headrace.results import ResultSerializer, check_serializer
from headrace.retries import RetryDelay, validate_retry_options
from headrace.run_names import RunName, check_run_name
from headrace.schemas.names import resource_name_problem
from headrace.task_runners import TaskRunner, ThreadPoolTaskRunner

if TYPE_CHECKING:
    from pathlib import Path

    from headrace.schemas.deployments import Deployment
    from headrace.serving import DeploymentSpec

P = ParamSpec("P")
R = TypeVar("R")


class Flow(Generic[P, R]):
    """A function run as flow runs: states, retries, timeout, logs and its task runs recorded."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        flow_run_name: RunName | None = None,
        tags: Iterable[str] | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay = 0,
        retry_jitter_factor: float | None = None,
        timeout_seconds: float | None = None,
        validate_parameters: bool = True,
        task_runner: TaskRunner | None = None,
        log_prints: bool | None = None,
        on_completion: Hook | Sequence[Hook] | None = None,
        on_failure: Hook | Sequence[Hook] | None = None,
        on_crashed: Hook | Sequence[Hook] | None = None,
        on_cancellation: Hook | Sequence[Hook] | None = None,
        on_running: Hook | Sequence[Hook] | None = None,
        persist_result: bool | None = None,
        result_storage: str | Path | None = None,
        result_serializer: ResultSerializer | None = None,
        resume_from_failure: bool = False,
    ) -> None:
        if not callable(fn):
            raise TypeError("@flow decorates a function")
        validate_retry_options(retries, retry_delay_seconds, retry_jitter_factor)
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
        self.fn = fn
        self.name = (name or fn.__name__.replace("_", "-")).strip()
        problem = resource_name_problem(self.name)
        if problem is not None:
            raise ValueError(f"@flow(name={name!r}): {problem}")
        self.description = description or inspect.getdoc(fn)
        self.version = version
        check_run_name(flow_run_name, "flow_run_name")
        self.flow_run_name = flow_run_name
        self.tags = frozenset(tags or ())
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_jitter_factor = retry_jitter_factor
        self.timeout_seconds = timeout_seconds
        self.validate_parameters = validate_parameters
        self.task_runner = task_runner or ThreadPoolTaskRunner()
        self.log_prints = log_prints
        self.on_completion = as_list(on_completion)
        self.on_failure = as_list(on_failure)
        self.on_crashed = as_list(on_crashed)
        self.on_cancellation = as_list(on_cancellation)
        self.on_running = as_list(on_running)
        if result_serializer is not None:
            check_serializer(result_serializer)
        check_storage(result_storage)
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        # A retry skips the task runs that completed in an earlier attempt (their stored
        # results are handed to the code instead): see docs/resume-from-failure.md.
        self.resume_from_failure = bool(resume_from_failure)
        self.isasync = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        self._parameter_model: ParameterModel | None = None

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"

    def with_options(self, **options: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed (any keyword of `@flow`)."""
        refuse_keywords(options, FLOW_KEYWORDS, f"{self.name}.with_options")
        names = list(inspect.signature(Flow.__init__).parameters)[2:]
        current = {name: getattr(self, name) for name in names}
        unknown = set(options) - set(current)
        if unknown:
            raise TypeError(f"unknown flow options: {sorted(unknown)}")
        return type(self)(self.fn, **{**current, **options})

    @property
    def parameter_model(self) -> ParameterModel:
        if self._parameter_model is None:
            self._parameter_model = ParameterModel(self.fn)
        return self._parameter_model

    @property
    def parameter_schema(self) -> dict[str, Any]:
        """The JSON schema of the parameters, from type hints and the docstring's `Args:`."""
        return self.parameter_model.json_schema()

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        return bind(self._signature, args, kwargs, f"flow {self.name!r}")

    def call_args(self, parameters: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        return call_args(self._signature, parameters)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the flow: a new flow run (a child run inside another flow). Pass
        `return_state=True` to get its final State instead of its result."""
        return_type: ReturnType = "state" if kwargs.pop("return_state", False) else "result"
        parameters = self.bind(args, kwargs)
        if self.isasync:
            return arun_flow(self, parameters, return_type=return_type)  # type: ignore[return-value]
        return run_flow(self, parameters, return_type=return_type)  # type: ignore[no-any-return]

    def deploy(self, name: str, work_pool_name: str, **options: Any) -> Deployment:
        """Create or update a deployment run by the pool's workers (see `deploy_flow`)."""
        return deploy_flow(self, name, work_pool_name, **options)

    def to_deployment(self, name: str, **options: Any) -> DeploymentSpec:
        """A deployment for `headrace.serve(...)`; options as for `deploy` (no pool)."""
        # Here: serving runs a worker (headrace_worker), needed only by `serve`.
        from headrace.serving import to_deployment

        return to_deployment(self, name, **options)

    def serve(self, name: str, *, limit: int = 10, **options: Any) -> None:
        """Deploy this flow and run its runs in this process until Ctrl-C (see headrace.serve)."""
        # Here: serving runs a worker (headrace_worker), needed only by `serve`.
        from headrace.serving import serve

        serve(self.to_deployment(name, **options), limit=limit)

    @staticmethod
    def from_source(source: str | Path, entrypoint: str) -> FlowSource:
        """The flow at `entrypoint` (`flows/etl.py:etl`) in the folder `source`, or in a git
        repository (`https://host/repo.git`, `git+file:///srv/repo.git@v1`), to `.deploy()`."""
        folder, code_source = source_folder(source)
        return FlowSource(folder, entrypoint, load_flow(folder, entrypoint), code_source)


def require_flow(found: object, entrypoint: str) -> Flow[..., Any]:
    """What an entrypoint names, if it is a flow; anything else is refused, never called: a
    deployment runs the functions you decorated with @flow, not whatever an entrypoint names."""
    if isinstance(found, Flow):
        return found
    kind = "plain function" if inspect.isfunction(found) else type(found).__name__
    raise EntrypointError(
        f"entrypoint {entrypoint!r} is not a flow (a {kind}); decorate the function with @flow"
    )


def load_flow(folder: str | Path, entrypoint: str) -> Flow[..., Any]:
    """The flow at `entrypoint`, a file relative to `folder` (or a module), loaded as a
    worker's engine will."""
    return require_flow(load_entrypoint(entrypoint_path(folder, entrypoint)), entrypoint)


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    flow_run_name: RunName | None = None,
    tags: Iterable[str] | None = None,
    retries: int = 0,
    retry_delay_seconds: RetryDelay = 0,
    retry_jitter_factor: float | None = None,
    timeout_seconds: float | None = None,
    validate_parameters: bool = True,
    task_runner: TaskRunner | None = None,
    log_prints: bool | None = None,
    on_completion: Hook | Sequence[Hook] | None = None,
    on_failure: Hook | Sequence[Hook] | None = None,
    on_crashed: Hook | Sequence[Hook] | None = None,
    on_cancellation: Hook | Sequence[Hook] | None = None,
    on_running: Hook | Sequence[Hook] | None = None,
    persist_result: bool | None = None,
    result_storage: str | Path | None = None,
    result_serializer: ResultSerializer | None = None,
    resume_from_failure: bool = False,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: `@flow` or `@flow(retries=2, log_prints=True, ...)`."""
    refuse_keywords(options, FLOW_KEYWORDS, "@flow")
    if fn is None:
        return lambda f: Flow(f, **options)
    return Flow(fn, **options)


# `flow.from_source(source=..., entrypoint=...).deploy(...)`, as in Prefect.
flow.from_source = Flow.from_source  # type: ignore[attr-defined]
