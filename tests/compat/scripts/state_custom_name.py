from prefect import flow, task
from prefect.states import Completed


@task
def maybe_skip(item):
    if item.startswith("_"):
        return Completed(name="Skipped", message=f"{item} is private")
    return item.upper()


@flow
def custom_state_flow():
    for item in ["a", "_b"]:
        state = maybe_skip(item, return_state=True)
        print(item, state.name, state.type.value)


if __name__ == "__main__":
    custom_state_flow()
