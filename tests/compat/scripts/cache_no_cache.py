from prefect import flow, task
from prefect.cache_policies import NO_CACHE

counter = {"n": 0}


@task(cache_policy=NO_CACHE, persist_result=True)
def tick(x):
    counter["n"] += 1
    return counter["n"]


@flow
def no_cache_flow():
    print("ticks", tick(1), tick(1), tick(1))


if __name__ == "__main__":
    no_cache_flow()
