from prefect import flow, task
from prefect.cache_policies import TASK_SOURCE

ran = []


@task(cache_policy=TASK_SOURCE, persist_result=True)
def constant_work(x):
    ran.append(x)
    return x + 100


@flow
def cache_source_flow():
    first = constant_work(1)
    second = constant_work(2)
    print("first", first, "second", second)
    print("bodies run", len(ran))


if __name__ == "__main__":
    cache_source_flow()
