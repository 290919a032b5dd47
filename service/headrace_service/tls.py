"""https served by the server itself: the certificate and key settings checked before start."""

from __future__ import annotations

import ssl
from pathlib import Path

from headrace_service.errors import StartupError
from headrace_service.settings import ServerSettings


def tls_files(settings: ServerSettings) -> tuple[Path, Path] | None:
    """The certificate and key to serve https with, checked to load together; None for http.
    A StartupError naming the setting to fix otherwise (uvicorn would print a traceback)."""
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise StartupError(f"{given} needs {missing} (HEADRACE_TLS_CERT_FILE and _KEY_FILE)")
    cert, key = cert.expanduser(), key.expanduser()
    for path, option in ((cert, "--tls-cert"), (key, "--tls-key")):
        if not path.is_file():
            raise StartupError(f"{option} {path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as error:
        raise StartupError(
            f"cannot serve https with {cert} and {key}: {error.reason or error} (both PEM, "
            "the key belonging to the certificate)"
        ) from None
    except OSError as error:
        raise StartupError(f"cannot read {cert} or {key}: {error.strerror}") from None
    return cert, key
