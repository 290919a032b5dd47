"""Who a request was made by: the API key it presented (see auth.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from headrace.schemas.api_keys import Scope


@dataclass(frozen=True)
class Principal:
    """The key a request was made with."""

    key_id: uuid.UUID
    name: str
    scope: Scope
