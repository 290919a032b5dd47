"""The engine: runs flows and tasks through their states. `python -m headrace.engine <id>` runs
an existing flow run (what a worker starts)."""
