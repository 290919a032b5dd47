from prefect import flow, task
from prefect.cache_policies import INPUTS

runs = []


@task(cache_policy=INPUTS, persist_result=True)
def fetch_rate(currency):
    runs.append(currency)
    return len(runs)


@flow
def refresh_flow():
    first = fetch_rate("eur")
    refreshed = fetch_rate.with_options(refresh_cache=True)("eur")
    again = fetch_rate("eur")
    print("first", first, "refreshed", refreshed, "again", again)


if __name__ == "__main__":
    refresh_flow()
