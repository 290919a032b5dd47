"""`headrace webhook ...`: URLs that turn HTTP requests from other services into events."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.cli.params import resource_name
from headrace.client import HeadraceClient, webhooks
from headrace.schemas.webhooks import (
    SECRET_HEADER,
    WebhookCreate,
    WebhookQuery,
    WebhookUpdate,
    WebhookWithSecret,
)

app = typer.Typer(help=group_help("webhook"), no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArgument = Annotated[str, typer.Argument(help="The webhook's name.", show_default=False)]
TemplateOption = Annotated[
    str,
    typer.Option(
        "--template",
        help="A jinja2 template rendering the event as JSON from `body`, `headers`, `query` "
        "(docs/webhooks.md).",
        show_default=False,
    ),
]


def hook_url(client: HeadraceClient, path: str) -> str:
    """The full URL of a hook: the server's address (the API URL without /api) + its path."""
    base = client.current_url.rstrip("/")
    return base.removesuffix("/api") + path


def _show_secret(client: HeadraceClient, made: WebhookWithSecret, as_json: bool) -> None:
    url = hook_url(client, made.path)
    if as_json:
        print_json({**made.model_dump(mode="json"), "url": url})
        return
    console.print(f"Webhook {made.name!r}: POST {url}", soft_wrap=True)
    console.print(f"Secret (shown only now; send it as the {SECRET_HEADER} header):")
    typer.echo(made.secret)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(callback=resource_name, show_default=False)],
    template: TemplateOption,
    description: Annotated[str, typer.Option(help="What sends to it.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Create a webhook: prints its URL and its secret (shown this once)."""
    body = WebhookCreate(name=name, template=template, description=description)
    with api() as client:
        _show_secret(client, webhooks.create(client, body), as_json)


@app.command("ls")
def ls(as_json: JsonOption = False) -> None:
    """List webhooks with their counts of requests."""
    with api() as client:
        found = webhooks.list_webhooks(client, WebhookQuery())
        base = hook_url(client, "")
    if as_json:
        print_json(found)
        return
    table(
        ["Name", "URL", "Enabled", "Received", "Rejected", "Last received"],
        [
            (
                w.name,
                base + w.path,
                "yes" if w.enabled else "disabled",
                w.received,
                w.rejected,
                w.last_received or "",
            )
            for w in found
        ],
    )


@app.command("inspect")
def inspect(name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a webhook (never its secret)."""
    with api() as client:
        found = webhooks.read(client, name)
        url = hook_url(client, found.path)
    if as_json:
        print_json({**found.model_dump(mode="json"), "url": url})
        return
    state = "enabled" if found.enabled else "disabled"
    console.print(f"Webhook {found.name!r} ({state}): POST {url}", soft_wrap=True)
    console.print(f"Received {found.received}, rejected {found.rejected}")
    typer.echo(found.template)


@app.command("update")
def update(name: NameArgument, template: TemplateOption) -> None:
    """Replace a webhook's template."""
    with api() as client:
        webhooks.update(client, name, WebhookUpdate(template=template))
    console.print(f"Updated webhook {name!r}")


@app.command("rotate")
def rotate(name: NameArgument, as_json: JsonOption = False) -> None:
    """Give the webhook a new secret; the old one stops working at once."""
    with api() as client:
        _show_secret(client, webhooks.rotate(client, name), as_json)


@app.command("disable")
def disable(name: NameArgument) -> None:
    """Refuse the webhook's requests (409) until it is enabled again."""
    with api() as client:
        webhooks.update(client, name, WebhookUpdate(enabled=False))
    console.print(f"Disabled webhook {name!r}")


@app.command("enable")
def enable(name: NameArgument) -> None:
    """Accept the webhook's requests again."""
    with api() as client:
        webhooks.update(client, name, WebhookUpdate(enabled=True))
    console.print(f"Enabled webhook {name!r}")


@app.command("delete")
def delete(name: NameArgument) -> None:
    """Delete a webhook: its URL answers 404 from now on."""
    with api() as client:
        webhooks.delete(client, name)
    console.print(f"Deleted webhook {name!r}")
