"""A second pool type, installed the way a plug-in package is: a distribution whose metadata
registers it under the entry-point group `headrace.pool_types` (here a bare .dist-info folder)."""

from __future__ import annotations

from pathlib import Path

NAME = "second"

MODULE = f'''
from headrace_worker.process_runner import ProcessPoolType


class SecondPoolType(ProcessPoolType):
    """Runs a claimed run as the process type does, under another name."""

    name = "{NAME}"
    job_variables_schema = {{"type": "object", "properties": {{"nice": {{"type": "integer"}}}}}}
'''


def install_second_pool_type(folder: Path) -> Path:
    """Install the plug-in into `folder`; on sys.path (or PYTHONPATH) it is found. `folder`."""
    (folder / "second_pool_type.py").write_text(MODULE)
    info = folder / "second_pool_type-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: second-pool-type\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[headrace.pool_types]\n{NAME} = second_pool_type:SecondPoolType\n"
    )
    return folder
