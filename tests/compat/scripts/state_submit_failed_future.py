from prefect import flow, task


@task
def explode():
    raise ZeroDivisionError("kaboom")


@flow
def future_failed_flow():
    future = explode.submit()
    outcome = future.result(raise_on_failure=False)
    print("outcome type", type(outcome).__name__)
    print("future state", future.state.type.value)
    return "survived"


if __name__ == "__main__":
    print(future_failed_flow())
