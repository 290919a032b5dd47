from prefect import flow
from prefect.exceptions import FailedRun, ParameterTypeError, UnfinishedRun


@flow
def exceptions_names_flow(count: int):
    return count


if __name__ == "__main__":
    print(issubclass(ParameterTypeError, Exception), issubclass(UnfinishedRun, Exception))
    print(FailedRun.__name__)
    try:
        exceptions_names_flow(count="many")
    except ParameterTypeError:
        print("bad parameter refused")
