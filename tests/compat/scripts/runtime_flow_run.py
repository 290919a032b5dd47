from prefect import flow, runtime, tags


@flow
def runtime_inspect_flow(x: int = 1, label: str = "a"):
    print("flow name:", runtime.flow_run.flow_name)
    print("parameters:", runtime.flow_run.parameters)
    print("run count:", runtime.flow_run.run_count)
    print("tags:", sorted(runtime.flow_run.tags))
    print("has id:", runtime.flow_run.id is not None)
    print("has scheduled time:", runtime.flow_run.scheduled_start_time is not None)


if __name__ == "__main__":
    with tags("nightly", "etl"):
        runtime_inspect_flow(5, label="b")
