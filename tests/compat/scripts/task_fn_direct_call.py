from prefect import flow, task


@task
def plain(x):
    return x * 2


@flow
def fn_call_flow():
    print("fn bypasses the engine:", plain.fn(4))
    print("task call:", plain(4))


if __name__ == "__main__":
    fn_call_flow()
