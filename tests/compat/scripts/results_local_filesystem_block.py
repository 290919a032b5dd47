import tempfile
from pathlib import Path

from prefect import flow, task
from prefect.filesystems import LocalFileSystem

FOLDER = Path(tempfile.mkdtemp(prefix="lfs-"))


@task(persist_result=True, result_storage_key="greeting.pickle")
def greeting(name):
    return f"hello {name}"


@flow(result_storage=LocalFileSystem(basepath=str(FOLDER)))
def block_storage_flow():
    return greeting("ada")


if __name__ == "__main__":
    print(block_storage_flow())
    print("stored", sorted(p.name for p in FOLDER.iterdir()))
