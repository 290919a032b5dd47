from prefect import flow


@flow(persist_result=True)
def persisted_flow(n: int):
    return list(range(n))


if __name__ == "__main__":
    state = persisted_flow(4, return_state=True)
    print(state.name, state.result())
