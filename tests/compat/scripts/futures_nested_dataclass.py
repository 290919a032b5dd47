from dataclasses import dataclass
from typing import Any

from prefect import flow, task


@dataclass
class Order:
    item: Any
    quantity: Any


@task
def lookup(name):
    return name.title()


@task
def count():
    return 4


@task
def place(order):
    return f"{order.quantity} x {order.item}"


@flow
def dataclass_futures_flow():
    order = Order(item=lookup.submit("widget"), quantity=count.submit())
    print(place(order))


if __name__ == "__main__":
    dataclass_futures_flow()
