"""Transactions: a group of task runs whose side effects stand or fall together (Prefect 3's
`with transaction():`).

Each task run that completes inside a `with transaction():` block joins it as a child. When the
block ends without an error, the transaction commits: the children's `on_commit` hooks run, in
the order the task runs joined. When an error leaves the block, it rolls back: the children's
`on_rollback` hooks run in reverse order, and their task runs are marked RolledBack (a Completed
state of that name). A task run outside any transaction commits on its own as soon as it
completes. Transactions nest: an inner one that ends well commits with its outer one. As in
Prefect, an `on_commit` hook that raises rolls its task run back; an `on_rollback` hook that
raises stops the rollback there. Hooks may be async functions.
Hooks receive the task run's own transaction (`txn.key` is its cache key, if it has one);
`txn.get(name)` reads what the block `set` on an enclosing transaction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

TransactionHook = Callable[["Transaction"], Any]

_MISSING: Any = object()
_current: ContextVar[Transaction | None] = ContextVar("headrace_transaction", default=None)
_logger = logging.getLogger("headrace.transactions")


class TransactionState(enum.Enum):
    ACTIVE = "ACTIVE"
    STAGED = "STAGED"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"


class Transaction:
    """One transaction: its hooks, its children, and values shared by the code inside it."""

    def __init__(
        self,
        key: str | None = None,
        *,
        on_commit: list[TransactionHook] | None = None,
        on_rollback: list[TransactionHook] | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self.key = key
        self.state = TransactionState.ACTIVE
        self.parent: Transaction | None = None
        self.children: list[Transaction] = []
        self.on_commit_hooks = list(on_commit or ())
        self.on_rollback_hooks = list(on_rollback or ())
        self.logger = logger or _logger
        self._values: dict[str, Any] = {}
        # Work to finish before the outcome is decided (task runs submitted inside).
        self._before_end: list[Callable[[], None]] = []

    def set(self, name: str, value: Any) -> None:
        """Share a value with the code and hooks inside this transaction."""
        self._values[name] = value

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """A value set on this transaction or an enclosing one; `default` (or a KeyError
        naming it) when none has it."""
        txn: Transaction | None = self
        while txn is not None:
            if name in txn._values:
                return txn._values[name]
            txn = txn.parent
        if default is _MISSING:
            raise KeyError(f"no value {name!r} was set on this transaction or an outer one")
        return default

    def add_child(self, child: Transaction) -> None:
        child.parent = self
        child.state = TransactionState.STAGED
        self.children.append(child)

    def before_end(self, work: Callable[[], None]) -> None:
        self._before_end.append(work)

    def commit(self) -> bool:
        """Commit the children in order, then run this one's commit hooks. As in Prefect, a
        hook that raises stops the commit: it is logged and this transaction rolls back.
        False if it did not commit (or was already over)."""
        if self.state in (TransactionState.COMMITTED, TransactionState.ROLLED_BACK):
            return False
        try:
            for child in self.children:
                child.commit()
            for hook in self.on_commit_hooks:
                _call(hook, self)
        except Exception:
            self.logger.exception("an on_commit hook raised; rolling back instead")
            self.rollback()
            return False
        self.state = TransactionState.COMMITTED
        return True

    def rollback(self) -> bool:
        """Run the rollback hooks last to first, then roll the children back last to first.
        As in Prefect, a hook that raises stops the rollback there (it is logged)."""
        if self.state in (TransactionState.COMMITTED, TransactionState.ROLLED_BACK):
            return False
        try:
            for hook in reversed(self.on_rollback_hooks):
                _call(hook, self)
            self.state = TransactionState.ROLLED_BACK
            for child in reversed(self.children):
                child.rollback()
        except Exception:
            self.logger.exception("an on_rollback hook raised; the rollback stops there")
            return False
        return True

    def __enter__(self) -> Transaction:
        if self.state is not TransactionState.ACTIVE or hasattr(self, "_token"):
            raise RuntimeError("a transaction is entered once")
        self.parent = _current.get()
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        try:
            for work in self._before_end:
                work()
        except BaseException:
            if exc_type is None:
                _current.reset(self._token)
                self.rollback()
                raise
        _current.reset(self._token)
        if exc_type is not None:
            self.rollback()
        elif self.parent is not None:
            self.parent.add_child(self)  # commits (or rolls back) with the enclosing one
        else:
            self.commit()

    def __repr__(self) -> str:
        return f"Transaction(key={self.key!r}, state={self.state.value})"


def _call(hook: TransactionHook, txn: Transaction) -> None:
    outcome = hook(txn)
    if inspect.isawaitable(outcome):
        # An async hook: run to its end in a thread of its own (the caller may be inside a
        # running event loop: an async flow's body).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _awaited(outcome)).result()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def transaction(key: str | None = None, **options: Any) -> Transaction:
    """`with transaction():` groups the task runs inside it (see the module's doc). Prefect's
    `commit_mode`, `isolation_level`, `store` and `write_on_commit` are not offered."""
    if options:
        raise TypeError(
            f"transaction() does not offer {sorted(options)}; see docs/migrating-from-prefect.md"
        )
    return Transaction(key)


def get_transaction() -> Transaction | None:
    """The innermost transaction in progress, if any."""
    return _current.get()


__all__ = [
    "Transaction",
    "TransactionHook",
    "TransactionState",
    "get_transaction",
    "transaction",
]
