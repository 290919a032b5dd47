from prefect import flow, task
from prefect.futures import as_completed


@task
def cube(n):
    return n**3


@flow
def as_completed_flow():
    futures = [cube.submit(n) for n in [1, 2, 3]]
    results = sorted(f.result() for f in as_completed(futures))
    print("cubes", results)


if __name__ == "__main__":
    as_completed_flow()
