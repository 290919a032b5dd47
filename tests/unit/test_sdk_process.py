"""The SDK as a user's script meets it: import cost, no API, printed lines."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from headrace.testing import recording_backend


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    return subprocess.run(
        [sys.executable, str(script)],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_headrace_loads_no_server_http_or_pydantic_modules(tmp_path: Path) -> None:
    done = run_python(
        """
        import sys
        import headrace
        from headrace import flow, task
        heavy = ["starlette", "sqlalchemy", "psycopg", "uvicorn", "httpx", "pydantic"]
        print(sorted(m for m in heavy if m in sys.modules))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_with_no_api_the_script_runs_and_warns_in_exactly_one_line(tmp_path: Path) -> None:
    done = run_python(
        """
        from headrace import flow, task

        @task(retries=1)
        def double(x):
            return x * 2

        @flow(log_prints=True)
        def offline(n: int):
            print("total", sum(double.map(range(n)).result()))

        offline(3)
        offline(4)
        """,
        tmp_path,
        HEADRACE_API_URL="http://127.0.0.1:9/api",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["total 6", "total 12"]
    warnings = [line for line in done.stderr.splitlines() if "cannot reach the API" in line]
    assert warnings == [
        "headrace: cannot reach the API at http://127.0.0.1:9/api; running without recording "
        "anything (no runs, task runs or logs are saved)"
    ]


def test_log_prints_reach_the_run_logs_and_still_print(capsys: object) -> None:
    from headrace import flow, task

    @task
    def shout() -> None:
        print("from the task")

    @task(log_prints=False)
    def quiet() -> None:
        print("not captured")

    @flow(log_prints=True)
    def printing() -> None:
        print("from the flow", end="")
        print(" in two writes")
        shout()
        quiet()

    with recording_backend() as recorded:
        printing()
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "from the flow in two writes\nfrom the task\nnot captured\n" in out
    printed = [e for e in recorded.logs if e.name == "headrace.print"]
    assert [e.message for e in printed] == ["from the flow in two writes", "from the task"]
    assert all(e.flow_run_id for e in printed)


def test_with_no_api_artifacts_are_skipped_and_variables_say_why(tmp_path: Path) -> None:
    done = run_python(
        """
        import uuid
        from headrace import flow, task
        from headrace.artifacts import create_markdown_artifact, create_table_artifact
        from headrace.errors import ApiUnreachable
        from headrace.variables import Variable

        @task
        def table():
            return create_table_artifact([{"a": 1}], key="rows")

        @flow
        def offline():
            first = create_markdown_artifact("# report", key="report")
            assert isinstance(first, uuid.UUID) and isinstance(table(), uuid.UUID)
            try:
                Variable.get("threshold")
            except ApiUnreachable as error:
                print("variable:", error)

        offline()
        """,
        tmp_path,
        HEADRACE_API_URL="http://127.0.0.1:9/api",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "variable: variables need the headrace API, and this run has none"
    ]
    skipped = [line for line in done.stderr.splitlines() if "artifacts are not stored" in line]
    assert len(skipped) == 1, done.stderr
