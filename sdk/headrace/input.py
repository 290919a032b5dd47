"""Typed input for paused flow runs (`from headrace.input import RunInput`), as in Prefect.

A flow calls `pause_flow_run(wait_for_input=ApprovalInput)`; whoever resumes the run gives the
values (`resume_flow_run(id, run_input={...})`, `headrace flow-run resume ID --input k=v`, or the
Resume form of the run page, drawn from the model's JSON schema) and the flow gets them back as
a validated `ApprovalInput`.

Runs can also send each other input (`send_input(value, flow_run_id)` and, in the receiving run,
`for value in receive_input(MyInput): ...`), as in Prefect.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model
from pydantic.fields import FieldInfo


class RunInput(BaseModel):
    """Subclass it with the fields a person (or another run) must give to resume a paused run.
    Field defaults and `Field(description=...)` become the defaults and help of the Resume form."""

    model_config = ConfigDict(extra="forbid")

    # Shown above the Resume form (plain text); set with `with_initial_data(description=...)`.
    description: ClassVar[str | None] = None

    @classmethod
    def with_initial_data(cls, description: str | None = None, **defaults: Any) -> type[RunInput]:
        """A subclass whose fields default to `defaults` (and that shows `description`)."""
        fields: dict[str, Any] = {}
        for name, value in defaults.items():
            if name not in cls.model_fields:
                raise ValueError(f"{cls.__name__} has no field {name!r}")
            info = cls.model_fields[name]
            # The field as declared (description, constraints), with the new default.
            fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, default=value))
        model: type[RunInput] = create_model(cls.__name__, __base__=cls, **fields)
        model.description = description if description is not None else cls.description
        return model

    def send_to(self, flow_run_id: uuid.UUID | str, sender: str | None = None) -> None:
        """`send_input(self, flow_run_id, sender)`."""
        send_input(self, flow_run_id, sender=sender)

    @classmethod
    def receive(cls, **options: Any) -> Iterator[Any]:
        """`receive_input(cls, **options)`, with its keywords: the inputs of this type sent
        to the run."""
        return receive_input(cls, **options)

    @classmethod
    def run_input_schema(cls) -> dict[str, Any]:
        """The JSON schema the API checks a resume's `run_input` against."""
        return cls.model_json_schema()


V = TypeVar("V")

__all__ = ["ReceivedInput", "RunInput", "receive_input", "send_input"]


# -- input between runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedInput(Generic[V]):
    """An input with where it came from (`receive_input(..., with_metadata=True)`)."""

    value: V
    key: str
    sender: str | None
    received_at: datetime


def _key_prefix(input_type: Any, key_prefix: str | None) -> str:
    # The same default on both sides, as in Prefect: "<type name>-auto".
    return key_prefix or f"{getattr(input_type, '__name__', 'input').lower()}-auto"


def _current_run_id(flow_run_id: uuid.UUID | str | None, what: str) -> uuid.UUID | str:
    from headrace.context import flow_run_context

    if flow_run_id is not None:
        return flow_run_id
    ctx = flow_run_context.get()
    if ctx is None:
        raise RuntimeError(f"{what}() outside a flow run needs flow_run_id=")
    return ctx.flow_run_id


def send_input(
    run_input: Any,
    flow_run_id: uuid.UUID | str,
    sender: str | None = None,
    key_prefix: str | None = None,
) -> None:
    """Send `run_input` (a RunInput or other pydantic model, or any JSON value) to the run
    `flow_run_id`, whose `receive_input` of the same type gets it."""
    from headrace.client import HeadraceClient, run_inputs
    from headrace.context import flow_run_context
    from headrace.schemas.run_inputs import RunInputCreate

    if isinstance(run_input, BaseModel):
        value = run_input.model_dump(mode="json")
        prefix = _key_prefix(type(run_input), key_prefix)
    else:
        value = {"value": TypeAdapter(Any).dump_python(run_input, mode="json")}
        prefix = _key_prefix(type(run_input), key_prefix)
    ctx = flow_run_context.get()
    if sender is None and ctx is not None:
        sender = f"headrace.flow-run.{ctx.flow_run_id}"
    body = RunInputCreate(key=f"{prefix}-{uuid.uuid4()}", value=value, sender=sender)
    with HeadraceClient() as client:
        run_inputs.send(client, flow_run_id, body)


def receive_input(
    input_type: type[V],
    timeout: float | None = 3600,
    poll_interval: float = 10,
    raise_timeout_error: bool = False,
    exclude_keys: set[str] | None = None,
    key_prefix: str | None = None,
    flow_run_id: uuid.UUID | str | None = None,
    with_metadata: bool = False,
) -> Iterator[Any]:
    """The inputs of type `input_type` sent to this run (or `flow_run_id`), in the order they
    came, each validated: an iterator that waits (polling every `poll_interval` s) for the next
    one, and ends when none came for `timeout` s (`TimeoutError` with `raise_timeout_error`).
    With `with_metadata`, each is a `ReceivedInput` (value, key, sender, received_at)."""
    from headrace.client import HeadraceClient, run_inputs
    from headrace.schemas.run_inputs import RunInputQuery

    run_id = _current_run_id(flow_run_id, "receive_input")
    prefix = _key_prefix(input_type, key_prefix)
    is_model = isinstance(input_type, type) and issubclass(input_type, BaseModel)
    adapter: TypeAdapter[Any] = TypeAdapter(input_type)
    skip = set(exclude_keys or ())
    last: uuid.UUID | None = None
    with HeadraceClient() as client:
        waited_since = time.monotonic()
        while True:
            page = run_inputs.after(client, run_id, RunInputQuery(key_prefix=prefix, after=last))
            for item in page:
                last = item.id
                if item.key in skip:
                    continue
                typed = adapter.validate_python(item.value if is_model else item.value["value"])
                yield (
                    ReceivedInput(typed, item.key, item.sender, item.created)
                    if with_metadata
                    else typed
                )
                waited_since = time.monotonic()
            if page:
                continue
            if timeout is not None and time.monotonic() - waited_since >= timeout:
                if raise_timeout_error:
                    raise TimeoutError(f"no {prefix} input came within {timeout:g} s")
                return
            time.sleep(max(0.05, poll_interval))
