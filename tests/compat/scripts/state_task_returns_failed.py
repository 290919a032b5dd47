from prefect import flow, task
from prefect.states import Failed


@task
def validate(record):
    if "id" not in record:
        return Failed(message="record has no id")
    return record["id"]


@flow
def returns_failed_flow():
    state = validate({"name": "x"}, return_state=True)
    print("failed?", state.is_failed(), "message:", state.message)
    ok = validate({"id": 3})
    print("ok", ok)
    return ok


if __name__ == "__main__":
    print("flow returned", returns_failed_flow())
