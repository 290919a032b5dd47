"""`Block`: a pydantic model saved on the server under a name and loaded back by flows.

    class Warehouse(Block):
        url: str
        password: SecretStr

    Warehouse(url="...", password="...").save("prod", overwrite=True)
    Warehouse.load("prod").password.get_secret_value()

A subclass is a block type: its slug is its name in kebab case (`Warehouse` -> `warehouse`,
or `_block_type_slug`), and the first save registers its JSON schema with the server. Fields
the schema marks secret (`SecretStr`, pydantic's `Secret`) are encrypted at rest by the server
and come back in clear only with a worker or admin key (or from a server without auth).

As in Prefect, `save`, `load` and `delete` called where an event loop runs return the awaitable
of `asave`, `aload` and `adelete`, so `await Block.load(...)` works in async code.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Self, TypeVar, cast

from pydantic import BaseModel, PrivateAttr, SecretBytes, SecretStr
from pydantic import Secret as PydanticSecret
from pydantic_core import to_jsonable_python

from headrace.errors import Conflict, NotFound
from headrace.redaction import remember_secret

T = TypeVar("T")

# Block types known in this process, by slug: `Block.load("secret/name")` finds the class here.
_REGISTRY: dict[str, type[Block]] = {}


def slugify(name: str) -> str:
    """A block type's slug from its name: lower case, runs of other characters as one dash."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _dispatch(async_form: Callable[[], Awaitable[T]], sync_form: Callable[[], T]) -> T:
    """The sync form's result, or (where an event loop runs) the async form's awaitable."""
    if _in_event_loop():
        return cast(T, async_form())
    return sync_form()


def _client() -> Any:
    # Here: the typed client loads httpx and the settings, which `import headrace` must not.
    from headrace.client import HeadraceClient

    return HeadraceClient()


def _reveal(value: Any) -> Any:
    """A model dump (python mode) as JSON values, secrets in clear."""
    if isinstance(value, SecretStr | SecretBytes | PydanticSecret):
        return _reveal(value.get_secret_value())
    if isinstance(value, BaseModel):
        return _reveal(value.model_dump())
    if isinstance(value, dict):
        return {str(k): _reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_reveal(v) for v in value]
    return to_jsonable_python(value)


def _remember_secrets(value: Any, inside_secret: bool = False) -> None:
    """Remember every clear string held by a secret field, so run logs mask it."""
    if isinstance(value, SecretStr | PydanticSecret):
        _remember_secrets(value.get_secret_value(), True)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _remember_secrets(getattr(value, name), inside_secret)
    elif isinstance(value, dict):
        for item in value.values():
            _remember_secrets(item, inside_secret)
    elif isinstance(value, list | tuple):
        for item in value:
            _remember_secrets(item, inside_secret)
    elif inside_secret and isinstance(value, str):
        remember_secret(value)


