from prefect import flow, task


@task
def number(n):
    return n


@task
def describe(payload):
    return f"{payload['first']} + {payload['rest'][0]} + {payload['pair'][1]}"


@flow
def nested_containers_flow():
    a = number.submit(1)
    b = number.submit(2)
    c = number.submit(3)
    print(describe({"first": a, "rest": [b], "pair": ("x", c)}))


if __name__ == "__main__":
    nested_containers_flow()
