"""Dashboard pages (Jinja2, no build step, no CDN)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from headrace_service.store.flow_runs import flow_run_list

HERE = Path(__file__).parent
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)


async def flow_runs_page(request: Request) -> Response:
    async with request.app.state.db.begin() as conn:
        runs = await flow_run_list(conn, limit=100)
    html = templates.get_template("flow_runs.html").render(runs=runs, title="Flow runs")
    return HTMLResponse(html)


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/", flow_runs_page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
