"""Blocks: typed, named configuration documents (credentials, settings) that flows load by name.

A block type is a pydantic class's JSON schema under a slug (`secret`, `my-db`); a block
document is one named set of values of a type. Values that the schema marks secret (`SecretStr`,
`Secret[...]`: `writeOnly`/`format: password`) are encrypted at rest by the server and returned
in clear only to worker and admin keys; every other reader sees `SECRET_MASK` in their place.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, TypeAdapter

from headrace.schemas.common import Model, Parameters, ReadModel, ResourceName

MAX_SLUG = 100
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MAX_DESCRIPTION = 10_000

BlockTypeSlug = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SLUG, pattern=SLUG_PATTERN)
]

BlockTypeSlugPath: TypeAdapter[str] = TypeAdapter(BlockTypeSlug)


class BlockTypeUpsert(Model):
    """Register a block type (a Block subclass) or replace its schema."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SLUG)]
    json_schema: dict[str, Any]
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)] | None = None


class BlockType(ReadModel):
    id: uuid.UUID
    slug: str
    name: str
    json_schema: dict[str, Any]
    description: str | None
    document_count: int = 0
    created: datetime
    updated: datetime


class BlockDocumentWrite(Model):
    """Save the values of a block under a name. `overwrite=false` refuses a name in use (409).
    `keep_secrets` names top-level fields whose stored secret is kept as it is (the dashboard's
    edit form sends nothing for a write-only field it never saw)."""

    block_type_slug: BlockTypeSlug
    name: ResourceName
    data: Parameters
    overwrite: bool = False
    keep_secrets: list[Annotated[str, StringConstraints(max_length=MAX_SLUG * 2)]] = Field(
        default_factory=list, max_length=100
    )


class BlockDocumentListQuery(Model):
    block_type_slug: BlockTypeSlug | None = None


class BlockDocument(ReadModel):
    id: uuid.UUID
    name: str
    block_type_slug: str
    block_type_name: str
    data: dict[str, Any]
    # True when secret values in `data` were replaced by the mask (a read key, the dashboard).
    secrets_masked: bool
    created: datetime
    updated: datetime
