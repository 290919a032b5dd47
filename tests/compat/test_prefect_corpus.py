"""The Prefect corpus: each script of tests/compat/scripts, its imports rewritten from `prefect`
to `headrace`, must behave as Prefect 3 did when it was recorded (tests/compat/expected): the
same exit code, the same stdout lines, the same flow runs and task runs in the same states.

All scripts run once, in parallel, as real subprocesses against one real server (a module-scoped
fixture); each parametrized test then compares one script. Flow names are unique across the
corpus, so a script's runs are found by the names of its flows. See tests/compat/README.md.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from headrace.client import HeadraceClient, flow_runs, task_runs
from headrace.schemas.flow_runs import FlowRunQuery
from tests.compat.normalise import (
    EXPECTED,
    SCRIPTS,
    Outcome,
    declared_run_name,
    normalise_stdout,
    run_python,
    run_record,
    sorted_flow_runs,
)
from tests.conftest import PostgresServer, fresh_database, serve_in_thread

NAMES = sorted(path.stem for path in SCRIPTS.glob("*.py"))
# `from prefect import x`, `from prefect.states import y`, `import prefect`: the rewrite a user
# makes, and nothing else (strings and comments that mention Prefect stay as they are).
_PREFECT_IMPORT = re.compile(r"^(\s*)(from|import)(\s+)prefect\b", re.MULTILINE)
# Scripts in flight at once: they mostly wait on the server, and the machine has two cores.
PARALLEL = 4


def to_headrace(source: str) -> str:
    return _PREFECT_IMPORT.sub(r"\1\2\3headrace", source)


DIFFERENCES = Path(__file__).parent / "differences"
MIGRATING = Path(__file__).parents[2] / "docs" / "migrating-from-prefect.md"


def expected(name: str) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((EXPECTED / f"{name}.json").read_text())
    return recorded


def difference(name: str) -> dict[str, Any] | None:
    """A documented difference from Prefect: what headrace shows instead, for the fields named
    (tests/compat/differences/<name>.json); the rest of the recording holds as it is."""
    path = DIFFERENCES / f"{name}.json"
    if not path.exists():
        return None
    known: dict[str, Any] = json.loads(path.read_text())
    return known


def wanted(name: str) -> dict[str, Any]:
    known = difference(name)
    return expected(name) | (known["headrace"] if known else {})


def run_script(name: str, api_url: str, work: Path) -> Outcome:
    folder = work / name
    folder.mkdir()
    script = folder / f"{name}.py"
    script.write_text(to_headrace((SCRIPTS / f"{name}.py").read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(
        HEADRACE_API_URL=api_url,
        HEADRACE_HOME=str(folder / "home"),
        TMPDIR=str(folder),
        PYTHONUNBUFFERED="1",
    )
    return run_python(sys.executable, script, folder, env)


@pytest.fixture(scope="module")
def corpus_server(postgres: PostgresServer) -> Iterator[str]:
    with (
        fresh_database(postgres) as database_url,
        tempfile.TemporaryDirectory(prefix="corpus-server-") as home,
        serve_in_thread(database_url, home, {}) as server,
    ):
        yield server.url


@pytest.fixture(scope="module")
def outcomes(corpus_server: str) -> Iterator[dict[str, Outcome]]:
    with (
        tempfile.TemporaryDirectory(prefix="corpus-") as work,
        ThreadPoolExecutor(PARALLEL) as pool,
    ):
        futures = {name: pool.submit(run_script, name, corpus_server, Path(work)) for name in NAMES}
        yield {name: future.result() for name, future in futures.items()}


def observed_flow_runs(client: HeadraceClient, flow_names: set[str]) -> list[dict[str, Any]]:
    """The runs of these flows as the API shows them, in the recorder's shape."""
    runs = [
        run
        for flow_name in sorted(flow_names)
        for run in flow_runs.list_runs(client, FlowRunQuery(flow_name=flow_name, limit=500)).items
    ]
    placeholders = {run.parent_task_run_id for run in runs if run.parent_task_run_id}
    shaped = []
    for run in runs:
        tasks = [t for t in task_runs.of_flow_run(client, run.id) if t.id not in placeholders]
        shaped.append(
            run_record(
                run.flow_name,
                run.name,
                run.parent_task_run_id is not None,
                (run.state_type.value, run.state_name),
                [(t.name, t.state_type.value, t.state_name) for t in tasks],
            )
        )
    return shaped


def test_corpus_is_large_and_recorded() -> None:
    """At least 60 scripts, each with its recording, and no flow name shared by two scripts
    (runs are told apart by flow name)."""
    assert len(NAMES) >= 60
    owners: dict[str, str] = {}
    for name in NAMES:
        for run in expected(name)["flow_runs"]:
            assert owners.setdefault(run["flow_name"], name) == name, run["flow_name"]


def test_every_difference_is_a_script_and_is_documented() -> None:
    """A difference overrides only recorded fields of an existing script, and the migration
    guide names it (with its script) in its list of known differences."""
    guide = MIGRATING.read_text()
    section = guide[guide.index("## Known differences") :]
    for path in sorted(DIFFERENCES.glob("*.json")):
        known = json.loads(path.read_text())
        assert path.stem in NAMES, path
        assert set(known["headrace"]) <= set(expected(path.stem)), path
        assert known["headrace"] != {k: expected(path.stem)[k] for k in known["headrace"]}, path
        assert f"`{path.stem}`" in section, f"{path.stem} is not in the guide's known differences"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NAMES)
def test_script_behaves_as_on_prefect(
    name: str, outcomes: dict[str, Outcome], corpus_server: str
) -> None:
    want = wanted(name)
    got = outcomes[name]
    context = f"headrace run ({got.seconds:.1f} s), its stderr:\n{got.stderr[-3000:]}"
    assert normalise_stdout(got.stdout) == want["stdout"], context
    assert got.exit_code == want["exit_code"], context
    with HeadraceClient(corpus_server, retries=0) as client:
        runs = observed_flow_runs(client, {run["flow_name"] for run in want["flow_runs"]})
    if not declared_run_name((SCRIPTS / f"{name}.py").read_text()):
        for run in runs:
            del run["name"]
    assert sorted_flow_runs(runs) == want["flow_runs"], context
