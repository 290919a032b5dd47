"""Which URLs may carry an API key in clear text, and what the client trusts for https."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.api_tls import refuse_key_in_clear, verify_context
from headrace.client import HeadraceClient
from headrace.errors import SettingsError

KEY = "hr_" + "k" * 40


@pytest.mark.parametrize(
    "urls",
    [
        ["http://127.0.0.1:4200/api"],
        ["http://127.8.9.10:4200/api"],
        ["http://[::1]:4200/api"],
        ["http://localhost:4200/api"],
        ["http://api.localhost/api"],
        ["https://10.0.0.5:4200/api", "https://api.example.com/api"],
    ],
)
def test_a_key_may_go_to_loopback_or_over_https(urls: list[str]) -> None:
    refuse_key_in_clear(urls, KEY, allow_insecure=False)


@pytest.mark.parametrize(
    "urls",
    [
        ["http://10.0.0.5:4200/api"],
        ["http://[fd00::5]:4200/api"],
        ["http://orchestrator.internal:4200/api"],
        # One replica in clear text is enough to leak the key.
        ["https://api-1.internal/api", "http://api-2.internal/api"],
    ],
)
def test_a_key_over_plain_http_to_another_host_is_refused_unless_allowed(urls: list[str]) -> None:
    with pytest.raises(SettingsError, match="refusing to send the API key over plain http"):
        refuse_key_in_clear(urls, KEY, allow_insecure=False)
    refuse_key_in_clear(urls, KEY, allow_insecure=True)
    refuse_key_in_clear(urls, None, allow_insecure=False)  # no key, nothing to leak


def test_the_client_reads_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from headrace.settings import client_settings

    monkeypatch.setenv("HEADRACE_API_URL", "http://10.0.0.5:4200/api")
    monkeypatch.setenv("HEADRACE_API_KEY", KEY)
    client_settings.cache_clear()
    with pytest.raises(SettingsError, match="HEADRACE_ALLOW_INSECURE_HTTP=true"):
        HeadraceClient()
    monkeypatch.setenv("HEADRACE_ALLOW_INSECURE_HTTP", "true")
    client_settings.cache_clear()
    HeadraceClient().close()


def test_plain_http_loads_no_certificates_and_https_loads_the_ca_file(tmp_path: Path) -> None:
    assert verify_context(["http://127.0.0.1:4200/api"], None) is False
    missing = tmp_path / "missing.pem"
    with pytest.raises(SettingsError) as refused:
        verify_context(["https://10.0.0.5/api"], missing)
    assert str(refused.value) == (
        f"invalid HEADRACE_API_CA_FILE: cannot read a CA certificate from {missing}: "
        "No such file or directory"
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(SettingsError, match="invalid HEADRACE_API_CA_FILE: cannot read a CA"):
        verify_context(["https://10.0.0.5/api"], garbage)
