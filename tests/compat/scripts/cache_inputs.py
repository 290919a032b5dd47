from prefect import flow, task
from prefect.cache_policies import INPUTS

executions = []


@task(cache_policy=INPUTS, persist_result=True)
def square(x):
    executions.append(x)
    return x * x


@flow
def cache_inputs_flow():
    a = square(4)
    b = square(4)
    c = square(5)
    print("results", a, b, c)
    print("executed for", executions)


if __name__ == "__main__":
    cache_inputs_flow()
