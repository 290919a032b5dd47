"""Where persisted results live: the API (Postgres) by default, or `result_storage=`: a local
folder, or any fsspec URL (`file:///data/results`, `memory://results`, `s3://bucket/prefix` where
the fsspec package for it is installed; `pip install 'headrace[results]'`).

A result written to a folder or URL is one file per key holding a small JSON envelope (the
serializer's name, an optional expiry, the serialised bytes in base64), so any process that can
reach the same storage can read it back, e.g. with `State.result()` on a state read from the API.
"""

from __future__ import annotations

import base64
import json
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

_ENVELOPE_VERSION = 2  # 1: the first layout, fields at the top (still read)


class ResultStore(Protocol):
    """Read and write serialised results by key (the API's results port has this shape)."""

    def read(self, key: str) -> tuple[str, bytes] | None: ...

    def write(
        self, key: str, serializer: str, data: bytes, expires_at: datetime | None
    ) -> None: ...

    def delete(self, key: str) -> None: ...


class MissingStoragePackage(ImportError):
    """`result_storage` names a URL whose fsspec package is not installed."""


def check_storage(result_storage: object, result_storage_key: object = None) -> None:
    """Refuse at decoration what cannot be a result storage: a Prefect block is not offered."""
    if result_storage_key is not None and not isinstance(result_storage_key, str):
        raise ValueError(
            f"result_storage_key must be a string template, not {result_storage_key!r}"
        )
    if result_storage is None:
        return
    if not isinstance(result_storage, str | Path):
        raise ValueError(
            f"result_storage must be a folder path or an fsspec URL, not {result_storage!r} "
            "(storage blocks are not offered: see docs/migrating-from-prefect.md)"
        )
    if "://" in str(result_storage):
        try:
            import fsspec  # Here: an optional extra, checked only for URLs.
        except ImportError:
            raise MissingStoragePackage(
                f"result_storage={str(result_storage)!r} needs fsspec: "
                "pip install 'headrace[results]'"
            ) from None
        protocol = str(result_storage).split("://", 1)[0]
        try:
            fsspec.get_filesystem_class(protocol)
        except (ImportError, ValueError) as exc:
            raise MissingStoragePackage(f"result_storage={str(result_storage)!r}: {exc}") from None


def storage_location(result_storage: str | Path) -> str:
    """The location a `result_storage` option names, as recorded in a state's data."""
    text = str(result_storage)
    if "://" in text:
        return text.rstrip("/")
    return Path(text).expanduser().resolve().as_posix()


class FileResultStore:
    """Results as files under a folder (a plain path: no extra package) or an fsspec URL."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._fs: Any = None
        self._root = location
        if "://" in location:
            try:
                import fsspec  # Here: an optional extra, needed only for URLs.
            except ImportError:
                raise MissingStoragePackage(
                    f"result_storage={location!r} needs fsspec: pip install 'headrace[results]'"
                ) from None
            self._fs, self._root = fsspec.core.url_to_fs(location)

    def _path(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"a result storage key must be a relative path, not {key!r}")
        return f"{self._root.rstrip('/')}/{key}"

    def read(self, key: str) -> tuple[str, bytes] | None:
        path = self._path(key)
        try:
            if self._fs is None:
                raw = Path(path).read_bytes()
            else:
                with self._fs.open(path, "rb") as handle:
                    raw = handle.read()
        except FileNotFoundError:
            return None
        envelope = json.loads(raw)
        if "metadata" not in envelope:  # the first layout: its fields at the top
            envelope = {"metadata": _first_layout_metadata(envelope), "result": envelope["data"]}
        metadata = envelope["metadata"]
        expires_at = metadata.get("expiration")
        if expires_at is not None and datetime.fromisoformat(expires_at) <= datetime.now(UTC):
            return None
        return metadata["serializer"]["type"], base64.b64decode(envelope["result"])

    def write(self, key: str, serializer: str, data: bytes, expires_at: datetime | None) -> None:
        # Prefect 3's layout (`metadata` and `result`), so that tools reading its files find
        # their way; the result itself is the serializer's bytes in base64.
        envelope = {
            "metadata": {
                "storage_key": key,
                "expiration": expires_at.isoformat() if expires_at is not None else None,
                "serializer": {"type": serializer},
                "headrace_layout": _ENVELOPE_VERSION,
            },
            "result": base64.b64encode(data).decode(),
        }
        raw = json.dumps(envelope).encode()
        path = self._path(key)
        if self._fs is None:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(raw)
            partial.replace(target)  # a reader never sees half a result
        else:
            parent = path.rsplit("/", 1)[0]
            self._fs.makedirs(parent, exist_ok=True)
            with self._fs.open(path, "wb") as handle:
                handle.write(raw)

    def delete(self, key: str) -> None:
        path = self._path(key)
        with suppress(FileNotFoundError):  # nothing stored: nothing to forget
            if self._fs is None:
                Path(path).unlink()
            else:
                self._fs.rm(path)


_stores: dict[str, FileResultStore] = {}


def file_store(location: str) -> FileResultStore:
    """The store of a location, one per process (a `memory://` filesystem is per process too)."""
    store = _stores.get(location)
    if store is None:
        store = _stores.setdefault(location, FileResultStore(location))
    return store


class ApiReader(Protocol):
    """What reading a result from the API needs of a client (a `HeadraceClient`)."""

    def get_json(self, path: str, **kwargs: Any) -> Any: ...


def store_for(result_storage: str | Path | None, default: ResultStore) -> ResultStore:
    """The store a `result_storage` option names; `default` (the API's) when it is None."""
    return default if result_storage is None else file_store(storage_location(result_storage))


def result_ref(key: str, serializer: str, result_storage: str | Path | None) -> dict[str, Any]:
    """What a state's data says of where its result is (`State.result()` reads it back)."""
    ref: dict[str, Any] = {"result_key": key, "serializer": serializer}
    if result_storage is not None:
        ref["result_storage"] = storage_location(result_storage)
    return ref


class NoStoredResult(LookupError):
    """A state's data names no stored result, or the result is gone."""


def read_stored(
    data: dict[str, Any] | None, client: ApiReader | None, serializer: object = None
) -> Any:
    """The value of the result a state's `data` points to: from its folder or URL, from the API
    through `client`, or kept inline (a flow's small JSON result)."""
    # Here: the serializers (pickle, json) are needed only once a result is read.
    from headrace.results import deserialize

    data = data or {}
    key = data.get("result_key")
    if not isinstance(key, str):
        if "result" in data:
            return data["result"]
        raise NoStoredResult("this state has no stored result (the run did not persist one)")
    location = data.get("result_storage")
    if isinstance(location, str):
        found = file_store(location).read(key)
    elif client is None:
        raise NoStoredResult(
            f"the result {key!r} is stored in the headrace API: pass client=HeadraceClient(...)"
        )
    else:
        try:
            answer = client.get_json(f"/results/{key}")
        except Exception as exc:
            raise NoStoredResult(f"cannot read the result {key!r} from the API: {exc}") from exc
        found = (answer["serializer"], base64.b64decode(answer["data"]))
    if found is None:
        raise NoStoredResult(f"no result under {key!r} in {location} (or it expired)")
    return deserialize(found[1], found[0], serializer)


def _first_layout_metadata(envelope: dict[str, Any]) -> dict[str, Any]:
    return {
        "expiration": envelope.get("expires_at"),
        "serializer": {"type": envelope["serializer"]},
    }
