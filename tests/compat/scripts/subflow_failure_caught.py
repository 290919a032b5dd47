from prefect import flow


@flow
def unreliable_child_flow():
    raise ValueError("child failed")


@flow
def tolerant_parent_flow():
    state = unreliable_child_flow(return_state=True)
    print("child state", state.type.value)
    return "parent ok"


if __name__ == "__main__":
    print(tolerant_parent_flow())
