from prefect import allow_failure, flow, task


@task
def fragile():
    raise ValueError("fragile broke")


@task
def cleanup(upstream):
    return "cleaned up"


@flow
def allow_failure_flow():
    broken = fragile.submit()
    print(cleanup(allow_failure(broken)))
    return "done"


if __name__ == "__main__":
    state = allow_failure_flow(return_state=True)
    print("flow", state.type.value)
