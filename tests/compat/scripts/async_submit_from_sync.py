import asyncio

from prefect import flow, task


@task
async def remote_value(x):
    await asyncio.sleep(0)
    return x * 7


@flow
def sync_flow_async_tasks():
    futures = [remote_value.submit(x) for x in [1, 2]]
    print([f.result() for f in futures])


if __name__ == "__main__":
    sync_flow_async_tasks()
