from prefect import flow, task


@task(log_prints=False)
def quiet_task():
    print("task prints to stdout")


@flow(log_prints=True)
def mixed_prints_flow():
    quiet_task()


if __name__ == "__main__":
    mixed_prints_flow()
