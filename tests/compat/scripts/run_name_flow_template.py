from prefect import flow, runtime


@flow(flow_run_name="report-for-{day}")
def daily_report(day: str):
    print("running as", runtime.flow_run.name)
    return day


if __name__ == "__main__":
    daily_report("monday")
