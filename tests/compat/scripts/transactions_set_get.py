from prefect import flow, task
from prefect.transactions import get_transaction, transaction


@task
def consumer():
    return get_transaction().get("batch")


@flow
def txn_values_flow():
    with transaction() as txn:
        txn.set("batch", 42)
        print("consumer read", consumer())
        print("flow reads", txn.get("batch"), txn.get("missing", "a default"))


if __name__ == "__main__":
    txn_values_flow()
