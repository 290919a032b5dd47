from prefect import flow, task


def task_done(task, task_run, state):
    print(f"task hook: {task.name} {state.type.value}")


def task_failed(task, task_run, state):
    print(f"task failure hook: {task.name}")


@task(on_completion=[task_done], on_failure=[task_failed])
def maybe_fail(ok):
    if not ok:
        raise ValueError("not ok")
    return "fine"


@flow
def task_hooks_flow():
    maybe_fail(True)
    maybe_fail(False, return_state=True)


if __name__ == "__main__":
    task_hooks_flow()
