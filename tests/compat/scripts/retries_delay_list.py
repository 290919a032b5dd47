from prefect import flow, task

seen = []


@task(retries=2, retry_delay_seconds=[0, 0])
def wobbly(tag):
    seen.append(tag)
    if len(seen) < 3:
        raise OSError(f"wobble {len(seen)}")
    return len(seen)


@flow
def delay_list_flow():
    result = wobbly("x")
    print("calls", seen, "result", result)


if __name__ == "__main__":
    delay_list_flow()
