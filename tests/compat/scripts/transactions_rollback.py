from prefect import flow, task
from prefect.transactions import transaction


@task
def stage_file(name):
    print("staged", name)
    return name


@stage_file.on_rollback
def unstage(txn):
    print("rolled back a staged file")


@task
def publish():
    raise RuntimeError("publish failed")


@flow
def rollback_txn_flow():
    try:
        with transaction():
            stage_file("a.csv")
            publish()
    except RuntimeError as exc:
        print("flow caught:", exc)
    return "finished"


if __name__ == "__main__":
    print(rollback_txn_flow())
