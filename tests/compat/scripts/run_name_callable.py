from prefect import flow, runtime, task


def flow_name_from_params():
    params = runtime.flow_run.parameters
    return f"load {params['table']} x{params['batch']}"


def task_name_fn():
    return "stage " + runtime.task_run.parameters["stage"]


@task(task_run_name=task_name_fn)
def stage(stage):
    print("inside", runtime.task_run.name)


@flow(flow_run_name=flow_name_from_params)
def callable_names_flow(table: str, batch: int = 1):
    print("flow run", runtime.flow_run.name)
    stage("extract")


if __name__ == "__main__":
    callable_names_flow("users", batch=3)
