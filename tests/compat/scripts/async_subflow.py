import asyncio

from prefect import flow


@flow
async def async_child(n: int):
    return n * 3


@flow
async def async_parent():
    values = await asyncio.gather(async_child(1), async_child(2))
    print("children returned", values)


if __name__ == "__main__":
    asyncio.run(async_parent())
