from prefect import flow, task


@task
def divide(a, b):
    return a / b


@flow
def no_raise_flow():
    state = divide(1, 0, return_state=True)
    err = state.result(raise_on_failure=False)
    print("state", state.type.value, state.name)
    print("error type", type(err).__name__)
    return "handled"


if __name__ == "__main__":
    print(no_raise_flow())
