"""The Variables page: every variable with its value, and forms to create, edit and delete
them (the forms write through the JSON API, as the dashboard's other buttons do)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.variables import MAX_VARIABLE_BYTES, VariableQuery
from headrace_service.app_state import request_database
from headrace_service.dashboard.templating import render
from headrace_service.store.variables import variable_list

MAX_SHOWN = 1000


async def variables_page(request: Request) -> Response:
    async with request_database(request).begin() as conn:
        rows = await variable_list(conn, VariableQuery(limit=MAX_SHOWN))
    return render(
        "variables.html",
        title="Variables",
        nav="variables",
        variables=rows,
        # Compact JSON text, escaped by the template like any text (never marked safe).
        json_text={row["name"]: json.dumps(row["value"], ensure_ascii=False) for row in rows},
        max_bytes=MAX_VARIABLE_BYTES,
    )
