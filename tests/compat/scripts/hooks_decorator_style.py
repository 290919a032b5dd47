from prefect import flow, task


@task
def add_one(x):
    return x + 1


@add_one.on_completion
def add_one_done(task, task_run, state):
    print("decorated task hook", state.type.value)


@flow
def decorator_hooks_flow():
    return add_one(1)


@decorator_hooks_flow.on_completion
def flow_done(flow, flow_run, state):
    print("decorated flow hook", state.type.value)


if __name__ == "__main__":
    print(decorator_hooks_flow())
