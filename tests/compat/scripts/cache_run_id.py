from prefect import flow, task
from prefect.cache_policies import RUN_ID

made = []


@task(cache_policy=RUN_ID, persist_result=True)
def make_token(label):
    made.append(label)
    return f"token-{len(made)}"


@flow
def run_id_cache_flow():
    print(make_token("a"), make_token("b"))
    print("made", made)


if __name__ == "__main__":
    run_id_cache_flow()
