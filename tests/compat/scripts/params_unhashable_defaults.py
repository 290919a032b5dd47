from prefect import flow, runtime


@flow
def defaults_flow(items: list | None = None, limit: int = 10, *, mode: str = "fast"):
    print("items", items, "limit", limit, "mode", mode)
    print("stored parameters", runtime.flow_run.parameters)


if __name__ == "__main__":
    defaults_flow(mode="slow")
