from prefect import flow, task
from prefect.runtime import task_run


@task(task_run_name="fetch {path}")
def fetch(path):
    print("task run name:", task_run.name)
    return len(path)


@flow
def task_names_flow():
    fetch("alpha")
    fetch("beta")


if __name__ == "__main__":
    task_names_flow()
