from prefect import flow, task


@task
def chatty():
    print("task print goes to the log")


@flow(log_prints=True)
def log_prints_flow():
    print("flow print goes to the log")
    chatty()


if __name__ == "__main__":
    print("before the flow")
    log_prints_flow()
    print("after the flow")
