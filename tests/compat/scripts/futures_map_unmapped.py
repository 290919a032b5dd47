from prefect import flow, task, unmapped


@task
def scale(value, factor):
    return value * factor


@flow
def map_flow():
    futures = scale.map([1, 2, 3], unmapped(10))
    print("scaled", futures.result())


if __name__ == "__main__":
    map_flow()
