"""TLS of the client's transport: which certificates it trusts, and the refusal to send an API
key in clear text over a network.

A client of an `https://` API verifies the server's certificate against the system's store, or
against the one CA file of `HEADRACE_API_CA_FILE` (a private CA). A client of plain `http://`
APIs only builds the cheap context httpx needs and loads no certificates: a flow process talking
to a worker's local API pays nothing for TLS.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from headrace.errors import SettingsError

if TYPE_CHECKING:
    import ssl

CA_FILE_FIX = "set HEADRACE_API_CA_FILE to the certificate of the CA that signed it"


def verify_context(api_urls: list[str], ca_file: Path | None) -> ssl.SSLContext | bool:
    """What httpx verifies with: the system store or the CA file for https; nothing to load
    for plain http (False there verifies nothing because nothing is encrypted)."""
    if not any(url.startswith("https://") for url in api_urls):
        return False
    return _context(None if ca_file is None else ca_file.expanduser())


@lru_cache(maxsize=4)
def _context(ca_file: Path | None) -> ssl.SSLContext:
    # One per process and CA: loading a store takes tens of milliseconds.
    import ssl  # only for https: checking a plain http URL (the CLI's quick commands) needs none

    try:
        # With a CA file, only that CA is trusted; without, the system's store.
        return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except (OSError, ssl.SSLError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise SettingsError(
            f"invalid HEADRACE_API_CA_FILE: cannot read a CA certificate from {ca_file}: {reason}"
        ) from None


def refuse_key_in_clear(api_urls: list[str], api_key: str | None, allow_insecure: bool) -> None:
    """A SettingsError when an API key would travel unencrypted to another host."""
    if not api_key or allow_insecure:
        return
    for url in api_urls:
        parts = urlsplit(url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            raise SettingsError(
                f"refusing to send the API key over plain http to {url}: use an https:// URL "
                "(the server's --tls-cert/--tls-key, or a TLS proxy in front of it), or set "
                "HEADRACE_ALLOW_INSECURE_HTTP=true if the network is private and trusted"
            )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def untrusted_certificate(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind a connection error, if that is what it was."""
    import ssl

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def untrusted_message(url: str, failure: ssl.SSLCertVerificationError) -> str:
    reason = failure.verify_message or failure.reason or str(failure)
    if "hostname" in str(reason).lower() or "ip address mismatch" in str(reason).lower():
        return (
            f"the TLS certificate of {url} does not name its host ({reason}): use the name "
            "or address the certificate was made for in HEADRACE_API_URL"
        )
    return f"the TLS certificate of {url} is not trusted ({reason}): {CA_FILE_FIX}"
