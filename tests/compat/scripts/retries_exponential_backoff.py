from prefect import flow, task
from prefect.tasks import exponential_backoff

tries = []


@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=0.01))
def backing_off():
    tries.append(1)
    if len(tries) <= 2:
        raise RuntimeError("not yet")
    return f"ok after {len(tries)}"


@flow
def backoff_flow():
    return backing_off()


if __name__ == "__main__":
    print(backoff_flow())
