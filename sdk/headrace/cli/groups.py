"""The `headrace` command's groups: the module each lives in and the line `--help` shows for it.

Kept apart from the groups' modules, so that `headrace --help` lists every group without
importing any of them (they bring the client, the engine, the server...).
"""

from __future__ import annotations

from typing import NamedTuple

# The line `headrace --help` starts with.
DESCRIPTION = "headrace: a self-hosted workflow orchestrator for Python, on PostgreSQL."


class Group(NamedTuple):
    module: str  # under headrace.cli
    help: str


_GLOBAL_LIMITS = Group(
    "global_concurrency_limit",
    "Global concurrency and rate limits: named limits that `concurrency(...)` and "
    "`rate_limit(...)` take slots of.",
)

# In the order `headrace --help` lists them. `deploy` is a command, not a group.
GROUPS: dict[str, Group] = {
    "server": Group("server", "Run the API server and manage its database."),
    "flow-run": Group("flow_run", "List and inspect flow runs."),
    "api-key": Group("api_key", "Create, list and revoke API keys."),
    "worker": Group("worker", "Run a worker that executes the runs of a work pool."),
    "work-pool": Group("work_pool", "Manage work pools: where deployments' runs wait for workers."),
    "work-queue": Group("work_queue", "Manage the queues of a work pool (priority, limit, pause)."),
    "deployment": Group("deployment", "List, inspect, run and pause deployments."),
    "deploy": Group(
        "deploy", "Create or update a deployment of a flow (deploying twice updates it)."
    ),
    "concurrency-limit": Group(
        "concurrency_limit", "Limit how many task runs with a tag run at once."
    ),
    "block": Group("block", "Blocks: typed configuration and secrets saved by name."),
    "global-concurrency-limit": _GLOBAL_LIMITS,
    "gcl": _GLOBAL_LIMITS,  # the short name, as in Prefect
    "config": Group("config", "View and change the client settings."),
    "profile": Group("profile", "Switch between sets of client settings (API URL, API key, ...)."),
    "artifact": Group("artifact", "Artifacts published by runs."),
    "variable": Group("variable", "Named JSON values shared by flows and deployments."),
    "event": Group("event", "Events: what runs, deployments and your code did."),
    "automation": Group(
        "automation", "Automations: run actions when events happen (or fail to happen)."
    ),
    "webhook": Group("webhook", "Inbound webhooks: URLs that turn HTTP requests into events."),
}


def group_help(name: str) -> str:
    """The help of group `name`, for its module's `typer.Typer(help=...)`."""
    return GROUPS[name].help
