from prefect import get_run_logger
from prefect.exceptions import MissingContextError

try:
    get_run_logger()
except MissingContextError:
    print("no run context outside a flow")

if __name__ == "__main__":
    print("done")
