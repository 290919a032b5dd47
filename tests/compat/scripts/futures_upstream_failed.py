from prefect import flow, task


@task
def source():
    raise RuntimeError("source down")


@task
def sink(value):
    print("sink should not run")
    return value


@flow
def upstream_failed_flow():
    upstream = source.submit()
    downstream = sink.submit(upstream)
    downstream.wait()
    print("downstream", downstream.state.type.value, downstream.state.name)


if __name__ == "__main__":
    final = upstream_failed_flow(return_state=True)
    print("flow", final.type.value)
