from prefect import flow, task

order = []


@task
def setup():
    order.append("setup")


@task
def work():
    order.append("work")
    return "worked"


@flow
def wait_for_flow():
    ready = setup.submit()
    result = work.submit(wait_for=[ready]).result()
    print(result, order)


if __name__ == "__main__":
    wait_for_flow()
