import tempfile
from pathlib import Path

from prefect import flow, task

STORE = Path(tempfile.mkdtemp(prefix="results-"))


@task(persist_result=True, result_storage=STORE, result_storage_key="total.pickle")
def total(values):
    return sum(values)


@flow
def local_results_flow():
    return total([1, 2, 3])


if __name__ == "__main__":
    print("total", local_results_flow())
    print("files", sorted(p.name for p in STORE.iterdir()))