class Block(BaseModel):
    """Base class of blocks: subclass it with the fields your configuration needs."""

    _block_type_name: ClassVar[str | None] = None
    _block_type_slug: ClassVar[str | None] = None
    _description: ClassVar[str | None] = None

    _block_document_id: uuid.UUID | None = PrivateAttr(default=None)
    _block_document_name: str | None = PrivateAttr(default=None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.get_block_type_slug()] = cls

    @classmethod
    def get_block_type_name(cls) -> str:
        return cls._block_type_name or cls.__name__

    @classmethod
    def get_block_type_slug(cls) -> str:
        return slugify(cls._block_type_slug or cls.get_block_type_name())

    @classmethod
    def get_description(cls) -> str | None:
        return cls._description or (cls.__doc__ or "").strip() or None

    # ---- save ------------------------------------------------------------------------------
    def save(self, name: str | None = None, overwrite: bool = False) -> uuid.UUID:
        """Save these values under `name`; a name in use needs `overwrite=True`. Returns the
        block's id. Where an event loop runs, returns the awaitable of `asave`."""
        return _dispatch(
            lambda: self.asave(name, overwrite), lambda: self._save_sync(name, overwrite)
        )

    async def asave(self, name: str | None = None, overwrite: bool = False) -> uuid.UUID:
        return await asyncio.to_thread(self._save_sync, name, overwrite)

    def _save_sync(self, name: str | None, overwrite: bool) -> uuid.UUID:
        from headrace.client import blocks
        from headrace.schemas.blocks import BlockDocumentWrite, BlockTypeUpsert

        name = name or self._block_document_name
        if not name:
            raise ValueError("a block needs a name to be saved: block.save('my-block')")
        cls = type(self)
        slug = cls.get_block_type_slug()
        with _client() as client:
            blocks.upsert_type(
                client,
                slug,
                BlockTypeUpsert(
                    name=cls.get_block_type_name(),
                    json_schema=cls.model_json_schema(),
                    description=cls.get_description(),
                ),
            )
            body = BlockDocumentWrite(
                block_type_slug=slug, name=name, data=_reveal(self), overwrite=overwrite
            )
            try:
                saved = blocks.save(client, body)
            except Conflict as exc:
                raise ValueError(
                    f"a {slug} block named {name!r} exists; save with overwrite=True to replace "
                    f"its values ({exc.detail})"
                ) from None
        self._block_document_id = saved.id
        self._block_document_name = saved.name
        return saved.id

    # ---- load ------------------------------------------------------------------------------
    @classmethod
    def load(cls, name: str, validate: bool = True) -> Self:
        """The block saved as `name` (on `Block` itself: `"slug/name"`). Where an event loop
        runs, returns the awaitable of `aload`."""
        return _dispatch(lambda: cls.aload(name, validate), lambda: cls._load_sync(name, validate))

    @classmethod
    async def aload(cls, name: str, validate: bool = True) -> Self:
        return await asyncio.to_thread(cls._load_sync, name, validate)

    @classmethod
    def _load_sync(cls, name: str, validate: bool) -> Self:
        from headrace.client import blocks

        target, slug, document_name = cls._resolve(name)
        with _client() as client:
            try:
                document = blocks.read(client, slug, document_name)
            except NotFound:
                raise ValueError(
                    f"no {slug} block named {document_name!r} (see `headrace block ls`)"
                ) from None
        if document.secrets_masked:
            raise PermissionError(
                f"the {slug} block {document_name!r} holds secrets, and this API key may "
                "only read them masked: load it with a worker or admin key"
            )
        loaded = (
            target.model_validate(document.data)
            if validate
            else target.model_construct(**document.data)
        )
        loaded._block_document_id = document.id
        loaded._block_document_name = document.name
        _remember_secrets(loaded)
        return cast(Self, loaded)

    @classmethod
    def _resolve(cls, name: str) -> tuple[type[Block], str, str]:
        """(class, slug, document name): `Block.load("secret/x")` picks the class by slug."""
        if cls is not Block:
            return cls, cls.get_block_type_slug(), name
        slug, sep, document_name = name.partition("/")
        if not sep or not slug or not document_name:
            raise ValueError(
                f"on Block itself, name the block as 'block-type-slug/name', got {name!r}"
            )
        target = _REGISTRY.get(slug)
        if target is None:
            raise ValueError(
                f"no block class with slug {slug!r} is imported in this process: import the "
                "module that defines it, or load through that class"
            )
        return target, slug, document_name

    # ---- delete ----------------------------------------------------------------------------
    @classmethod
    def delete(cls, name: str) -> None:
        """Delete the block saved as `name`. Where an event loop runs, returns the awaitable
        of `adelete`."""
        return _dispatch(lambda: cls.adelete(name), lambda: cls._delete_sync(name))

    @classmethod
    async def adelete(cls, name: str) -> None:
        await asyncio.to_thread(cls._delete_sync, name)

    @classmethod
    def _delete_sync(cls, name: str) -> None:
        from headrace.client import blocks

        _, slug, document_name = cls._resolve(name)
        with _client() as client:
            try:
                blocks.delete(client, slug, document_name)
            except NotFound:
                raise ValueError(f"no {slug} block named {document_name!r}") from None
