from prefect import flow, task


@task(retries=2, retry_delay_seconds=0)
def always_broken():
    print("trying the broken task")
    raise RuntimeError("still broken")


@flow
def exhaust_retries():
    always_broken()
    print("never reached")


if __name__ == "__main__":
    exhaust_retries()
