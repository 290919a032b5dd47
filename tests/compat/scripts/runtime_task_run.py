from prefect import flow, runtime, task


@task(retries=1, retry_delay_seconds=0, tags=["io"])
def counting():
    count = runtime.task_run.run_count
    print("task run count", count, "tags", sorted(runtime.task_run.tags))
    if count == 1:
        raise RuntimeError("first try fails")
    return count


@flow
def runtime_task_flow():
    print("flow sees task_run.id:", runtime.task_run.id)
    return counting()


if __name__ == "__main__":
    print("result", runtime_task_flow())
