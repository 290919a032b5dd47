from prefect import flow, task


@task
def double(x):
    return 2 * x


@flow
def submit_flow():
    futures = [double.submit(i) for i in range(4)]
    print("results", [f.result() for f in futures])


if __name__ == "__main__":
    submit_flow()
