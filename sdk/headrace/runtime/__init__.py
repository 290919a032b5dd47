"""What the code of a run can ask about it, under Prefect's names:

    from headrace import runtime

    runtime.flow_run.name, runtime.flow_run.parameters, runtime.task_run.run_count,
    runtime.deployment.id, ...

Each attribute is read when asked (module `__getattr__`), from the run in progress: ids are
strings; outside a run they are None, `parameters` and `tags` empty and `run_count` 0.
"""

from headrace.runtime import deployment, flow_run, task_run

__all__ = ["deployment", "flow_run", "task_run"]
