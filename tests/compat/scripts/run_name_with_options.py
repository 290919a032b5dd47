from prefect import flow, runtime, task


@task
def ping(host):
    print("task:", runtime.task_run.name)
    return host


@flow
def base_options_flow(env: str):
    ping.with_options(name="probe", task_run_name="probe {host}")("db")
    print("flow:", runtime.flow_run.name)


if __name__ == "__main__":
    renamed = base_options_flow.with_options(
        name="options_renamed_flow", flow_run_name="check {env}"
    )
    renamed("prod")
