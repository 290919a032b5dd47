from prefect import flow, task


@task
def invert(x):
    return 1 / x


@flow
def map_failure_flow():
    futures = invert.map([1, 0, 2])
    values = [f.result(raise_on_failure=False) for f in futures]
    print([type(v).__name__ for v in values])


if __name__ == "__main__":
    map_failure_flow()
