"""docs/artifacts-and-variables.md works as written: its `report.py` and the shell commands of
"Try it", run with bash against a live server, publish what the page says they publish."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

DOC = Path(__file__).resolve().parents[2] / "docs" / "artifacts-and-variables.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(kind: str, doc: Path = DOC) -> list[str]:
    return [body for lang, body in FENCE.findall(doc.read_text()) if lang == kind]


def try_it(doc: Path, script: str, api_url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Save the doc's first python block as `script` in `folder`, then run its first shell
    block there with bash, as a user would; it must succeed."""
    (folder / script).write_text(blocks("python", doc)[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    # `headrace` and `python` as a user's activated venv has them.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HEADRACE_API_URL"] = api_url
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks("shell", doc)[0]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_try_it_runs_as_written(api_url: str, http: httpx.Client, tmp_path: Path) -> None:
    done = try_it(DOC, "report.py", api_url, tmp_path)
    for key in ("nightly-report", "nightly-rows", "nightly-progress", "nightly-link"):
        assert key in done.stdout
    assert "**600 rows** loaded from 3 regions" in done.stdout  # artifact inspect
    assert done.stdout.rstrip().endswith('["eu", "us", "apac"]')  # variable get

    rows = http.get("/artifacts/latest/nightly-rows").json()
    assert [r["region"] for r in rows["data"]] == ["eu", "us", "apac"]
    assert rows["task_run_id"] is None and rows["flow_run_id"] is not None
    assert http.get("/artifacts/latest/nightly-progress").json()["data"] == 100.0
