from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

calls = []


@task(cache_policy=(INPUTS + TASK_SOURCE) - "note", persist_result=True)
def convert(amount, note):
    calls.append(note)
    return amount * 2


@flow
def compose_policy_flow():
    print(convert(10, note="first"))
    print(convert(10, note="second"))
    print(convert(11, note="third"))
    print("notes that ran", calls)


if __name__ == "__main__":
    compose_policy_flow()
