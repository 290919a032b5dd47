from typing import Any

from prefect import flow, task
from pydantic import BaseModel


class Batch(BaseModel):
    size: Any
    owner: Any


@task
def compute_size():
    return 12


@task
def who():
    return "team-a"


@task
def announce(batch):
    return f"batch of {batch.size} for {batch.owner}"


@flow
def pydantic_futures_flow():
    print(announce(Batch(size=compute_size.submit(), owner=who.submit())))


if __name__ == "__main__":
    pydantic_futures_flow()
