"""`headrace block ...`: the blocks saved on the server and their types."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.common import api
from headrace.cli.exits import fail
from headrace.cli.groups import group_help
from headrace.cli.output import console, print_json, table
from headrace.client import blocks
from headrace.schemas.secrets import contains_secret, mask_secret_parameters

app = typer.Typer(help=group_help("block"), no_args_is_help=True)
type_app = typer.Typer(
    help="Block types (registered by saving a Block subclass).", no_args_is_help=True
)
app.add_typer(type_app, name="type")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SlugArgument = Annotated[
    str,
    typer.Argument(
        help="The block as TYPE-SLUG/NAME, e.g. secret/db-password.", show_default=False
    ),
]


def _split(slug_and_name: str) -> tuple[str, str]:
    slug, sep, name = slug_and_name.partition("/")
    if not sep or not slug or not name:
        fail(f"name the block as TYPE-SLUG/NAME (e.g. secret/db-password), got {slug_and_name!r}")
    return slug, name


@app.command("ls")
def ls(as_json: JsonOption = False) -> None:
    """List the saved blocks (secrets masked)."""
    with api() as client:
        documents = blocks.list_documents(client)
    if as_json:
        print_json(documents)
        return
    table(
        ["Block", "Type", "Secrets", "Updated"],
        [
            (f"{d.block_type_slug}/{d.name}", d.block_type_name, d.secrets_masked, d.updated)
            for d in documents
        ],
    )


@app.command("inspect")
def inspect(block: SlugArgument, as_json: JsonOption = False) -> None:
    """Show a block's values, secrets masked whatever the key (load it in Python to use them)."""
    slug, name = _split(block)
    with api() as client:
        document = blocks.read(client, slug, name)
        schema = blocks.read_type(client, slug).json_schema
    document.data = mask_secret_parameters(document.data, schema)
    document.secrets_masked = document.secrets_masked or contains_secret(schema)
    if as_json:
        print_json(document)
        return
    console.print(f"{document.block_type_name} block {slug}/{name} (id {document.id})")
    table(["Field", "Value"], list(document.data.items()))


@app.command("delete")
def delete(block: SlugArgument) -> None:
    """Delete a saved block."""
    slug, name = _split(block)
    with api() as client:
        blocks.delete(client, slug, name)
    console.print(f"Deleted block {slug}/{name}")


@type_app.command("ls")
def type_ls(as_json: JsonOption = False) -> None:
    """List the block types and how many blocks each has."""
    with api() as client:
        types = blocks.list_types(client)
    if as_json:
        print_json(types)
        return
    table(["Slug", "Name", "Blocks"], [(t.slug, t.name, t.document_count) for t in types])
