"""Typed input for paused flow runs (`from headrace.input import RunInput`), as in Prefect.

A flow calls `pause_flow_run(wait_for_input=ApprovalInput)`; whoever resumes the run gives the
values (`resume_flow_run(id, run_input={...})`, `headrace flow-run resume ID --input k=v`, or the
Resume form of the run page, drawn from the model's JSON schema) and the flow gets them back as
a validated `ApprovalInput`. A bare type (`int`, `list[str]`, a `Literal`) is wrapped in an
automatic model with one field, `value`, and the flow gets the bare value back.

Runs can also send each other input (`send_input(value, flow_run_id)` and, in the receiving run,
`for value in receive_input(MyInput): ...`, or `async for` in an async flow), and answer what
they received (`value.respond(...)`), as in Prefect.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from inspect import isclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, PrivateAttr, TypeAdapter, create_model
from pydantic.fields import FieldInfo

from headrace.async_dispatch import async_dispatch
from headrace.schemas.run_inputs import Keyset, keyset_from_base_key, pause_base_key

if TYPE_CHECKING:
    from headrace.schemas.run_inputs import RunInputRead

V = TypeVar("V")
R = TypeVar("R", bound="RunInput")

# The sender a flow run signs its inputs with; `respond` answers the run it names.
FLOW_RUN_SENDER = "headrace.flow-run."

__all__ = [
    "AutomaticRunInput",
    "Keyset",
    "ReceivedInput",
    "RunInput",
    "RunInputMetadata",
    "keyset_from_base_key",
    "keyset_from_paused_state",
    "receive_input",
    "run_input_subclass_from_type",
    "send_input",
]


def keyset_from_paused_state(state: Any) -> Keyset:
    """The input keys of the pause that made this PAUSED state (a state of
    `FlowRunDetail.states` or a `headrace.states.State`): `RunInput.load(keyset)` reads the
    input its resume gave."""
    type_ = getattr(getattr(state, "type", None), "value", getattr(state, "type", None))
    if type_ != "PAUSED":
        raise RuntimeError(f"{type_!r} is unsupported: a keyset comes from a PAUSED state")
    data = getattr(state, "data", None) or {}
    pause_key = data.get("pause_key") if isinstance(data, dict) else None
    if pause_key is None:
        raise RuntimeError("this PAUSED state was not made by a pause: it has no pause key")
    return keyset_from_base_key(pause_base_key(state.name or "", str(pause_key)))


class RunInputMetadata(BaseModel):
    """Where a received input came from: its key, its sender and the run it was sent to."""

    key: str
    sender: str | None = None
    receiver: uuid.UUID


class RunInput(BaseModel):
    """Subclass it with the fields a person (or another run) must give to resume a paused run.
    Field defaults and `Field(description=...)` become the defaults and help of the Resume form."""

    model_config = ConfigDict(extra="forbid")

    # Shown above the Resume form (plain text); set with `with_initial_data(description=...)`.
    description: ClassVar[str | None] = None

    _metadata: RunInputMetadata | None = PrivateAttr(default=None)

    @property
    def metadata(self) -> RunInputMetadata | None:
        """Where this input came from, when it was received or loaded; else None."""
        return self._metadata

    @classmethod
    def with_initial_data(cls, description: str | None = None, **defaults: Any) -> type[Self]:
        """A subclass whose fields default to `defaults` (and that shows `description`)."""
        fields: dict[str, Any] = {}
        for name, value in defaults.items():
            if name not in cls.model_fields:
                raise ValueError(f"{cls.__name__} has no field {name!r}")
            info = cls.model_fields[name]
            # The field as declared (description, constraints), with the new default.
            fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, default=value))
        model = cast(type[Self], create_model(cls.__name__, __base__=cls, **fields))
        model.description = description if description is not None else cls.description
        return model

    @classmethod
    def run_input_schema(cls) -> dict[str, Any]:
        """The JSON schema the API checks a resume's `run_input` against."""
        return cls.model_json_schema()

    @classmethod
    def keyset_from_type(cls) -> Keyset:
        """A keyset named after the class (`<name>-schema`, ...)."""
        return keyset_from_base_key(cls.__name__.lower())

    @classmethod
    def subclass_from_base_model_type(cls, model_cls: type[BaseModel]) -> type[RunInput]:
        """A RunInput with the fields of the pydantic model `model_cls`."""
        return type(f"{model_cls.__name__}RunInput", (RunInput, model_cls), {})

    # -- the run's inputs by key ----------------------------------------------------------------

    @classmethod
    async def asave(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None = None) -> None:
        """`save`, awaited."""
        await asyncio.to_thread(cls._save, keyset, flow_run_id)

    @classmethod
    @async_dispatch(asave)
    def save(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None = None) -> None:
        """Store this model's JSON schema (and description) as the run's inputs
        `keyset["schema"]` (and `keyset["description"]`). `Conflict` when they exist."""
        cls._save(keyset, flow_run_id)

    @classmethod
    def _save(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None) -> None:
        run_id = _current_run_id(flow_run_id, "save")
        _create(run_id, keyset["schema"], cls.run_input_schema(), sender=None)
        if cls.description:
            _create(run_id, keyset["description"], {"value": cls.description}, sender=None)

    @classmethod
    async def aload(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None = None) -> Any:
        """`load`, awaited."""
        return await asyncio.to_thread(cls._load, keyset, flow_run_id)

    @classmethod
    @async_dispatch(aload)
    def load(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None = None) -> Any:
        """The run's input `keyset["response"]` (what the resume of a pause gave), validated
        into this model; with the model's defaults when there is none."""
        return cls._load(keyset, flow_run_id)

    @classmethod
    def _load(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None) -> Self:
        from headrace.client import run_inputs
        from headrace.client.shared import shared_client
        from headrace.errors import NotFound

        run_id = uuid.UUID(str(_current_run_id(flow_run_id, "load")))
        try:
            value = run_inputs.read(shared_client(), run_id, keyset["response"]).value
        except NotFound:
            value = {}
        instance = cls.model_validate(value)
        instance._metadata = RunInputMetadata(key=keyset["response"], receiver=run_id)
        return instance

    @classmethod
    def load_from_flow_run_input(cls, flow_run_input: RunInputRead) -> Self:
        """An input as read from the API, validated, with its metadata."""
        instance = cls.model_validate(flow_run_input.value)
        instance._metadata = _metadata(flow_run_input)
        return instance

    # -- between runs ---------------------------------------------------------------------------

    async def asend_to(
        self,
        flow_run_id: uuid.UUID | str,
        sender: str | None = None,
        key_prefix: str | None = None,
    ) -> None:
        """`send_to`, awaited."""
        await asend_input(self, flow_run_id, sender=sender, key_prefix=key_prefix)

    @async_dispatch(asend_to)
    def send_to(
        self,
        flow_run_id: uuid.UUID | str,
        sender: str | None = None,
        key_prefix: str | None = None,
    ) -> None:
        """`send_input(self, flow_run_id, sender, key_prefix)`."""
        _send(self, flow_run_id, sender, key_prefix)

    async def arespond(
        self, run_input: Any, sender: str | None = None, key_prefix: str | None = None
    ) -> None:
        """`respond`, awaited."""
        await asyncio.to_thread(self._respond, run_input, sender, key_prefix)

    @async_dispatch(arespond)
    def respond(
        self, run_input: Any, sender: str | None = None, key_prefix: str | None = None
    ) -> None:
        """Send `run_input` to the flow run that sent this input (`RuntimeError` when no flow
        run sent it)."""
        self._respond(run_input, sender, key_prefix)

    def _respond(self, run_input: Any, sender: str | None, key_prefix: str | None) -> None:
        sent_by = self._metadata.sender if self._metadata is not None else None
        _send(run_input, _sender_run(sent_by), sender, key_prefix)

    @classmethod
    def receive(
        cls,
        timeout: float | None = 3600,
        poll_interval: float = 10,
        raise_timeout_error: bool = False,
        exclude_keys: set[str] | None = None,
        key_prefix: str | None = None,
        flow_run_id: uuid.UUID | str | None = None,
        with_metadata: bool = False,
    ) -> InputReceiver[Any]:
        """`receive_input(cls, ...)`: the inputs of this type sent to the run."""
        return receive_input(
            cls,
            timeout=timeout,
            poll_interval=poll_interval,
            raise_timeout_error=raise_timeout_error,
            exclude_keys=exclude_keys,
            key_prefix=key_prefix,
            flow_run_id=flow_run_id,
            with_metadata=with_metadata,
        )


