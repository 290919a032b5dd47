"""The examples of docs/automations.md and docs/webhooks.md are valid as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from headrace.schemas.automations import Action, AutomationCreate, Trigger
from headrace.schemas.events import EventCreate
from headrace_service.automations.templates import render, syntax_problem, value_problems
from headrace_service.webhooks import parsed_body

DOCS = Path(__file__).resolve().parents[2] / "docs"


def json_blocks(page: str) -> list[Any]:
    text = (DOCS / page).read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_every_json_example_of_the_automations_page_is_valid() -> None:
    blocks = json_blocks("automations.md")
    assert len(blocks) >= 5
    for block in blocks:
        if "actions" in block:
            automation = AutomationCreate.model_validate(block)
            for i, action in enumerate(automation.actions):
                assert value_problems(action.model_dump(), f"actions.{i}") == []
        elif "type" in block and "url" in block:
            action = TypeAdapter(Action).validate_python(block)
            assert syntax_problem(getattr(action, "message", "")) is None
        else:
            TypeAdapter(Trigger).validate_python(block)


def test_the_webhooks_page_template_makes_the_event_it_shows() -> None:
    text = (DOCS / "webhooks.md").read_text()
    template = re.search(r"--template '(.*?)'\n", text, re.S)
    assert template is not None
    body = re.search(r"-d '(\{.*?\})'", text)
    assert body is not None
    context = {
        "body": parsed_body("application/json", body.group(1)),
        "headers": {"x-source": "web"},
        "query": {},
    }
    event = EventCreate.model_validate(json.loads(render(template.group(1), context)))
    assert event.event == "shop.order.paid"
    assert event.resource == {"headrace.resource.id": "shop.order.42", "shop.source": "web"}
    [react] = json_blocks("webhooks.md")
    AutomationCreate.model_validate(react)
