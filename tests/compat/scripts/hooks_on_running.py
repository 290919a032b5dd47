from prefect import flow, task


def flow_started(flow, flow_run, state):
    print(f"flow running hook: {state.type.value}")


def task_started(task, task_run, state):
    print(f"task running hook: {task.name} {state.type.value}")


@task(on_running=[task_started])
def unit():
    print("task body")


@flow(on_running=[flow_started])
def running_hooks_flow():
    print("flow body")
    unit()


if __name__ == "__main__":
    running_hooks_flow()