class AutomaticRunInput(RunInput, Generic[V]):
    """The model a bare type is wrapped in (`wait_for_input=int`): one field, `value`."""

    value: V
    # The type it wraps: its name makes the key prefix of inputs sent as that type.
    wrapped_type: ClassVar[Any] = None

    @classmethod
    def subclass_from_type(cls, type_: Any) -> type[AutomaticRunInput[Any]]:
        """A model whose one field `value` has the type `type_`."""
        prefix = getattr(type_, "__name__", getattr(type_, "_name", None)) or "input"
        model = create_model(
            f"{prefix.lower()}AutomaticRunInput", __base__=AutomaticRunInput, value=(type_, ...)
        )
        model.wrapped_type = type_
        return model

    @classmethod
    def _load(cls, keyset: Keyset, flow_run_id: uuid.UUID | str | None) -> Any:
        # The bare value, as pause_flow_run returns it.
        return super()._load(keyset, flow_run_id).value


def run_input_subclass_from_type(type_: Any) -> type[RunInput]:
    """The RunInput model for `type_`: a RunInput subclass as it is, a pydantic model as a
    RunInput with its fields, any other type wrapped in an `AutomaticRunInput`."""
    if isclass(type_) and issubclass(type_, RunInput):
        return type_
    if isclass(type_) and issubclass(type_, BaseModel):
        return RunInput.subclass_from_base_model_type(type_)
    return AutomaticRunInput.subclass_from_type(type_)


