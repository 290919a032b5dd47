from prefect import flow, task
from prefect.utilities.annotations import quote


@task
def rows():
    return [1, 2, 3]


@task
def inspect(big):
    return type(big).__name__


@flow
def quote_flow():
    data = {"values": list(range(5))}
    print("quoted arrives as", inspect(quote(data)))
    print("plain arrives as", inspect(data))


if __name__ == "__main__":
    quote_flow()
