import time

from prefect import flow, task
from prefect.futures import wait


@task
def nap(seconds):
    time.sleep(seconds)
    return seconds


@flow
def wait_flow():
    futures = [nap.submit(0.05), nap.submit(0.1)]
    done = wait(futures)
    print("done", len(done.done), "not done", len(done.not_done))
    print(sorted(f.result() for f in done.done))


if __name__ == "__main__":
    wait_flow()