def input_model(type_: Any) -> type[BaseModel]:
    """What a pause validates its input with: a pydantic model as it is (so the flow gets an
    instance of the model it named), any other type wrapped in an `AutomaticRunInput`."""
    if isclass(type_) and issubclass(type_, BaseModel):
        return type_
    return AutomaticRunInput.subclass_from_type(type_)


def unwrap(value: BaseModel) -> Any:
    """What the flow gets: the bare value of an automatic input, else the model."""
    return value.value if isinstance(value, AutomaticRunInput) else value


# -- input between runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedInput(Generic[V]):
    """An input with where it came from (`receive_input(..., with_metadata=True)`)."""

    value: V
    key: str
    sender: str | None
    received_at: datetime

    async def arespond(
        self, run_input: Any, sender: str | None = None, key_prefix: str | None = None
    ) -> None:
        """`respond`, awaited."""
        await asyncio.to_thread(_send, run_input, _sender_run(self.sender), sender, key_prefix)

    @async_dispatch(arespond)
    def respond(
        self, run_input: Any, sender: str | None = None, key_prefix: str | None = None
    ) -> None:
        """Send `run_input` to the flow run that sent this input."""
        _send(run_input, _sender_run(self.sender), sender, key_prefix)


def _metadata(item: RunInputRead) -> RunInputMetadata:
    return RunInputMetadata(key=item.key, sender=item.sender, receiver=item.flow_run_id)


