from prefect import flow


@flow(validate_parameters=False)
def unvalidated_flow(n: int):
    print("received", repr(n))


if __name__ == "__main__":
    unvalidated_flow("12")
