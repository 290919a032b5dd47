from prefect import flow


@flow
def raising_exit_flow():
    print("about to raise")
    raise ValueError("bad input file")


if __name__ == "__main__":
    raising_exit_flow()
