from prefect import flow, task


@task
def maybe(n):
    if n == 2:
        raise ValueError("two is bad")
    return n


@flow
def returns_states_flow():
    states = [maybe(n, return_state=True) for n in [1, 2]]
    print("types", [s.type.value for s in states])
    return states


if __name__ == "__main__":
    final = returns_states_flow(return_state=True)
    print("final", final.type.value, final.message)