def _sender_run(sender: str | None) -> uuid.UUID:
    """The flow run that sent an input (its sender is `headrace.flow-run.<id>`)."""
    if sender is not None and sender.startswith(FLOW_RUN_SENDER):
        try:
            return uuid.UUID(sender.removeprefix(FLOW_RUN_SENDER))
        except ValueError:
            pass
    raise RuntimeError(
        "cannot respond to an input that was not sent by a flow run "
        f"(its sender is {sender!r}; a flow run's is {FLOW_RUN_SENDER}<id>)"
    )


def _key_prefix(input_type: Any, key_prefix: str | None) -> str:
    # The same default on both sides, as in Prefect: "<type name>-auto"; an automatic input is
    # named after the type it wraps (`int-auto`).
    named = getattr(input_type, "wrapped_type", None) or input_type
    return key_prefix or f"{getattr(named, '__name__', 'input').lower()}-auto"


def _current_run_id(flow_run_id: uuid.UUID | str | None, what: str) -> uuid.UUID | str:
    from headrace.context import flow_run_context

    if flow_run_id is not None:
        return flow_run_id
    ctx = flow_run_context.get()
    if ctx is None:
        raise RuntimeError(f"{what}() outside a flow run needs flow_run_id=")
    return ctx.flow_run_id


def _create(
    flow_run_id: uuid.UUID | str, key: str, value: dict[str, Any], sender: str | None
) -> None:
    from headrace.client import run_inputs
    from headrace.client.shared import shared_client
    from headrace.schemas.run_inputs import RunInputCreate

    body = RunInputCreate(key=key, value=value, sender=sender)
    run_inputs.send(shared_client(), flow_run_id, body)


def _send(
    run_input: Any,
    flow_run_id: uuid.UUID | str,
    sender: str | None,
    key_prefix: str | None,
) -> None:
    from headrace.context import flow_run_context

    if isinstance(run_input, BaseModel):
        value = run_input.model_dump(mode="json")
    else:
        value = {"value": TypeAdapter(Any).dump_python(run_input, mode="json")}
    prefix = _key_prefix(type(run_input), key_prefix)
    ctx = flow_run_context.get()
    if sender is None and ctx is not None:
        sender = f"{FLOW_RUN_SENDER}{ctx.flow_run_id}"
    _create(flow_run_id, f"{prefix}-{uuid.uuid4()}", value, sender)


async def asend_input(
    run_input: Any,
    flow_run_id: uuid.UUID | str,
    sender: str | None = None,
    key_prefix: str | None = None,
) -> None:
    """`send_input`, awaited."""
    await asyncio.to_thread(_send, run_input, flow_run_id, sender, key_prefix)


@async_dispatch(asend_input)
def send_input(
    run_input: Any,
    flow_run_id: uuid.UUID | str,
    sender: str | None = None,
    key_prefix: str | None = None,
) -> None:
    """Send `run_input` (a RunInput or other pydantic model, or any JSON value) to the run
    `flow_run_id`, whose `receive_input` of the same type gets it."""
    _send(run_input, flow_run_id, sender, key_prefix)


