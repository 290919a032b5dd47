"""The Blocks pages and the global limits' live slot counts, in a real browser."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from pydantic import SecretStr

from headrace.blocks.core import Block

from .conftest import Dashboard, screenshot

pytestmark = pytest.mark.browser


class Smtp(Block):
    """Mail server for the reports."""

    host: str
    port: int = 25
    password: SecretStr


def register_type(dashboard: Dashboard) -> None:
    dashboard.ok(
        dashboard.api.put(
            "/block_types/smtp",
            json={"name": "Smtp", "json_schema": Smtp.model_json_schema(), "description": "Mail"},
        )
    )


def test_create_and_edit_a_block_with_write_only_secrets(page: Any, dashboard: Dashboard) -> None:
    register_type(dashboard)
    page.goto(dashboard.url + "/blocks")
    page.click("tr[data-slug=smtp] a")
    page.fill("#block-name", "mail")
    page.fill("#block-port", "587")
    page.fill("#block-password", "pw-typed-in-browser")
    page.click("#block-form button[type=submit]")
    expect(page.locator("#block-host-error")).to_have_text("required")
    page.fill("#block-host", "smtp.example.com")
    page.click("#block-form button[type=submit]")

    expect(page.locator("h1")).to_contain_text("mail")
    expect(page.locator("#block-values")).to_contain_text("**********")
    expect(page.locator("#block-values")).to_contain_text("smtp.example.com")
    assert "pw-typed-in-browser" not in page.content()
    expect(page.locator("#block-password")).to_have_value("")  # write-only: never filled in
    screenshot(page, "block")

    # Edit the host, leave the secret empty: the stored secret is kept.
    page.fill("#block-host", "smtp2.example.com")
    page.click("#block-form button[type=submit]")
    expect(page.locator("#block-values")).to_contain_text("smtp2.example.com")
    stored = dashboard.ok(dashboard.api.get("/block_documents/smtp/mail"))
    assert stored["data"]["password"] == "pw-typed-in-browser"  # a keyless loopback server
    assert stored["data"]["port"] == 587

    page.goto(dashboard.url + "/blocks")
    expect(page.locator("tr[data-block='smtp/mail']")).to_contain_text("encrypted")
    screenshot(page, "blocks")


def test_global_limit_slot_counts_are_live(page: Any, dashboard: Dashboard) -> None:
    dashboard.ok(dashboard.api.post("/global_concurrency_limits", json={"name": "wh", "limit": 4}))
    page.goto(dashboard.url + "/concurrency")
    expect(page.locator("#global-limits tr[data-name=wh]")).to_contain_text("0")
    holder = {"names": ["wh"], "occupy": 3, "holder_id": str(uuid.uuid4())}
    taken = dashboard.ok(dashboard.api.post("/global_concurrency_slots/acquire", json=holder))
    assert taken["acquired"]
    # No reload: the page re-reads its counts.
    expect(page.locator("#global-limits tr[data-name=wh] meter")).to_have_attribute(
        "value", "3", timeout=10_000
    )
    screenshot(page, "global-concurrency")
