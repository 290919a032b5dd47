"""Blocks: typed configuration and secrets saved on the server by name (`headrace.blocks.core`,
`headrace.blocks.system`, as Prefect's paths)."""

from headrace.blocks.core import Block

__all__ = ["Block"]
