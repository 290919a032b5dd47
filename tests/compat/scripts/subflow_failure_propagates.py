from prefect import flow


@flow
def broken_child_flow():
    raise KeyError("child key")


@flow
def strict_parent_flow():
    print("calling child")
    broken_child_flow()
    print("unreachable")


if __name__ == "__main__":
    strict_parent_flow()
