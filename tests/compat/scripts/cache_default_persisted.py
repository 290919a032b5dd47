from prefect import flow, task

calls = []


@task(persist_result=True)
def enrich(record_id):
    calls.append(record_id)
    return {"id": record_id, "score": record_id * 3}


@flow
def default_policy_flow():
    print(enrich(7))
    print(enrich(7))
    print("enrich bodies", calls)


if __name__ == "__main__":
    default_policy_flow()
