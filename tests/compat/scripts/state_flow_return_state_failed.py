from prefect import flow


@flow
def failing_return_state_flow():
    raise ConnectionError("database unreachable")


if __name__ == "__main__":
    state = failing_return_state_flow(return_state=True)
    print("is failed:", state.is_failed())
    print("type:", state.type.value, "name:", state.name)
    try:
        state.result()
    except ConnectionError as exc:
        print("result raised:", exc)
