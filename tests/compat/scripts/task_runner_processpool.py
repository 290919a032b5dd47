import os

from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

PARENT = os.getpid()


@task
def where(n):
    return os.getpid() != PARENT, n * n


@flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
def processpool_flow():
    results = [f.result() for f in where.map([1, 2, 3])]
    print("all in other processes:", all(other for other, _ in results))
    print("squares:", [sq for _, sq in results])


if __name__ == "__main__":
    processpool_flow()
