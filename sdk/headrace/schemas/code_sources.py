"""Where a deployment's code comes from, besides a folder on the worker's host.

- `{"kind": "bundle", "sha256": ...}`: a tar.gz uploaded with `PUT /api/code_bundles/{sha256}`;
  workers download it once per hash, verify it and unpack it into a cache.
- `{"kind": "git", "url": ..., "ref": ...}`: a git repository the worker clones (or fetches)
  into a cache and checks `ref` out of (None: the remote's default branch).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from headrace.schemas.common import Model

SHA256_PATTERN = r"^[0-9a-f]{64}$"
# The git URLs the worker may clone: no `ext::` or other command-running transports.
_GIT_URL = re.compile(r"^(https?|ssh|git|file)://\S+$|^[\w.-]+@[\w.-]+:\S+$")


class BundleSource(Model):
    kind: Literal["bundle"]
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the uploaded tar.gz.")


class GitSource(Model):
    kind: Literal["git"]
    url: str = Field(max_length=2048, description="https://, ssh://, git:// or file:// URL.")
    ref: str | None = Field(
        default=None, max_length=255, description="Branch, tag or commit; None: default branch."
    )

    @field_validator("url")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        if not _GIT_URL.match(value):
            raise ValueError(
                f"expected a git URL like https://github.com/org/repo.git, got {value!r}"
            )
        return value

    @field_validator("ref")
    @classmethod
    def _plain_ref(cls, value: str | None) -> str | None:
        # A ref starting with "-" would be read by git as an option.
        if value is not None and (
            not value or value.startswith("-") or any(c.isspace() for c in value)
        ):
            raise ValueError(f"expected a branch, tag or commit like main or v1.2, got {value!r}")
        return value


CodeSource = Annotated[BundleSource | GitSource, Field(discriminator="kind")]
