import sys

from prefect import flow


@flow
def sys_exit_flow():
    print("exiting with 3")
    sys.exit(3)


if __name__ == "__main__":
    sys_exit_flow()
    print("not printed")
