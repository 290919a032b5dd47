from prefect import flow, task

calls = {"flow": 0}


@task
def step(n):
    return n * 10


@flow(retries=1, retry_delay_seconds=0)
def retried_pipeline():
    calls["flow"] += 1
    print(f"flow attempt {calls['flow']}")
    value = step(calls["flow"])
    if calls["flow"] == 1:
        raise ValueError("first attempt fails")
    return value


if __name__ == "__main__":
    print("final", retried_pipeline())
