"""`HEADRACE_API_URL`: one API URL, or the URLs of several API replicas separated by commas.

With several, a client sends to one of them and moves to the next when it cannot be reached or
answers 503 (see `headrace.client`), so scripts and workers fail over without a load balancer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Kept free of pydantic: the CLI's quick commands read the setting without it.
DEFAULT_API_URL = "http://127.0.0.1:4200/api"
EXAMPLE = DEFAULT_API_URL


def split_api_urls(value: str) -> list[str]:
    """The URLs of a setting, trimmed, without checking them."""
    return [part.strip().rstrip("/") for part in value.split(",")]


def parse_api_urls(value: str) -> list[str]:
    """The URLs of a setting; a ValueError naming the first one that is not an http(s) URL."""
    urls = split_api_urls(value)
    for url in urls:
        if not url:
            raise ValueError(
                f"an empty URL in {value!r}: separate the URLs of API replicas with single commas"
            )
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL of the headrace API (e.g. {EXAMPLE})")
    return urls


def normalise_api_urls(value: str) -> str:
    return ",".join(parse_api_urls(value))
