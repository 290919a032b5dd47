"""Prefect features that headrace does not offer, refused at once with one line that names the
feature and the section of docs/migrating-from-prefect.md saying what to do instead: a script
written for Prefect must never run on with an option silently ignored."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from headrace.exceptions import NotOffered

DOCS = "docs/migrating-from-prefect.md"

# Decorator keywords Prefect accepts and headrace does not: keyword -> docs section.
FLOW_KEYWORDS = {
    "cache_result_in_memory": "not-supported",
}
TASK_KEYWORDS = {
    "cache_result_in_memory": "not-supported",
    "viz_return_value": "not-supported",
    "asset_deps": "not-supported",
}

# Keywords of Prefect's `flow.deploy(...)` that build or ship images, or set infrastructure.
DEPLOY_KEYWORDS = {
    "image": "docker-and-kubernetes",
    "build": "docker-and-kubernetes",
    "push": "docker-and-kubernetes",
    "job_variables": "docker-and-kubernetes",
}


def not_offered(feature: str, section: str = "not-supported") -> NotOffered:
    """The one-line error for a Prefect feature headrace does not offer."""
    return NotOffered(
        f"{feature} is a Prefect feature headrace does not offer: see {DOCS}#{section}"
    )


def refuse_keywords(given: Iterable[str], refused: dict[str, str], where: str) -> None:
    """Raise `NotOffered` for the first keyword of `given` that headrace does not offer."""
    for keyword in given:
        section = refused.get(keyword)
        if section is not None:
            raise not_offered(f"{where}({keyword}=...)", section)


def get_client(*args: object, **kwargs: object) -> NoReturn:
    """Prefect's API client has no counterpart of the same shape: headrace's is
    `headrace.client.HeadraceClient` (see the docs section named in the error)."""
    raise not_offered("headrace.get_client() (Prefect's API client)", "the-api-client")
