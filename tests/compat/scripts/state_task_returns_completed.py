from prefect import flow, task
from prefect.states import Completed


@task
def checked(n):
    return Completed(message=f"checked {n}", data=n * 2)


@flow
def returns_completed_flow():
    value = checked(21)
    print("value", value)
    state = checked(5, return_state=True)
    print("state", state.type.value, state.message, state.result())


if __name__ == "__main__":
    returns_completed_flow()
