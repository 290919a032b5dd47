from prefect import flow, task

computed = []


def parity_key(context, parameters):
    return "parity-" + str(parameters["n"] % 2)


@task(cache_key_fn=parity_key, persist_result=True)
def describe(n):
    computed.append(n)
    return "even" if n % 2 == 0 else "odd"


@flow
def cache_key_fn_flow():
    answers = [describe(n) for n in [2, 4, 3, 5]]
    print("answers", answers)
    print("computed", computed)


if __name__ == "__main__":
    cache_key_fn_flow()
