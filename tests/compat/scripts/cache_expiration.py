from datetime import timedelta

from prefect import flow, task
from prefect.cache_policies import INPUTS

hits = []


@task(cache_policy=INPUTS, cache_expiration=timedelta(hours=1), persist_result=True)
def slow_lookup(key):
    hits.append(key)
    return key.upper()


@flow
def expiration_flow():
    print(slow_lookup("abc"), slow_lookup("abc"))
    print("looked up", len(hits), "time(s)")


if __name__ == "__main__":
    expiration_flow()
