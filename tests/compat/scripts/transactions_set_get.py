from prefect import flow, task
from prefect.transactions import get_transaction, transaction


@task
def producer():
    get_transaction().set("batch", 42)
    return "produced"


@task
def consumer():
    return get_transaction().get("batch")


@flow
def txn_values_flow():
    with transaction():
        producer()
        print("consumer read", consumer())


if __name__ == "__main__":
    txn_values_flow()
