import asyncio

from prefect import flow


@flow
async def async_failing_flow():
    raise LookupError("missing key")


if __name__ == "__main__":
    state = asyncio.run(async_failing_flow(return_state=True))
    print(state.type.value, state.name)
