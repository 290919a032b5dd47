from prefect import flow
from prefect.states import Failed


@flow
def returns_failed_state_flow():
    print("deciding to fail")
    return Failed(message="quota exceeded")


if __name__ == "__main__":
    state = returns_failed_state_flow(return_state=True)
    print(state.type.value, state.message)
