from prefect import flow, tags, task
from prefect.runtime import task_run


@task(tags=["db"])
def query():
    return sorted(task_run.tags)


@flow
def tagged_flow():
    with tags("hot"):
        print("task tags", query())


if __name__ == "__main__":
    tagged_flow()
