import tempfile
from pathlib import Path

from prefect import flow, task

FOLDER = Path(tempfile.mkdtemp(prefix="flow-store-"))


@task(persist_result=True, result_storage_key="greeting.pickle")
def greeting(name):
    return f"hello {name}"


@flow(result_storage=FOLDER)
def flow_storage_flow():
    return greeting("ada")


if __name__ == "__main__":
    print(flow_storage_flow())
    print("task result stored:", (FOLDER / "greeting.pickle").exists())
    print("files in the folder:", len(list(FOLDER.iterdir())))
