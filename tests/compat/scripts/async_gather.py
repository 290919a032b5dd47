import asyncio

from prefect import flow, task


@task
async def download(i):
    await asyncio.sleep(0.01 * (3 - i))
    return f"file{i}"


@flow
async def gather_flow():
    files = await asyncio.gather(*[download(i) for i in range(3)])
    print(files)


if __name__ == "__main__":
    asyncio.run(gather_flow())
