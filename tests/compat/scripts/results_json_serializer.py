import json
import tempfile
from pathlib import Path

from prefect import flow, task

STORE = Path(tempfile.mkdtemp(prefix="json-"))


@task(
    persist_result=True,
    result_storage=STORE,
    result_serializer="json",
    result_storage_key="inventory.json",
)
def inventory():
    return {"apples": 3, "pears": 5}


@flow
def json_results_flow():
    return inventory()


if __name__ == "__main__":
    print(json_results_flow())
    stored = json.loads((STORE / "inventory.json").read_text())
    print("stored keys", sorted(stored))
