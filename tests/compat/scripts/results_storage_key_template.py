import tempfile
from pathlib import Path

from prefect import flow, task

STORE = Path(tempfile.mkdtemp(prefix="keys-"))


@task(persist_result=True, result_storage=STORE, result_storage_key="report-{parameters[city]}.bin")
def weather(city):
    return {"city": city, "temp": len(city)}


@flow
def keyed_results_flow():
    for city in ["oslo", "lima"]:
        weather(city)


if __name__ == "__main__":
    keyed_results_flow()
    print(sorted(p.name for p in STORE.iterdir()))
