from prefect import flow, task
from prefect.transactions import transaction


@task
def write_row(row):
    print("writing", row)
    return row


@write_row.on_commit
def row_committed(txn):
    print("committed")


@flow
def commit_txn_flow():
    with transaction():
        write_row("r1")
        write_row("r2")
    print("after transaction")


if __name__ == "__main__":
    commit_txn_flow()
