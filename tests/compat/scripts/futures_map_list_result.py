from prefect import flow, task


@task
def label(name, index):
    return f"{index}:{name}"


@flow
def map_list_flow():
    futures = label.map(["x", "y", "z"], [0, 1, 2])
    print("count", len(futures))
    print(futures.result())
    futures.wait()
    print("states", [f.state.name for f in futures])


if __name__ == "__main__":
    map_list_flow()
