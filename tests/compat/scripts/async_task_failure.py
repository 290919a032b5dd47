import asyncio

from prefect import flow, task


@task(retries=1, retry_delay_seconds=0)
async def unstable():
    raise TimeoutError("slow upstream")


@flow
async def async_failure_flow():
    state = await unstable(return_state=True)
    print("task state", state.type.value)
    return "ok"


if __name__ == "__main__":
    print(asyncio.run(async_failure_flow()))