class InputReceiver(Generic[V]):
    """The inputs of one type sent to a run, in the order they came: iterate it with `for`, or
    with `async for` in async code (the wait then leaves the event loop free); `next()` /
    `await anext()` take one. Each wait ends after `timeout` seconds without a new input:
    the iteration stops, or raises `TimeoutError` with `raise_timeout_error`."""

    def __init__(
        self,
        input_type: Any,
        *,
        timeout: float | None,
        poll_interval: float,
        raise_timeout_error: bool,
        exclude_keys: set[str] | None,
        key_prefix: str | None,
        flow_run_id: uuid.UUID | str | None,
        with_metadata: bool,
    ) -> None:
        self.flow_run_id = _current_run_id(flow_run_id, "receive_input")
        self.key_prefix = _key_prefix(input_type, key_prefix)
        self.timeout = timeout
        self.poll_interval = max(0.05, poll_interval)
        self.raise_timeout_error = raise_timeout_error
        self.exclude_keys = set(exclude_keys or ())
        self.with_metadata = with_metadata
        self._is_model = isclass(input_type) and issubclass(input_type, BaseModel)
        self._adapter: TypeAdapter[Any] = TypeAdapter(input_type)
        self._after: uuid.UUID | None = None
        self._ready: deque[RunInputRead] = deque()

    # -- iteration ------------------------------------------------------------------------------

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> V:
        try:
            return self._next_blocking()
        except TimeoutError:
            if self.raise_timeout_error:
                raise
            raise StopIteration from None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> V:
        try:
            return await self.anext()
        except TimeoutError:
            if self.raise_timeout_error:
                raise
            raise StopAsyncIteration from None

    async def anext(self) -> V:
        """The next input, awaited; `TimeoutError` when none came within `timeout`."""
        deadline = self._deadline()
        while not self._ready:
            await asyncio.to_thread(self._fetch)
            if self._ready:
                break
            self._check(deadline)
            await asyncio.sleep(self.poll_interval)
        return self._convert(self._ready.popleft())

    @async_dispatch(anext)
    def next(self) -> V:
        """The next input (awaitable in async code); `TimeoutError` when none came in time."""
        return self._next_blocking()

    # -- the reads ------------------------------------------------------------------------------

    def _next_blocking(self) -> V:
        deadline = self._deadline()
        while not self._ready:
            self._fetch()
            if self._ready:
                break
            self._check(deadline)
            time.sleep(self.poll_interval)
        return self._convert(self._ready.popleft())

    def _deadline(self) -> float | None:
        return None if self.timeout is None else time.monotonic() + self.timeout

    def _check(self, deadline: float | None) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"no {self.key_prefix} input came within {self.timeout:g} s")

    def _fetch(self) -> None:
        """One page of the inputs after the last one read, into the ready queue."""
        from headrace.client import run_inputs
        from headrace.client.shared import shared_client
        from headrace.schemas.run_inputs import RunInputQuery

        query = RunInputQuery(key_prefix=self.key_prefix, after=self._after)
        page = run_inputs.after(shared_client(), self.flow_run_id, query)
        for item in page:
            self._after = item.id
            if item.key not in self.exclude_keys:
                self.exclude_keys.add(item.key)
                self._ready.append(item)

    def _convert(self, item: RunInputRead) -> V:
        typed = self._adapter.validate_python(item.value if self._is_model else item.value["value"])
        if isinstance(typed, RunInput):
            typed._metadata = _metadata(item)
        if self.with_metadata:
            return cast(V, ReceivedInput(typed, item.key, item.sender, item.created))
        # An automatic input gives its bare value, as receive_input(int) does.
        return cast(V, typed.value if isinstance(typed, AutomaticRunInput) else typed)


def receive_input(
    input_type: Any,
    timeout: float | None = 3600,
    poll_interval: float = 10,
    raise_timeout_error: bool = False,
    exclude_keys: set[str] | None = None,
    key_prefix: str | None = None,
    flow_run_id: uuid.UUID | str | None = None,
    with_metadata: bool = False,
) -> InputReceiver[Any]:
    """The inputs of type `input_type` sent to this run (or `flow_run_id`), in the order they
    came, each validated: iterate with `for` (or `async for` in an async flow); each wait polls
    every `poll_interval` s and ends the iteration when none came for `timeout` s
    (`TimeoutError` with `raise_timeout_error`). With `with_metadata`, each is a
    `ReceivedInput` (value, key, sender, received_at); a received RunInput has `.metadata`
    and `.respond(...)` either way."""
    return InputReceiver(
        input_type,
        timeout=timeout,
        poll_interval=poll_interval,
        raise_timeout_error=raise_timeout_error,
        exclude_keys=exclude_keys,
        key_prefix=key_prefix,
        flow_run_id=flow_run_id,
        with_metadata=with_metadata,
    )
