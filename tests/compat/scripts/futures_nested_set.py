from prefect import flow, task


@task
def letter(c):
    return c


@task
def join_sorted(letters):
    return "".join(sorted(letters))


@flow
def set_futures_flow():
    futures = {letter.submit(c) for c in "cab"}
    print(join_sorted(futures))


if __name__ == "__main__":
    set_futures_flow()
