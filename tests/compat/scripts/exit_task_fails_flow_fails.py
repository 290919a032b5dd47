from prefect import flow, task


@task
def checksum(data):
    raise OSError("checksum mismatch")


@flow
def task_fails_exit_flow():
    checksum(b"abc")


if __name__ == "__main__":
    state = task_fails_exit_flow(return_state=True)
    print("flow", state.type.value)
    print("message mentions task:", "checksum" in (state.message or ""))
