"""The rule for names a resource is looked up by in a URL path. Plain Python (no pydantic), so
the decorators can check a flow's name without loading pydantic."""

from __future__ import annotations

MAX_NAME = 200


def resource_name_problem(name: str) -> str | None:
    """What is wrong with the name of a resource that is looked up by name in a URL path (a work
    pool, a queue, a flow, a deployment, a concurrency limit's tag), or None. A "/" would split
    the path, "." and ".." are dot segments that HTTP clients drop, and control characters
    break tables and logs: such a name could be created and then never read nor deleted."""
    if not name:
        return "a name cannot be empty"
    if len(name) > MAX_NAME:
        return f"a name is at most {MAX_NAME} characters, this one has {len(name)}"
    if "/" in name:
        return f"a name cannot contain '/' (names are parts of URLs), got {name!r}"
    if name in {".", ".."}:
        return f"a name cannot be {name!r} (names are parts of URLs)"
    if any(char < " " or char == "\x7f" for char in name):
        return f"a name cannot contain control characters (newlines, tabs, NUL), got {name!r}"
    return None
