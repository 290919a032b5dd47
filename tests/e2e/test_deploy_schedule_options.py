"""`headrace deploy ... --cron/--interval/--rrule` and `flow.deploy(cron=...)` give the
deployment its schedule; bad options are one-line errors naming the option."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from headrace.client import HeadraceClient
from headrace.flows import Flow
from headrace.schedules import InvalidScheduleOptions

pytestmark = pytest.mark.slow


def schedules(stack: Any, full_name: str) -> list[dict[str, Any]]:
    deployment = stack.http.get(f"/deployments/name/{full_name}").json()
    rows: list[dict[str, Any]] = stack.http.get(f"/deployments/{deployment['id']}/schedules").json()
    return rows


def test_deploy_options_set_and_keep_the_schedule(deployment_stack: Callable[..., Any]) -> None:
    stack = deployment_stack()
    name = stack.deploy("greet", "--cron", "0 6 * * *", "--timezone", "Europe/Paris")
    [row] = schedules(stack, name)
    assert row["schedule"] == {"cron": "0 6 * * *", "timezone": "Europe/Paris"}
    assert row["active"] is True
    # Deploying again without a schedule option keeps it; with another one replaces it.
    stack.deploy("greet")
    assert [r["id"] for r in schedules(stack, name)] == [row["id"]]
    stack.deploy("greet", "--interval", "3600", "--anchor-date", "2026-01-01T00:15:00")
    [interval] = schedules(stack, name)
    assert interval["schedule"]["interval"] == 3600
    assert interval["schedule"]["anchor_date"].startswith("2026-01-01T00:15:00")
    stack.deploy("greet", "--rrule", "FREQ=DAILY;BYHOUR=6;BYMINUTE=0")
    assert [r["schedule"]["rrule"] for r in schedules(stack, name)] == [
        "FREQ=DAILY;BYHOUR=6;BYMINUTE=0"
    ]


BAD_OPTIONS = [
    (("--cron", "0 6 * *"), "error: --cron: invalid expression '0 6 * *'"),
    (("--cron", "61 * * * *"), "error: body.schedules.0.schedule: cron: invalid expression"),
    (("--cron", "0 6 * * *", "--timezone", "Europe/Pariss"), "error: --timezone: unknown"),
    (("--interval", "0"), "error: --interval: expected a number of seconds above 0"),
    (("--cron", "0 6 * * *", "--interval", "60"), "error: --cron/interval: give only one"),
    (("--timezone", "UTC"), "error: --timezone: give it with cron, interval or rrule"),
]


def test_bad_schedule_options_are_one_line_errors(deployment_stack: Callable[..., Any]) -> None:
    stack = deployment_stack()  # one server for all cases: its start is the slow part
    for options, starts in BAD_OPTIONS:
        result = stack.cli(
            "deploy",
            "flows/jobs.py:greet",
            "--name",
            "d",
            "--pool",
            stack.pool,
            *options,
            check=False,
        )
        assert result.returncode == 2, (options, result)
        assert result.stderr.startswith(starts), (options, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
    assert stack.http.get("/deployments/name/greet/d").status_code == 404


def test_flow_deploy_takes_cron_and_schedules(deployment_stack: Callable[..., Any]) -> None:
    from headrace.schemas.schedules import DeploymentScheduleCreate, IntervalSchedule

    stack = deployment_stack()
    source = Flow.from_source(stack.folder, "flows/jobs.py:greet")
    with HeadraceClient(stack.url) as client:
        deployed = source.flow.deploy(
            "py",
            stack.pool,
            path=stack.folder,
            cron="30 2 * * *",
            timezone="Europe/Paris",
            schedules=[
                IntervalSchedule(interval=600),
                DeploymentScheduleCreate(
                    schedule=IntervalSchedule(interval=60), parameters={"who": "x"}, active=False
                ),
            ],
            client=client,
        )
        rows = schedules(stack, deployed.full_name)
        assert sorted((str(r["schedule"]), r["parameters"], r["active"]) for r in rows) == sorted(
            [
                (str({"cron": "30 2 * * *", "timezone": "Europe/Paris"}), {}, True),
                (str({"interval": 600.0, "anchor_date": None, "timezone": "UTC"}), {}, True),
                (
                    str({"interval": 60.0, "anchor_date": None, "timezone": "UTC"}),
                    {"who": "x"},
                    False,
                ),
            ]
        )
        with pytest.raises(InvalidScheduleOptions, match=r"^rrule: "):
            source.deploy("py", stack.pool, rrule="", client=client)
