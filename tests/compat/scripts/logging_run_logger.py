from prefect import flow, get_run_logger, task


@task
def noisy():
    get_run_logger().info("from the task")
    return 1


@flow
def logger_flow():
    logger = get_run_logger()
    logger.info("from the flow")
    logger.warning("a warning")
    print("printed to stdout")
    return noisy()


if __name__ == "__main__":
    print("value", logger_flow())
