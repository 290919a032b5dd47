from prefect import flow
from prefect.states import Failed


@flow
def failed_value_exit_flow():
    return Failed(message="nothing to do")


if __name__ == "__main__":
    failed_value_exit_flow()
    print("after the flow")
