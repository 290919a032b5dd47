import asyncio

from prefect import flow, task


@task
async def fetch_number(n):
    await asyncio.sleep(0.01)
    return n + 1


@flow
async def async_pipeline():
    a = await fetch_number(1)
    b = await fetch_number(a)
    print("chain", a, b)
    return b


if __name__ == "__main__":
    print("result", asyncio.run(async_pipeline()))
