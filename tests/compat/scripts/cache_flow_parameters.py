from prefect import flow, task
from prefect.cache_policies import FLOW_PARAMETERS

bodies = []


@task(cache_policy=FLOW_PARAMETERS, persist_result=True)
def summarize(x):
    bodies.append(x)
    return f"summary of {x}"


@flow
def flow_params_cache(region: str = "north"):
    print(summarize(1))
    print(summarize(2))
    print("bodies", bodies)


if __name__ == "__main__":
    flow_params_cache("south")
