from prefect import flow, task

attempts = {"n": 0}


@task(retries=3, retry_delay_seconds=0)
def flaky_download():
    attempts["n"] += 1
    print(f"download attempt {attempts['n']}")
    if attempts["n"] < 3:
        raise ConnectionError("network hiccup")
    return "payload"


@flow
def download_with_retries():
    data = flaky_download()
    print(f"got {data}")
    return data


if __name__ == "__main__":
    print("returned", download_with_retries())
